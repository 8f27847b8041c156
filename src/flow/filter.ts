/**
 * `hubble observe` filters over the datapath's events, compiled once into a predicate.
 *
 * Mirrors: hubble/cmd/observe/flows_filter.go (how flags become flow.proto FlowFilters: `--pod`
 * and `--ip` and `--port` fill the source side of one filter and the destination side of a second
 * one, and the result is `left OR right`; `--from-*` / `--to-*` fill one side of both; every
 * `--namespace` turns each side's pod filter `name` into `ns/name`, or adds `ns/` when the side has
 * none; the conflict groups, e.g. `--from-pod` with `--namespace`), pkg/hubble/k8s
 * (`ParseNamespaceName`: a pod without a namespace is in `default`), pkg/hubble/filters (a field
 * holds alternatives, OR; a filter's fields all hold, AND; pod filters are name prefixes within an
 * exact namespace and never match a side that is no pod; IP filters take an address or a CIDR;
 * ports compare TCP, UDP and SCTP ports; `--protocol icmp` is ICMPv4 or ICMPv6; `--type
 * trace:to-proxy` matches the monitor sub-type).
 *
 * Hot path: the predicate reads numbers only. Pod and namespace filters become one byte per
 * document endpoint, addresses are compared as words, verdicts and event types as integers.
 */
import type { Command } from 'commander';
import { EventKind, VERDICT_NAMES, type FlowEvent } from '../datapath/events.js';
import { IpProto } from '../decode/packet.js';
import { UsageError } from '../errors.js';
import { cidrContains, parseCidr, type Cidr } from '../net/addr.js';
import type { FlowContext } from './context.js';
import { hubbleEventSubType, hubbleEventType, MESSAGE_TYPE_NAMES, MessageType, TRACE_POINT_NAMES } from './flow.js';

export type FlowPredicate = (ev: FlowEvent) => boolean;

/** The option values commander collects (every filter flag is repeatable). */
export interface FlowFilterOptions {
  verdict?: string[];
  type?: string[];
  namespace?: string[];
  fromNamespace?: string[];
  toNamespace?: string[];
  pod?: string[];
  fromPod?: string[];
  toPod?: string[];
  ip?: string[];
  fromIp?: string[];
  toIp?: string[];
  port?: string[];
  fromPort?: string[];
  toPort?: string[];
  protocol?: string[];
}

function collect(value: string, previous: string[] | undefined): string[] {
  return previous === undefined ? [value] : [...previous, value];
}

/** Adds the filter flags to a command (`hubcap replay`, later `hubcap live`). */
export function addFilterOptions(cmd: Command): Command {
  return cmd
    .option('--verdict <verdict>', 'only flows with this verdict: FORWARDED, DROPPED, AUDIT, REDIRECTED, TRANSLATED, ERROR (repeatable)', collect)
    .option('-t, --type <type>', 'only events of this type: trace, drop, policy-verdict, l7, trace-sock; TYPE:SUBTYPE as trace:to-proxy (repeatable)', collect)
    .option('--namespace <ns>', 'only flows from or to pods in this namespace (repeatable)', collect)
    .option('--from-namespace <ns>', 'only flows from pods in this namespace (repeatable)', collect)
    .option('--to-namespace <ns>', 'only flows to pods in this namespace (repeatable)', collect)
    .option('--pod <[ns/]name>', 'only flows from or to this pod, a name prefix; the namespace defaults to "default" (repeatable)', collect)
    .option('--from-pod <[ns/]name>', 'only flows from this pod (repeatable)', collect)
    .option('--to-pod <[ns/]name>', 'only flows to this pod (repeatable)', collect)
    .option('--ip <address|cidr>', 'only flows from or to this address or prefix (repeatable)', collect)
    .option('--from-ip <address|cidr>', 'only flows from this address or prefix (repeatable)', collect)
    .option('--to-ip <address|cidr>', 'only flows to this address or prefix (repeatable)', collect)
    .option('--port <port>', 'only flows with this TCP/UDP/SCTP port on either side (repeatable)', collect)
    .option('--from-port <port>', 'only flows with this source port (repeatable)', collect)
    .option('--to-port <port>', 'only flows with this destination port (repeatable)', collect)
    .option('--protocol <proto>', 'only flows of this protocol: tcp, udp, sctp, icmp, icmpv4, icmpv6, http, dns, kafka (repeatable)', collect);
}

// ---------------------------------------------------------------------------------------------
// Flags -> FlowFilters (flows_filter.go filterTracker)

interface EventTypeFilter {
  type: number;
  matchSubType: boolean;
  subType: number;
}

/** flow.proto FlowFilter, the fields hubcap has flags for. */
interface FlowFilterSpec {
  sourcePod: string[];
  destinationPod: string[];
  sourceIp: string[];
  destinationIp: string[];
  sourcePort: string[];
  destinationPort: string[];
  verdict: number[];
  eventType: EventTypeFilter[];
  protocol: string[];
}

function emptySpec(): FlowFilterSpec {
  return { sourcePod: [], destinationPod: [], sourceIp: [], destinationIp: [], sourcePort: [], destinationPort: [], verdict: [], eventType: [], protocol: [] };
}

/** flows_filter.go conflict groups, for the flags hubcap has. */
const CONFLICTS: readonly (readonly string[])[] = [
  ['from-ip', 'ip', 'from-namespace', 'namespace'],
  ['from-ip', 'ip', 'from-pod', 'pod'],
  ['to-ip', 'ip', 'to-namespace', 'namespace'],
  ['to-ip', 'ip', 'to-pod', 'pod'],
  ['to-pod', 'namespace'],
  ['from-pod', 'namespace'],
  ['port', 'to-port'],
  ['port', 'from-port'],
];

const FLAG_OF: ReadonlyArray<readonly [keyof FlowFilterOptions, string]> = [
  ['verdict', 'verdict'],
  ['type', 'type'],
  ['namespace', 'namespace'],
  ['fromNamespace', 'from-namespace'],
  ['toNamespace', 'to-namespace'],
  ['pod', 'pod'],
  ['fromPod', 'from-pod'],
  ['toPod', 'to-pod'],
  ['ip', 'ip'],
  ['fromIp', 'from-ip'],
  ['toIp', 'to-ip'],
  ['port', 'port'],
  ['fromPort', 'from-port'],
  ['toPort', 'to-port'],
  ['protocol', 'protocol'],
];

function checkConflicts(used: ReadonlySet<string>): void {
  for (const group of CONFLICTS) {
    for (const a of group) {
      if (!used.has(a)) continue;
      for (const b of group) {
        if (a !== b && used.has(b)) throw new UsageError(`filters --${a} and --${b} cannot be combined`);
      }
    }
  }
}

function parseVerdict(text: string): number {
  const name = text.toUpperCase();
  const v = VERDICT_NAMES.indexOf(name as (typeof VERDICT_NAMES)[number]);
  if (v < 0) throw new UsageError(`--verdict: unknown verdict "${text}" (use ${VERDICT_NAMES.slice(1).join(', ')})`);
  return v;
}

function parseUint(text: string, max: number): number | undefined {
  if (!/^\d{1,10}$/.test(text)) return undefined;
  const n = Number(text);
  return n <= max ? n : undefined;
}

/** flows_filter.go `type`: TYPE[:SUBTYPE], names or numbers. */
function parseEventType(text: string): EventTypeFilter {
  const colon = text.indexOf(':');
  const typeText = colon < 0 ? text : text.slice(0, colon);
  const subText = colon < 0 ? undefined : text.slice(colon + 1);
  const names = Object.keys(MESSAGE_TYPE_NAMES).join(', ');
  const type = MESSAGE_TYPE_NAMES[typeText] ?? parseUint(typeText, 255);
  if (type === undefined) throw new UsageError(`--type: unknown event type "${typeText}" (use ${names}, or a number)`);
  if (subText === undefined) return { type, matchSubType: false, subType: 0 };
  if (type === MessageType.TRACE) {
    const point = TRACE_POINT_NAMES.indexOf(subText);
    if (point >= 0) return { type, matchSubType: true, subType: point };
  }
  const sub = parseUint(subText, 255);
  if (sub === undefined) {
    const hint = type === MessageType.TRACE ? ` (use ${TRACE_POINT_NAMES.join(', ')}, or a number)` : ' (use a number)';
    throw new UsageError(`--type: unknown sub-type "${subText}" of "${typeText}"${hint}`);
  }
  return { type, matchSubType: true, subType: sub };
}

const PROTOCOLS = ['tcp', 'udp', 'sctp', 'icmp', 'icmpv4', 'icmpv6', 'http', 'dns', 'kafka'];

function parseProtocol(text: string): string {
  const p = text.toLowerCase();
  if (!PROTOCOLS.includes(p)) throw new UsageError(`--protocol: unknown protocol "${text}" (use ${PROTOCOLS.join(', ')})`);
  return p;
}

function namespaceFromName(name: string): string {
  const parts = name.split('/');
  return parts.length > 1 ? parts[0]! : '';
}

/** flows_filter.go addNamespacesToFilter. */
function addNamespaces(filter: string[], namespaces: readonly string[]): string[] {
  if (namespaces.length === 0 || filter.length === 0) return filter;
  const out: string[] = [];
  for (const f of filter) {
    if (f.includes('/')) {
      out.push(f);
      continue;
    }
    for (const ns of namespaces) out.push(`${ns}/${f}`);
  }
  return out;
}

function applySrcNamespaces(ff: FlowFilterSpec, namespaces: readonly string[]): void {
  if (ff.sourcePod.length === 0) ff.sourcePod = [''];
  ff.sourcePod = addNamespaces(ff.sourcePod, namespaces);
}

function applyDstNamespaces(ff: FlowFilterSpec, namespaces: readonly string[]): void {
  if (ff.destinationPod.length === 0) ff.destinationPod = [''];
  ff.destinationPod = addNamespaces(ff.destinationPod, namespaces);
}

/** namespaceModifier.conflicts: a pod named with a namespace other than the flag's. */
function checkNamespaceConflicts(namespaces: readonly string[], names: readonly string[]): void {
  for (const ns of namespaces) {
    for (const name of names) {
      const nn = namespaceFromName(name);
      if (nn !== '' && nn !== ns) throw new UsageError(`namespace conflict: "${ns}" does not contain "${name}"`);
    }
  }
}

function specsEqual(a: FlowFilterSpec, b: FlowFilterSpec): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Flags -> the FlowFilters Hubble would send (OR'ed); empty when no flag was given. */
function buildSpecs(opts: FlowFilterOptions): FlowFilterSpec[] {
  const used = new Set<string>();
  for (const [key, flag] of FLAG_OF) if ((opts[key]?.length ?? 0) > 0) used.add(flag);
  if (used.size === 0) return [];
  checkConflicts(used);
  const left = emptySpec();
  const right = emptySpec();
  const both = (fn: (f: FlowFilterSpec) => void): void => {
    fn(left);
    fn(right);
  };
  // Values are checked under the flag the user typed, before they are spread over the sides.
  for (const [key, flag] of [['ip', 'ip'], ['fromIp', 'from-ip'], ['toIp', 'to-ip']] as const) parseIps(opts[key] ?? [], flag);
  for (const [key, flag] of [['port', 'port'], ['fromPort', 'from-port'], ['toPort', 'to-port']] as const) parsePorts(opts[key] ?? [], flag);
  for (const v of opts.pod ?? []) {
    left.sourcePod.push(v);
    right.destinationPod.push(v);
  }
  for (const v of opts.fromPod ?? []) both((f) => f.sourcePod.push(v));
  for (const v of opts.toPod ?? []) both((f) => f.destinationPod.push(v));
  for (const v of opts.ip ?? []) {
    left.sourceIp.push(v);
    right.destinationIp.push(v);
  }
  for (const v of opts.fromIp ?? []) both((f) => f.sourceIp.push(v));
  for (const v of opts.toIp ?? []) both((f) => f.destinationIp.push(v));
  for (const v of opts.port ?? []) {
    left.sourcePort.push(v);
    right.destinationPort.push(v);
  }
  for (const v of opts.fromPort ?? []) both((f) => f.sourcePort.push(v));
  for (const v of opts.toPort ?? []) both((f) => f.destinationPort.push(v));
  for (const v of opts.verdict ?? []) {
    const verdict = parseVerdict(v);
    both((f) => f.verdict.push(verdict));
  }
  for (const v of opts.type ?? []) {
    const t = parseEventType(v);
    both((f) => f.eventType.push(t));
  }
  for (const v of opts.protocol ?? []) {
    const p = parseProtocol(v);
    both((f) => f.protocol.push(p));
  }

  const ns = opts.namespace ?? [];
  const srcNs = opts.fromNamespace ?? [];
  const dstNs = opts.toNamespace ?? [];
  for (const f of [left, right]) {
    checkNamespaceConflicts(ns, f.sourcePod);
    checkNamespaceConflicts(ns, f.destinationPod);
    checkNamespaceConflicts(srcNs, f.sourcePod);
    checkNamespaceConflicts(dstNs, f.destinationPod);
  }
  if (dstNs.length > 0) {
    applyDstNamespaces(left, dstNs);
    applyDstNamespaces(right, dstNs);
  }
  if (srcNs.length > 0) {
    applySrcNamespaces(left, srcNs);
    applySrcNamespaces(right, srcNs);
  }
  if (ns.length > 0) {
    applySrcNamespaces(left, ns);
    applyDstNamespaces(right, ns);
  }
  return specsEqual(left, right) ? [left] : [left, right];
}

// ---------------------------------------------------------------------------------------------
// FlowFilters -> predicate

/** pkg/hubble/k8s ParseNamespaceName: `ns/name`, `ns/`, or `name` in `default`. */
function parseNamespaceName(value: string): { ns: string; prefix: string } {
  const parts = value.split('/');
  const ns = parts[0]!;
  if (parts.length > 1) return { ns, prefix: parts[1]! };
  if (ns === '') throw new UsageError(`invalid pod filter "${value}", must be [namespace/][<name>]`);
  return { ns: 'default', prefix: ns };
}

/** One byte per endpoint: 1 when a pod filter in `values` matches it (filters/k8s.go). */
function podMask(values: readonly string[], ctx: FlowContext): Uint8Array {
  const filters = values.map((v) => parseNamespaceName(v));
  const n = ctx.endpointName.length;
  const mask = new Uint8Array(n);
  for (let e = 0; e < n; e++) {
    const ns = ctx.endpointNamespace[e]!;
    const pod = ctx.endpointPod[e]!;
    if (ns === '' && pod === '') continue;
    for (const f of filters) {
      if ((f.prefix === '' || pod.startsWith(f.prefix)) && f.ns === ns) {
        mask[e] = 1;
        break;
      }
    }
  }
  return mask;
}

function parseIps(values: readonly string[], flag: string): Cidr[] {
  return values.map((v) => {
    const c = parseCidr(v);
    if (c === undefined) throw new UsageError(`--${flag}: invalid address or prefix "${v}"`);
    return c;
  });
}

function parsePorts(values: readonly string[], flag: string): number[] {
  return values.map((v) => {
    const n = parseUint(v, 65535);
    if (n === undefined) throw new UsageError(`--${flag}: invalid port "${v}" (0-65535)`);
    return n;
  });
}

function ipMatches(cidrs: readonly Cidr[], family: number, words: Uint32Array): boolean {
  if (family !== 4 && family !== 6) return false;
  for (const c of cidrs) if (cidrContains(c, family, words)) return true;
  return false;
}

function hasL4Ports(ev: FlowEvent): boolean {
  const p = ev.packet;
  if (p === undefined || !p.hasPorts) return false;
  return p.ipProto === IpProto.TCP || p.ipProto === IpProto.UDP || p.ipProto === IpProto.SCTP;
}

function portIn(ports: readonly number[], port: number): boolean {
  for (const p of ports) if (p === port) return true;
  return false;
}

/** filters/protocol.go for one event. */
function protocolMatches(protocols: readonly string[], ev: FlowEvent): boolean {
  const p = ev.packet;
  const proto = p !== undefined && p.ipVersion !== 0 ? p.ipProto : -1;
  const l7 = ev.kind === EventKind.L7 ? ev.l7 : null;
  for (const name of protocols) {
    switch (name) {
      case 'tcp':
        if (proto === IpProto.TCP && p!.hasPorts) return true;
        break;
      case 'udp':
        if (proto === IpProto.UDP && p!.hasPorts) return true;
        break;
      case 'sctp':
        if (proto === IpProto.SCTP && p!.hasPorts) return true;
        break;
      case 'icmp':
        if ((proto === IpProto.ICMP || proto === IpProto.ICMPV6) && p!.icmpType >= 0) return true;
        break;
      case 'icmpv4':
        if (proto === IpProto.ICMP && p!.icmpType >= 0) return true;
        break;
      case 'icmpv6':
        if (proto === IpProto.ICMPV6 && p!.icmpType >= 0) return true;
        break;
      case 'http':
        if (l7 !== null && l7.http !== undefined) return true;
        break;
      case 'dns':
        if (l7 !== null && l7.dns !== undefined) return true;
        break;
      case 'kafka':
        if (l7 !== null && l7.kafka !== undefined) return true;
        break;
    }
  }
  return false;
}

/** One FlowFilter as a predicate: every field that is set must hold (filters.BuildFilter). */
function compileSpec(spec: FlowFilterSpec, ctx: FlowContext): FlowPredicate {
  const checks: FlowPredicate[] = [];
  if (spec.sourcePod.length > 0) {
    const mask = podMask(spec.sourcePod, ctx);
    checks.push((ev) => ev.srcEndpoint >= 0 && mask[ev.srcEndpoint] === 1);
  }
  if (spec.destinationPod.length > 0) {
    const mask = podMask(spec.destinationPod, ctx);
    checks.push((ev) => ev.dstEndpoint >= 0 && mask[ev.dstEndpoint] === 1);
  }
  if (spec.sourceIp.length > 0) {
    const cidrs = parseIps(spec.sourceIp, 'from-ip');
    checks.push((ev) => ev.packet !== undefined && ipMatches(cidrs, ev.packet.ipVersion, ev.packet.src));
  }
  if (spec.destinationIp.length > 0) {
    const cidrs = parseIps(spec.destinationIp, 'to-ip');
    checks.push((ev) => ev.packet !== undefined && ipMatches(cidrs, ev.packet.ipVersion, ev.packet.dst));
  }
  if (spec.sourcePort.length > 0) {
    const ports = parsePorts(spec.sourcePort, 'from-port');
    checks.push((ev) => hasL4Ports(ev) && portIn(ports, ev.packet.sport));
  }
  if (spec.destinationPort.length > 0) {
    const ports = parsePorts(spec.destinationPort, 'to-port');
    checks.push((ev) => hasL4Ports(ev) && portIn(ports, ev.packet.dport));
  }
  if (spec.verdict.length > 0) {
    const allowed = new Uint8Array(VERDICT_NAMES.length);
    for (const v of spec.verdict) allowed[v] = 1;
    checks.push((ev) => allowed[ev.verdict] === 1);
  }
  if (spec.eventType.length > 0) {
    const types = spec.eventType;
    checks.push((ev) => {
      const type = hubbleEventType(ev);
      for (const t of types) {
        if (t.type !== 0 && t.type !== type) continue;
        if (t.matchSubType && t.subType !== hubbleEventSubType(ev)) continue;
        return true;
      }
      return false;
    });
  }
  if (spec.protocol.length > 0) {
    const protocols = spec.protocol;
    checks.push((ev) => protocolMatches(protocols, ev));
  }
  if (checks.length === 1) return checks[0]!;
  return (ev) => {
    for (let i = 0; i < checks.length; i++) if (!checks[i]!(ev)) return false;
    return true;
  };
}

/**
 * The predicate of the filter flags, or undefined when none was given (everything passes).
 * Throws a one-line UsageError on a bad value or a combination Hubble refuses.
 */
/** Whether any filter flag is given (checked before the inputs are read). */
export function hasFlowFilters(opts: FlowFilterOptions): boolean {
  return buildSpecs(opts).length > 0;
}

export function compileFlowFilter(opts: FlowFilterOptions, ctx: FlowContext): FlowPredicate | undefined {
  const specs = buildSpecs(opts);
  if (specs.length === 0) return undefined;
  const compiled = specs.map((s) => compileSpec(s, ctx));
  if (compiled.length === 1) return compiled[0]!;
  const [a, b] = compiled as [FlowPredicate, FlowPredicate];
  return (ev) => a(ev) || b(ev);
}
