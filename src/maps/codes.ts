/**
 * Verdict and drop codes returned by the maps and the datapath, and the one table that turns them
 * into text.
 *
 * Mirrors: bpf/lib/drop_reasons.h (formerly in bpf/lib/common.h: the DROP_* numbers),
 * pkg/monitor/api/drop.go (the `errors` text table printed by `cilium monitor` and Hubble's
 * compact output), api/v1/flow/flow.proto (`enum DropReason`: Hubble JSON prints
 * `drop_reason_desc` as this enum's name) and bpf/lib/policy.h / pkg/monitor/api/types.go
 * (policy match types and their names).
 *
 * A verdict is one integer, as in bpf/lib/policy.h (`policy_can_ingress`):
 *   - negative: a DROP_* code (drop reason = -code);
 *   - 0: CTX_ACT_OK, allowed by L3/L4 policy;
 *   - positive: the proxy port to redirect to (the L7 proxy decides).
 *
 * Deliberate differences: none in the numbers. The text table stops at the codes whose text was
 * checked against Cilium's drop.go (0..198); later codes print as their number, as drop.go does
 * for a reason it does not know.
 */

/** CTX_ACT_OK (TC_ACT_OK): the packet continues. */
export const CTX_ACT_OK = 0;

// bpf/lib/drop_reasons.h. "Must NOT overlap with TC return codes"; reason = -(DROP_*).
export const DROP_INVALID_SIP = -132;
export const DROP_POLICY = -133;
export const DROP_INVALID = -134;
export const DROP_CT_INVALID_HDR = -135;
export const DROP_FRAG_NEEDED = -136;
export const DROP_CT_UNKNOWN_PROTO = -137;
export const DROP_UNKNOWN_L3 = -139;
export const DROP_MISSED_TAIL_CALL = -140;
export const DROP_WRITE_ERROR = -141;
export const DROP_UNKNOWN_L4 = -142;
export const DROP_UNKNOWN_ICMP4_CODE = -143;
export const DROP_UNKNOWN_ICMP4_TYPE = -144;
export const DROP_UNKNOWN_ICMP6_CODE = -145;
export const DROP_UNKNOWN_ICMP6_TYPE = -146;
export const DROP_NO_TUNNEL_KEY = -147;
export const DROP_UNKNOWN_TARGET = -150;
export const DROP_UNROUTABLE = -151;
export const DROP_CSUM_L3 = -153;
export const DROP_CSUM_L4 = -154;
export const DROP_CT_CREATE_FAILED = -155;
export const DROP_INVALID_EXTHDR = -156;
export const DROP_FRAG_NOSUPPORT = -157;
export const DROP_NO_SERVICE = -158;
export const DROP_UNSUPP_SERVICE_PROTO = -159;
export const DROP_NO_TUNNEL_ENDPOINT = -160;
export const DROP_NAT_46X64_DISABLED = -161;
export const DROP_EDT_HORIZON = -162;
export const DROP_UNKNOWN_CT = -163;
export const DROP_HOST_UNREACHABLE = -164;
export const DROP_NO_CONFIG = -165;
export const DROP_UNSUPPORTED_L2 = -166;
export const DROP_NAT_NO_MAPPING = -167;
export const DROP_NAT_UNSUPP_PROTO = -168;
export const DROP_NO_FIB = -169;
export const DROP_ENCAP_PROHIBITED = -170;
export const DROP_INVALID_IDENTITY = -171;
export const DROP_UNKNOWN_SENDER = -172;
export const DROP_NAT_NOT_NEEDED = -173;
export const DROP_IS_CLUSTER_IP = -174;
export const DROP_FRAG_NOT_FOUND = -175;
export const DROP_FORBIDDEN_ICMP6 = -176;
export const DROP_NOT_IN_SRC_RANGE = -177;
export const DROP_PROXY_LOOKUP_FAILED = -178;
export const DROP_PROXY_SET_FAILED = -179;
export const DROP_PROXY_UNKNOWN_PROTO = -180;
export const DROP_POLICY_DENY = -181;
export const DROP_VLAN_FILTERED = -182;
export const DROP_INVALID_VNI = -183;
export const DROP_INVALID_TC_BUFFER = -184;
export const DROP_NO_SID = -185;
/** Named in older common.h; DROP_UNUSED8 in newer drop_reasons.h, kept for its text. */
export const DROP_MISSING_SRV6_STATE = -186;
export const DROP_NAT46 = -187;
export const DROP_NAT64 = -188;
export const DROP_POLICY_AUTH_REQUIRED = -189;
export const DROP_CT_NO_MAP_FOUND = -190;
export const DROP_SNAT_NO_MAP_FOUND = -191;
export const DROP_INVALID_CLUSTER_ID = -192;
export const DROP_DSR_ENCAP_UNSUPP_PROTO = -193;
export const DROP_NO_EGRESS_GATEWAY = -194;
export const DROP_UNENCRYPTED_TRAFFIC = -195;
export const DROP_TTL_EXCEEDED = -196;
export const DROP_NO_NODE_ID = -197;
export const DROP_RATE_LIMITED = -198;
export const DROP_IGMP_HANDLED = -199;
export const DROP_IGMP_SUBSCRIBED = -200;
export const DROP_MULTICAST_HANDLED = -201;
export const DROP_HOST_NOT_READY = -202;
export const DROP_EP_NOT_READY = -203;
export const DROP_NO_EGRESS_IP = -204;
export const DROP_PUNT_PROXY = -205;
export const DROP_NO_DEVICE = -206;

/** True for a drop verdict (IS_ERR in bpf/lib/common.h, for our integer verdicts). */
export function isDrop(verdict: number): boolean {
  return verdict < 0;
}

/** The positive drop reason of a verdict or code (`-DROP_POLICY` = 133); accepts either sign. */
export function dropReason(code: number): number {
  return code < 0 ? -code : code;
}

/**
 * pkg/monitor/api/drop.go `errors`: reason (positive) -> text, as `cilium monitor` and Hubble's
 * compact output print it. Checked against drop.go up to 198.
 */
export const DROP_REASON_TEXT: ReadonlyMap<number, string> = new Map<number, string>([
  [0, 'Success'],
  [2, 'Invalid packet'],
  [130, 'Invalid source mac'],
  [131, 'Invalid destination mac'],
  [132, 'Invalid source ip'],
  [133, 'Policy denied'],
  [134, 'Invalid packet'],
  [135, 'CT: Truncated or invalid header'],
  [136, 'Fragmentation needed'],
  [137, 'CT: Unknown L4 protocol'],
  [138, "CT: Can't create entry from packet"],
  [139, 'Unsupported L3 protocol'],
  [140, 'Missed tail call'],
  [141, 'Error writing to packet'],
  [142, 'Unknown L4 protocol'],
  [143, 'Unknown ICMPv4 code'],
  [144, 'Unknown ICMPv4 type'],
  [145, 'Unknown ICMPv6 code'],
  [146, 'Unknown ICMPv6 type'],
  [147, 'Error retrieving tunnel key'],
  [148, 'Error retrieving tunnel options'],
  [149, 'Invalid Geneve option'],
  [150, 'Unknown L3 target address'],
  [151, 'Stale or unroutable IP'],
  [152, 'No matching local container found'],
  [153, 'Error while correcting L3 checksum'],
  [154, 'Error while correcting L4 checksum'],
  [155, 'CT: Map insertion failed'],
  [156, 'Invalid IPv6 extension header'],
  [157, 'IP fragmentation not supported'],
  [158, 'Service backend not found'],
  [160, 'No tunnel/encapsulation endpoint (datapath BUG!)'],
  [161, 'NAT 46/64 not enabled'],
  [162, 'Reached EDT rate-limiting drop horizon'],
  [163, 'Unknown connection tracking state'],
  [164, 'Local host is unreachable'],
  [165, 'No configuration available to perform policy decision'],
  [166, 'Unsupported L2 protocol'],
  [167, 'No mapping for NAT masquerade'],
  [168, 'Unsupported protocol for NAT masquerade'],
  [169, 'FIB lookup failed'],
  [170, 'Encapsulation traffic is prohibited'],
  [171, 'Invalid identity'],
  [172, 'Unknown sender'],
  [173, 'NAT not needed'],
  [174, 'Is a ClusterIP'],
  [175, 'First logical datagram fragment not found'],
  [176, 'Forbidden ICMPv6 message'],
  [177, 'Denied by LB src range check'],
  [178, 'Socket lookup failed'],
  [179, 'Socket assign failed'],
  [180, 'Proxy redirection not supported for protocol'],
  [181, 'Policy denied by denylist'],
  [182, 'VLAN traffic disallowed by VLAN filter'],
  [183, 'Incorrect VNI from VTEP'],
  [184, 'Failed to update or lookup TC buffer'],
  [185, 'No SID was found for the IP address'],
  [186, 'SRv6 state was removed during tail call'],
  [187, 'L3 translation from IPv4 to IPv6 failed (NAT46)'],
  [188, 'L3 translation from IPv6 to IPv4 failed (NAT64)'],
  [189, 'Authentication required'],
  [190, 'No conntrack map found'],
  [191, 'No nat map found'],
  [192, 'Invalid ClusterID'],
  [193, 'Unsupported packet protocol for DSR encapsulation'],
  [194, 'No egress gateway found'],
  [195, 'Traffic is unencrypted'],
  [196, 'TTL exceeded'],
  [197, 'No node ID found'],
  [198, 'Rate limited'],
]);

/** drop.go `DropReason`: the text, or the number when drop.go has none. Accepts either sign. */
export function dropReasonText(code: number): string {
  const reason = dropReason(code);
  return DROP_REASON_TEXT.get(reason) ?? String(reason);
}

/**
 * api/v1/flow/flow.proto `enum DropReason`: reason -> enum name. Hubble's JSON output
 * (`hubble observe -o json`) prints `drop_reason_desc` as this name, e.g. "POLICY_DENIED".
 */
export const DROP_REASON_NAME: ReadonlyMap<number, string> = new Map<number, string>([
  [0, 'DROP_REASON_UNKNOWN'],
  [130, 'INVALID_SOURCE_MAC'],
  [131, 'INVALID_DESTINATION_MAC'],
  [132, 'INVALID_SOURCE_IP'],
  [133, 'POLICY_DENIED'],
  [134, 'INVALID_PACKET_DROPPED'],
  [135, 'CT_TRUNCATED_OR_INVALID_HEADER'],
  [136, 'CT_MISSING_TCP_ACK_FLAG'],
  [137, 'CT_UNKNOWN_L4_PROTOCOL'],
  [138, 'CT_CANNOT_CREATE_ENTRY_FROM_PACKET'],
  [139, 'UNSUPPORTED_L3_PROTOCOL'],
  [140, 'MISSED_TAIL_CALL'],
  [141, 'ERROR_WRITING_TO_PACKET'],
  [142, 'UNKNOWN_L4_PROTOCOL'],
  [143, 'UNKNOWN_ICMPV4_CODE'],
  [144, 'UNKNOWN_ICMPV4_TYPE'],
  [145, 'UNKNOWN_ICMPV6_CODE'],
  [146, 'UNKNOWN_ICMPV6_TYPE'],
  [147, 'ERROR_RETRIEVING_TUNNEL_KEY'],
  [148, 'ERROR_RETRIEVING_TUNNEL_OPTIONS'],
  [149, 'INVALID_GENEVE_OPTION'],
  [150, 'UNKNOWN_L3_TARGET_ADDRESS'],
  [151, 'STALE_OR_UNROUTABLE_IP'],
  [152, 'NO_MATCHING_LOCAL_CONTAINER_FOUND'],
  [153, 'ERROR_WHILE_CORRECTING_L3_CHECKSUM'],
  [154, 'ERROR_WHILE_CORRECTING_L4_CHECKSUM'],
  [155, 'CT_MAP_INSERTION_FAILED'],
  [156, 'INVALID_IPV6_EXTENSION_HEADER'],
  [157, 'IP_FRAGMENTATION_NOT_SUPPORTED'],
  [158, 'SERVICE_BACKEND_NOT_FOUND'],
  [160, 'NO_TUNNEL_OR_ENCAPSULATION_ENDPOINT'],
  [161, 'FAILED_TO_INSERT_INTO_PROXYMAP'],
  [162, 'REACHED_EDT_RATE_LIMITING_DROP_HORIZON'],
  [163, 'UNKNOWN_CONNECTION_TRACKING_STATE'],
  [164, 'LOCAL_HOST_IS_UNREACHABLE'],
  [165, 'NO_CONFIGURATION_AVAILABLE_TO_PERFORM_POLICY_DECISION'],
  [166, 'UNSUPPORTED_L2_PROTOCOL'],
  [167, 'NO_MAPPING_FOR_NAT_MASQUERADE'],
  [168, 'UNSUPPORTED_PROTOCOL_FOR_NAT_MASQUERADE'],
  [169, 'FIB_LOOKUP_FAILED'],
  [170, 'ENCAPSULATION_TRAFFIC_IS_PROHIBITED'],
  [171, 'INVALID_IDENTITY'],
  [172, 'UNKNOWN_SENDER'],
  [173, 'NAT_NOT_NEEDED'],
  [174, 'IS_A_CLUSTERIP'],
  [175, 'FIRST_LOGICAL_DATAGRAM_FRAGMENT_NOT_FOUND'],
  [176, 'FORBIDDEN_ICMPV6_MESSAGE'],
  [177, 'DENIED_BY_LB_SRC_RANGE_CHECK'],
  [178, 'SOCKET_LOOKUP_FAILED'],
  [179, 'SOCKET_ASSIGN_FAILED'],
  [180, 'PROXY_REDIRECTION_NOT_SUPPORTED_FOR_PROTOCOL'],
  [181, 'POLICY_DENY'],
  [182, 'VLAN_FILTERED'],
  [183, 'INVALID_VNI'],
  [184, 'INVALID_TC_BUFFER'],
  [185, 'NO_SID'],
  [186, 'MISSING_SRV6_STATE'],
  [187, 'NAT46'],
  [188, 'NAT64'],
  [189, 'AUTH_REQUIRED'],
  [190, 'CT_NO_MAP_FOUND'],
  [191, 'SNAT_NO_MAP_FOUND'],
  [192, 'INVALID_CLUSTER_ID'],
  [193, 'UNSUPPORTED_PROTOCOL_FOR_DSR_ENCAP'],
  [194, 'NO_EGRESS_GATEWAY'],
  [196, 'TTL_EXCEEDED'],
  [197, 'NO_NODE_ID'],
  [202, 'DROP_HOST_NOT_READY'],
  [203, 'DROP_EP_NOT_READY'],
]);

/**
 * The flow.proto enum name of a drop code (either sign), or undefined when the enum has none
 * (protojson then prints the number; the flow printer decides).
 */
export function dropReasonName(code: number): string | undefined {
  return DROP_REASON_NAME.get(dropReason(code));
}

// bpf/lib/policy.h: match types carried in policy-verdict notifications (Flow.policy_match_type).
export const POLICY_MATCH_NONE = 0;
export const POLICY_MATCH_L3_ONLY = 1;
export const POLICY_MATCH_L3_L4 = 2;
export const POLICY_MATCH_L4_ONLY = 3;
export const POLICY_MATCH_ALL = 4;
export const POLICY_MATCH_L3_PROTO = 5;
export const POLICY_MATCH_PROTO_ONLY = 6;

/** pkg/monitor/api/types.go `PolicyMatchType.String()`, indexed by match type. */
export const POLICY_MATCH_TYPE_NAME: readonly string[] = ['none', 'L3-Only', 'L3-L4', 'L4-Only', 'all', 'L3-Proto', 'Proto-Only'];

/** The name `hubble observe` prints after `policy-verdict:`; "unknown" as Cilium prints it. */
export function policyMatchTypeName(matchType: number): string {
  return POLICY_MATCH_TYPE_NAME[matchType] ?? 'unknown';
}

/** pkg/policy/types auth types (flow.proto `AuthType`): the policy entry's 7-bit auth_type. */
export const AuthType = { DISABLED: 0, SPIRE: 1, TEST_ALWAYS_FAIL: 2 } as const;
