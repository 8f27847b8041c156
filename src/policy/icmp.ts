/**
 * ICMP rules: `icmps: [{fields: [{family, type}]}]`, each item one port rule whose "ports" are
 * ICMP types (the policy map keeps the type in the port field, protocol 1 or 58).
 *
 * Mirrors: pkg/policy/api/icmp.go (icmpIpv4TypeNameToCode, icmpIpv6TypeNameToCode,
 * ICMPField.UnmarshalJSON: a name must belong to the field's family; PortProtocol).
 * Family defaults to IPv4 (the CRD's `default: IPv4`); at most 40 fields per rule
 * (rule_validation.go maxICMPFields).
 */
import type { Field } from '../k8s/yaml-node.js';
import type { PortRule, PortSpec } from './types.js';

export const ICMPV4_TYPES: Readonly<Record<string, number>> = {
  EchoReply: 0,
  DestinationUnreachable: 3,
  Redirect: 5,
  Echo: 8,
  EchoRequest: 8,
  RouterAdvertisement: 9,
  RouterSelection: 10,
  TimeExceeded: 11,
  ParameterProblem: 12,
  Timestamp: 13,
  TimestampReply: 14,
  Photuris: 40,
  ExtendedEchoRequest: 42,
  ExtendedEchoReply: 43,
};

export const ICMPV6_TYPES: Readonly<Record<string, number>> = {
  DestinationUnreachable: 1,
  PacketTooBig: 2,
  TimeExceeded: 3,
  ParameterProblem: 4,
  EchoRequest: 128,
  EchoReply: 129,
  MulticastListenerQuery: 130,
  MulticastListenerReport: 131,
  MulticastListenerDone: 132,
  RouterSolicitation: 133,
  RouterAdvertisement: 134,
  NeighborSolicitation: 135,
  NeighborAdvertisement: 136,
  RedirectMessage: 137,
  RouterRenumbering: 138,
  ICMPNodeInformationQuery: 139,
  ICMPNodeInformationResponse: 140,
  InverseNeighborDiscoverySolicitation: 141,
  InverseNeighborDiscoveryAdvertisement: 142,
  HomeAgentAddressDiscoveryRequest: 144,
  HomeAgentAddressDiscoveryReply: 145,
  MobilePrefixSolicitation: 146,
  MobilePrefixAdvertisement: 147,
  DuplicateAddressRequestCodeSuffix: 157,
  DuplicateAddressConfirmationCodeSuffix: 158,
  ExtendedEchoRequest: 160,
  ExtendedEchoReply: 161,
};

const MAX_ICMP_FIELDS = 40;

/** One `fields` entry -> a port spec with protocol ICMP/ICMPv6 and the type number as port. */
export function parseIcmpField(f: Field): PortSpec {
  const m = f.map();
  m.allowOnly(['family', 'type']);
  const famField: Field = m.get('family');
  const family = famField.optString() ?? 'IPv4';
  if (family !== 'IPv4' && family !== 'IPv6') famField.fail(`unsupported family ${JSON.stringify(family)} (IPv4 or IPv6)`);
  const typeField: Field = m.get('type').required();
  const v = typeField.scalar();
  let type: number;
  if (typeof v === 'number') {
    type = typeField.int(0, 255);
  } else if (typeof v === 'string' && /^\d+$/.test(v)) {
    type = Number(v);
    if (type > 255) typeField.fail(`ICMP type ${type} is out of range 0..255`);
  } else if (typeof v === 'string') {
    const table = family === 'IPv6' ? ICMPV6_TYPES : ICMPV4_TYPES;
    const code = table[v];
    if (code === undefined) {
      const other = family === 'IPv6' ? ICMPV4_TYPES : ICMPV6_TYPES;
      const hint = other[v] !== undefined ? ` (it is an ${family === 'IPv6' ? 'IPv4' : 'IPv6'} type; set family)` : '';
      typeField.fail(`ICMP type ${v} not found in ${family}${hint}`);
    }
    type = code;
  } else {
    typeField.fail('must be an ICMP type number (0-255) or name, e.g. EchoRequest');
  }
  return { protocol: family === 'IPv6' ? 'ICMPv6' : 'ICMP', port: type };
}

/** One `icmps` item -> one port rule. */
export function parseIcmpRule(f: Field): PortRule {
  const m = f.map();
  m.allowOnly(['fields']);
  const fields = m.get('fields').optList() ?? [];
  if (fields.length > MAX_ICMP_FIELDS) m.get('fields').fail(`too many types, the max is ${MAX_ICMP_FIELDS}`);
  return { ports: fields.map(parseIcmpField), position: f.position() };
}
