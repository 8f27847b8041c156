/**
 * toPorts / icmps -> the protocol/port part of policy-map keys.
 *
 * Mirrors: pkg/policy/l4.go and rule.go (ANY with a port means TCP and UDP), pkg/policy/types (port ranges split into masked prefixes:
 * PortRangeToMaskedPorts), pkg/policy/api/icmp.go (the ICMP type is the port, protocol 1 or 58),
 * pkg/policy/l4.go named ports (resolved per destination: the subject's own container ports
 * on ingress, the selected peers' ports on egress).
 */
import { portRangeToMaskedPorts } from '../maps/policy-map.js';
import type { NamedPort } from '../k8s/types.js';
import type { PortProtocol, PortRule, PortSpec } from '../policy/types.js';

export const PROTO_NUMBER: Readonly<Record<PortProtocol, number>> = {
  ANY: 0,
  ICMP: 1,
  TCP: 6,
  UDP: 17,
  ICMPv6: 58,
  SCTP: 132,
};

/**
 * The transport protocols `ANY` stands for when a port is given: TCP and UDP (pkg/policy/rule.go
 * adds SCTP only with --enable-sctp, which is off by default and not modelled here).
 */
const ANY_WITH_PORT = [6, 17];

export interface PortKey {
  protocol: number;
  port: number;
  prefixLen: number;
  /** The range this key came from (inclusive), for L7 records and display. */
  rangeStart: number;
  rangeEnd: number;
}

export const ALL_PORTS_KEY: PortKey = { protocol: 0, port: 0, prefixLen: 0, rangeStart: 0, rangeEnd: 65535 };

/** Looks up a named port: the numbers (with protocol) that endpoints give this name. */
export type NamedPortResolver = (name: string) => NamedPort[];

function keysForRange(protocol: number, start: number, end: number): PortKey[] {
  if (start === 0 && (end === 0 || end === 65535)) {
    return [{ protocol, port: 0, prefixLen: 8, rangeStart: 0, rangeEnd: 65535 }];
  }
  return portRangeToMaskedPorts(start, end).map((m) => ({
    protocol,
    port: m.port,
    prefixLen: m.prefixLen,
    rangeStart: start,
    rangeEnd: end,
  }));
}

/** Keys of one port spec; named ports go through `resolveNamed`. */
export function keysForPortSpec(spec: PortSpec, resolveNamed: NamedPortResolver): PortKey[] {
  const proto = PROTO_NUMBER[spec.protocol];
  if (typeof spec.port === 'string') {
    const out: PortKey[] = [];
    for (const np of resolveNamed(spec.port)) {
      const npProto = PROTO_NUMBER[np.protocol];
      if (proto !== 0 && proto !== npProto) continue;
      out.push(...keysForRange(npProto, np.port, np.port));
    }
    return out;
  }
  const start = spec.port;
  const end = spec.endPort ?? spec.port;
  if (proto === 0) {
    if (start === 0) return [ALL_PORTS_KEY];
    return ANY_WITH_PORT.flatMap((p) => keysForRange(p, start, end));
  }
  return keysForRange(proto, start, end);
}

export interface ExpandedPort {
  key: PortKey;
  /** The toPorts entry (L7 rules live there); undefined for "all ports". */
  portRule: PortRule | undefined;
}

/** All keys of a rule's toPorts; an empty list is every protocol and port. */
export function expandPortRules(portRules: PortRule[], resolveNamed: NamedPortResolver): ExpandedPort[] {
  if (portRules.length === 0) return [{ key: ALL_PORTS_KEY, portRule: undefined }];
  const out: ExpandedPort[] = [];
  for (const pr of portRules) {
    if (pr.ports.length === 0) {
      out.push({ key: ALL_PORTS_KEY, portRule: pr });
      continue;
    }
    for (const spec of pr.ports) for (const key of keysForPortSpec(spec, resolveNamed)) out.push({ key, portRule: pr });
  }
  return out;
}

/** Which L7 parser a toPorts entry redirects to, if any. */
export function l7ParserOf(portRule: PortRule | undefined): 'http' | 'dns' | 'kafka' | undefined {
  const l7 = portRule?.l7;
  if (!l7) return undefined;
  // pkg/policy/l4.go: an empty rule list (`dns: []`) is no L7 policy, just an L4 allow.
  if (l7.http && l7.http.length > 0) return 'http';
  if (l7.dns && l7.dns.length > 0) return 'dns';
  if (l7.kafka && l7.kafka.length > 0) return 'kafka';
  return undefined;
}
