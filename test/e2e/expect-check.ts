/**
 * An independent reading of the `--expect` files of examples/: the end-to-end tests replay a
 * capture with `hubcap replay -o json`, group the flows into connections and check every
 * expectation against them with this code, which shares nothing with src/flow/expectations.ts
 * (the two must agree, and each could be wrong).
 *
 * - Final events (design.md §5): one per packet, a drop (`event_type.type` 1) or a trace (4);
 *   translations (7) and L7 records are not final. Policy verdicts (5) are not final either, but
 *   they open a connection too and count when they drop: a packet can be decided without a final
 *   event of its own (a tunnel's outer header, allowed by the host firewall, before the inner
 *   packet is delivered).
 * - Connections: TCP/UDP/SCTP by the unordered address:port pair; ICMP echo by the requester and
 *   responder (replies belong to their request's direction); other ICMP by address pair and type;
 *   IP fragments without a transport header by ordered address pair. The first final event of a
 *   connection gives its direction (`from` is its source).
 * - Sides resolve against the cluster YAML (pods by name or labels, nodes by InternalIP, a
 *   Service's ClusterIPs stand for its backends), never against hubcap's own endpoint fields.
 * - Outcomes: dropped when any event is DROPPED or AUDIT (a would-be drop); denied-by-policy when
 *   such a drop has reason POLICY_DENIED (133), POLICY_DENY (181) or AUTH_REQUIRED (189) (for
 *   AUDIT, hubcap.audit_drop_reason_desc); allowed otherwise.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, parse as parseYaml } from 'yaml';

// ---------------------------------------------------------------------------------------------
// Addresses

/** An address as a bigint plus its family; IPv4 stays 32 bits, IPv6 128. */
interface Addr {
  family: 4 | 6;
  value: bigint;
}

export function parseAddr(text: string): Addr | undefined {
  if (text.includes(':')) {
    let head = text;
    let tail = '';
    const dbl = text.indexOf('::');
    if (dbl >= 0) {
      head = text.slice(0, dbl);
      tail = text.slice(dbl + 2);
    }
    const h = head === '' ? [] : head.split(':');
    const t = tail === '' ? [] : tail.split(':');
    const missing = 8 - h.length - t.length;
    if (dbl < 0 ? h.length !== 8 : missing < 1) return undefined;
    const groups = [...h, ...Array<string>(Math.max(missing, 0)).fill('0'), ...t];
    let v = 0n;
    for (const g of groups) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      v = (v << 16n) | BigInt(parseInt(g, 16));
    }
    return { family: 6, value: v };
  }
  const parts = text.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined;
  return { family: 4, value: parts.reduce((acc, p) => (acc << 8n) | BigInt(Number(p)), 0n) };
}

function mustAddr(text: string): Addr {
  const a = parseAddr(text);
  if (!a) throw new Error(`not an IP address: ${text}`);
  return a;
}

function sameAddr(a: Addr, b: Addr): boolean {
  return a.family === b.family && a.value === b.value;
}

interface Cidr {
  family: 4 | 6;
  base: bigint;
  bits: number;
}

function parseCidr(text: string): Cidr {
  const [ip, len] = text.split('/');
  const a = mustAddr(ip!);
  const width = a.family === 4 ? 32 : 128;
  const bits = Number(len ?? width);
  const shift = BigInt(width - bits);
  return { family: a.family, base: (a.value >> shift) << shift, bits };
}

function inCidr(c: Cidr, a: Addr): boolean {
  if (c.family !== a.family) return false;
  const shift = BigInt((a.family === 4 ? 32 : 128) - c.bits);
  return (a.value >> shift) << shift === c.base;
}

// ---------------------------------------------------------------------------------------------
// Cluster

interface PodInfo {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  addrs: Addr[];
}

interface ServiceInfo {
  clusterIPs: Addr[];
  /** service port -> target (backend) port, numeric targets only */
  ports: Array<{ port: number; target: number | string }>;
  backends: Addr[];
}

export interface ClusterInfo {
  pods: PodInfo[];
  nodes: Map<string, Addr[]>;
  /** every node-owned address (InternalIPs and cilium_host annotations) */
  nodeAddrs: Addr[];
  services: ServiceInfo[];
}

type Obj = Record<string, unknown>;

function* yamlObjects(path: string): Generator<Obj> {
  const st = statSync(path);
  if (st.isDirectory()) {
    for (const f of readdirSync(path).sort()) {
      if (/\.(ya?ml|json)$/.test(f) || statSync(join(path, f)).isDirectory()) yield* yamlObjects(join(path, f));
    }
    return;
  }
  for (const doc of parseAllDocuments(readFileSync(path, 'utf8'))) {
    const o = doc.toJSON() as Obj | null;
    if (!o) continue;
    if (Array.isArray(o.items)) for (const it of o.items as Obj[]) yield it;
    else yield o;
  }
}

export function loadCluster(dir: string): ClusterInfo {
  const pods: PodInfo[] = [];
  const nodes = new Map<string, Addr[]>();
  const nodeAddrs: Addr[] = [];
  const svcByName = new Map<string, ServiceInfo>();
  const slices: Obj[] = [];
  for (const o of yamlObjects(dir)) {
    const meta = (o.metadata ?? {}) as Obj;
    const spec = (o.spec ?? {}) as Obj;
    const status = (o.status ?? {}) as Obj;
    switch (o.kind) {
      case 'Pod': {
        if (spec.hostNetwork === true || status.phase === 'Succeeded' || status.phase === 'Failed') break;
        const ips = ((status.podIPs ?? []) as Obj[]).map((p) => mustAddr(String(p.ip)));
        pods.push({
          namespace: String(meta.namespace ?? 'default'),
          name: String(meta.name),
          labels: (meta.labels ?? {}) as Record<string, string>,
          addrs: ips,
        });
        break;
      }
      case 'Node': {
        const internal = ((status.addresses ?? []) as Obj[])
          .filter((a) => a.type === 'InternalIP' || a.type === 'ExternalIP')
          .map((a) => mustAddr(String(a.address)));
        nodes.set(String(meta.name), internal);
        nodeAddrs.push(...internal);
        for (const [k, v] of Object.entries((meta.annotations ?? {}) as Record<string, string>)) {
          if (k.endsWith('cilium-host')) nodeAddrs.push(mustAddr(v));
        }
        break;
      }
      case 'Service': {
        const ips = ((spec.clusterIPs ?? (spec.clusterIP ? [spec.clusterIP] : [])) as string[])
          .filter((ip) => ip !== 'None')
          .map(mustAddr);
        const ports = ((spec.ports ?? []) as Obj[]).map((p) => ({
          port: Number(p.port),
          target: (p.targetPort ?? p.port) as number | string,
        }));
        svcByName.set(`${String(meta.namespace ?? 'default')}/${String(meta.name)}`, { clusterIPs: ips, ports, backends: [] });
        break;
      }
      case 'EndpointSlice':
        slices.push(o);
        break;
    }
  }
  for (const s of slices) {
    const meta = (s.metadata ?? {}) as Obj;
    const svc = svcByName.get(`${String(meta.namespace ?? 'default')}/${String(((meta.labels ?? {}) as Obj)['kubernetes.io/service-name'])}`);
    if (!svc) continue;
    for (const ep of (s.endpoints ?? []) as Obj[]) for (const a of (ep.addresses ?? []) as string[]) svc.backends.push(mustAddr(a));
  }
  return { pods, nodes, nodeAddrs, services: [...svcByName.values()] };
}

// ---------------------------------------------------------------------------------------------
// Expectations

export interface Side {
  pod?: string;
  selector?: { namespace?: string; matchLabels?: Record<string, string> };
  ip?: string;
  cidr?: string;
  entity?: string;
  node?: string;
}

export interface Expectation {
  name?: string;
  from: Side;
  to: Side;
  port?: number;
  protocol?: string;
  expect: 'allowed' | 'dropped' | 'denied-by-policy' | 'http-403' | 'dns-refused';
}

export function loadExpectations(file: string): Expectation[] {
  const list = parseYaml(readFileSync(file, 'utf8')) as Expectation[];
  if (!Array.isArray(list) || list.length === 0) throw new Error(`${file}: no expectations`);
  return list;
}

const PROTO_NUMBERS: Record<string, number> = { TCP: 6, UDP: 17, SCTP: 132, ICMP: 1, ICMPV4: 1, ICMPV6: 58 };

/** A side as a predicate over addresses (with the cluster's pods, nodes and Services). */
function sideMatcher(side: Side, cluster: ClusterInfo): (a: Addr) => boolean {
  const podAddrs = (pods: PodInfo[]): Addr[] => pods.flatMap((p) => p.addrs);
  const orService = (addrs: Addr[]): ((a: Addr) => boolean) => {
    // A Service's ClusterIP stands for its backends: it matches when one of them matches.
    const fronts = cluster.services.filter((s) => s.backends.some((b) => addrs.some((x) => sameAddr(x, b)))).flatMap((s) => s.clusterIPs);
    return (a) => addrs.some((x) => sameAddr(x, a)) || fronts.some((x) => sameAddr(x, a));
  };
  if (side.pod !== undefined) {
    const [ns, name] = side.pod.split('/');
    const pod = cluster.pods.filter((p) => p.namespace === ns && p.name === name);
    if (pod.length === 0) throw new Error(`unknown pod ${side.pod}`);
    return orService(podAddrs(pod));
  }
  if (side.selector !== undefined) {
    const { namespace, matchLabels = {} } = side.selector;
    const pods = cluster.pods.filter(
      (p) => (namespace === undefined || p.namespace === namespace) && Object.entries(matchLabels).every(([k, v]) => p.labels[k] === String(v)),
    );
    if (pods.length === 0) throw new Error(`selector ${JSON.stringify(side.selector)} matches no pod`);
    return orService(podAddrs(pods));
  }
  if (side.ip !== undefined) {
    const ip = mustAddr(side.ip);
    return (a) => sameAddr(a, ip);
  }
  if (side.cidr !== undefined) {
    const c = parseCidr(side.cidr);
    return (a) => inCidr(c, a);
  }
  if (side.node !== undefined) {
    const addrs = cluster.nodes.get(side.node);
    if (!addrs) throw new Error(`unknown node ${side.node}`);
    return (a) => addrs.some((x) => sameAddr(x, a));
  }
  if (side.entity === 'world') {
    // Outside the cluster: no pod, node, router or Service address.
    const inside = [...podAddrs(cluster.pods), ...cluster.nodeAddrs, ...cluster.services.flatMap((s) => s.clusterIPs)];
    return (a) => !inside.some((x) => sameAddr(x, a));
  }
  throw new Error(`side ${JSON.stringify(side)} is not supported by the test checker`);
}

// ---------------------------------------------------------------------------------------------
// Flows -> connections

/** The parts of a Hubble `-o json` line the checker reads. */
export interface FlowLine {
  flow: {
    verdict?: string;
    drop_reason_desc?: string | number;
    event_type?: { type: number };
    Type?: string;
    IP?: { source: string; destination: string };
    l4?: {
      TCP?: { source_port?: number; destination_port?: number };
      UDP?: { source_port?: number; destination_port?: number };
      SCTP?: { source_port?: number; destination_port?: number };
      ICMPv4?: { type?: number; code?: number };
      ICMPv6?: { type?: number; code?: number };
    };
    hubcap?: { rule?: string; inherited?: boolean; audit_drop_reason_desc?: string | number };
  };
}

export interface Connection {
  key: string;
  /** packets with a final event (0 when only policy verdicts speak of it) */
  proto: number;
  src: Addr;
  dst: Addr;
  srcText: string;
  dstText: string;
  dport?: number;
  packets: number;
  drops: string[];
  /** AUDIT verdicts: the drops audit mode let through, with their would-be reasons */
  audits: string[];
  rules: Set<string>;
}

const POLICY_DROPS = new Set(['POLICY_DENIED', 'POLICY_DENY', 'AUTH_REQUIRED', 133, 181, 189]);

/** Groups the final events of a replay into connections. */
export function connectionsOf(lines: FlowLine[]): Connection[] {
  const out = new Map<string, Connection>();
  for (const { flow } of lines) {
    const type = flow.event_type?.type;
    const final = type === 1 || type === 4;
    if (!final && type !== 5) continue;
    if (flow.Type === 'L7' || !flow.IP) continue;
    const s = flow.IP.source;
    const d = flow.IP.destination;
    const l4 = flow.l4 ?? {};
    const tp = l4.TCP ?? l4.UDP ?? l4.SCTP;
    const icmp = l4.ICMPv4 ?? l4.ICMPv6;
    let proto = l4.TCP ? 6 : l4.UDP ? 17 : l4.SCTP ? 132 : l4.ICMPv4 ? 1 : l4.ICMPv6 ? 58 : 0;
    let key: string;
    let from = s;
    let to = d;
    let dport: number | undefined;
    if (tp && tp.source_port !== undefined && tp.destination_port !== undefined) {
      const a = `${s}|${tp.source_port}`;
      const b = `${d}|${tp.destination_port}`;
      key = `${proto}|${a < b ? `${a}|${b}` : `${b}|${a}`}`;
      dport = tp.destination_port;
    } else if (icmp) {
      const t = icmp.type ?? 0;
      const echoReply = (proto === 1 && t === 0) || (proto === 58 && t === 129);
      const echoRequest = (proto === 1 && t === 8) || (proto === 58 && t === 128);
      if (echoReply) {
        from = d;
        to = s;
      }
      key = echoRequest || echoReply ? `${proto}|echo|${from}|${to}` : `${proto}|type${t}|${s}|${d}`;
    } else {
      // A fragment without its transport header (or an unknown protocol): by address pair.
      proto = proto || -1;
      key = `${proto}|nol4|${s}|${d}`;
    }
    let c = out.get(key);
    if (!c) {
      c = {
        key,
        proto,
        src: mustAddr(from),
        dst: mustAddr(to),
        srcText: from,
        dstText: to,
        ...(dport !== undefined ? { dport } : {}),
        packets: 0,
        drops: [],
        audits: [],
        rules: new Set(),
      };
      out.set(key, c);
    }
    if (final) c.packets++;
    if (flow.verdict === 'DROPPED') c.drops.push(String(flow.drop_reason_desc ?? 'unknown'));
    if (flow.verdict === 'AUDIT') c.audits.push(String(flow.hubcap?.audit_drop_reason_desc ?? flow.drop_reason_desc ?? 'unknown'));
    if (flow.hubcap?.rule) c.rules.add(flow.hubcap.rule);
  }
  return [...out.values()];
}

function outcome(c: Connection): string {
  if (c.drops.length > 0) return `dropped (${[...new Set(c.drops)].join(', ')})`;
  if (c.audits.length > 0) return `audit: would be dropped (${[...new Set(c.audits)].join(', ')})`;
  return 'allowed';
}

/** AUDIT counts as a would-be drop (issue 4: "AUDIT counts as would-be-dropped"). */
function holds(e: Expectation, c: Connection): boolean {
  const reasons = [...c.drops, ...c.audits];
  switch (e.expect) {
    case 'allowed':
      return reasons.length === 0;
    case 'dropped':
      return reasons.length > 0;
    case 'denied-by-policy':
      return reasons.some((r) => POLICY_DROPS.has(r));
    default:
      throw new Error(`the L3/L4 checker does not handle expect: ${e.expect}`);
  }
}

export interface CheckResult {
  /** One line per expectation: "ok ..." or "FAIL ..." with the offending connections. */
  lines: string[];
  failures: number;
}

/** Checks every expectation against the connections (each must match one or more, all hold). */
export function checkExpectations(expectations: Expectation[], connections: Connection[], cluster: ClusterInfo): CheckResult {
  const lines: string[] = [];
  let failures = 0;
  expectations.forEach((e, i) => {
    const fromOk = sideMatcher(e.from, cluster);
    const toOk = sideMatcher(e.to, cluster);
    const proto = e.protocol !== undefined ? PROTO_NUMBERS[e.protocol.toUpperCase()] : e.port !== undefined ? 6 : undefined;
    if (e.protocol !== undefined && proto === undefined) throw new Error(`unknown protocol ${e.protocol}`);
    const matched = connections.filter((c) => {
      // A fragment without its transport header does not say its protocol: it matches any.
      if (proto !== undefined && c.proto !== -1 && c.proto !== proto) return false;
      if (e.port !== undefined) {
        if (c.dport === undefined) {
          // A fragment without ports belongs to a port only through its first fragment.
          if (!c.key.includes('|nol4|')) return false;
        } else if (c.dport !== e.port && !serviceMapsTo(cluster, c.dst, c.dport, e.port)) {
          return false;
        }
      }
      return fromOk(c.src) && toOk(c.dst);
    });
    const title = `[${i}] ${e.name ?? ''} (${JSON.stringify(e.from)} -> ${JSON.stringify(e.to)}${e.port !== undefined ? ` port ${e.port}` : ''} ${e.protocol ?? ''}: ${e.expect})`;
    if (matched.length === 0) {
      failures++;
      lines.push(`FAIL ${title}: no connection in the capture`);
      return;
    }
    const bad = matched.filter((c) => !holds(e, c));
    if (bad.length === 0) {
      lines.push(`ok   ${title}: ${matched.length} connection(s)`);
      return;
    }
    failures++;
    lines.push(`FAIL ${title}: ${bad.length} of ${matched.length} connection(s) differ`);
    for (const c of bad) {
      lines.push(`       ${c.srcText} -> ${c.dstText}${c.dport !== undefined ? `:${c.dport}` : ''} proto ${c.proto}: ${outcome(c)}, ${c.packets} packet(s)${c.rules.size ? `, rules ${[...c.rules].join(' ')}` : ''}`);
    }
  });
  return { lines, failures };
}

/** True when dst:dport is a Service frontend whose target port is `port`. */
function serviceMapsTo(cluster: ClusterInfo, dst: Addr, dport: number, port: number): boolean {
  return cluster.services.some(
    (s) => s.clusterIPs.some((ip) => sameAddr(ip, dst)) && s.ports.some((p) => p.port === dport && p.target === port),
  );
}
