/**
 * `--expect FILE`: what the team expects enforcement to do, checked connection by connection.
 *
 * The file is a YAML list of `{from, to, port, protocol, expect}` (plus optional `http` / `dns`
 * narrowing and a `name`). `from`/`to` name one side: `pod: ns/name`, `selector: {namespace,
 * matchLabels}`, `ip`, `cidr`, `entity` (world, host, remote-node, kube-apiserver, ...) or
 * `node: NAME`. Every connection that matches must have the expected outcome; an expectation that
 * matches no connection fails too (the traffic it speaks about was not in the capture).
 *
 * A connection's outcome is taken from its final events (design.md §5): dropped if any packet of
 * it was dropped (the opening packet's drop is what the rest inherit), would-be dropped if audit
 * mode let a drop through (AUDIT counts as dropped), allowed otherwise.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node as YamlNode, type YAMLMap } from 'yaml';
import { InputError, type SourcePosition } from '../errors.js';
import type { DecodedPacket } from '../decode/packet.js';
import { MAX_NESTING, tooDeepAt } from '../k8s/documents.js';
import type { EndpointRecord, MapsDocument } from '../maps/document.js';
import { cidrContains, formatIp, parseCidr, parseIp, type Cidr, type IpAddress } from '../net/addr.js';
import { EventKind, Verdict, type FlowEvent } from '../datapath/events.js';

export type ExpectedOutcome = 'allowed' | 'dropped' | 'denied-by-policy' | 'http-403' | 'dns-refused';
const OUTCOMES: readonly ExpectedOutcome[] = ['allowed', 'dropped', 'denied-by-policy', 'http-403', 'dns-refused'];

/** Drop reasons that mean "policy said no": POLICY_DENIED, POLICY_DENY, AUTH_REQUIRED. */
const POLICY_DROP_REASONS = new Set([133, 181, 189]);

const PROTOCOLS: Readonly<Record<string, number>> = { TCP: 6, UDP: 17, SCTP: 132, ICMP: 1, ICMPV4: 1, ICMPV6: 58 };

/** One side of an expectation, resolved against the maps document. */
export type SideSpec =
  | { type: 'endpoints'; endpoints: Set<number>; text: string }
  | { type: 'ip'; ip: IpAddress; text: string }
  | { type: 'cidr'; cidr: Cidr; text: string }
  | { type: 'identities'; identities: Set<number>; text: string }
  | { type: 'addresses'; addresses: IpAddress[]; text: string };

export interface Expectation {
  index: number;
  name: string;
  position: SourcePosition;
  from: SideSpec;
  to: SideSpec;
  port?: number;
  protocol?: number;
  expect: ExpectedOutcome;
  http?: { method?: string; path?: string };
  dns?: string;
}

interface Located {
  file: string;
  lines: LineCounter;
}

function posOf(loc: Located, node: YamlNode | undefined | null): SourcePosition {
  const offset = node?.range?.[0] ?? 0;
  const { line, col } = loc.lines.linePos(offset);
  return { file: loc.file, line, col };
}

function fail(loc: Located, node: YamlNode | undefined | null, path: string, reason: string): never {
  throw new InputError(posOf(loc, node), reason, path);
}

function scalarText(loc: Located, node: YamlNode | undefined | null, path: string): string {
  if (!node || !isScalar(node) || node.value === null || typeof node.value === 'object') fail(loc, node, path, 'must be a string');
  return String(node.value);
}

/** Entities as identities of the document (labels `reserved:<entity>`; `world` also every CIDR identity). */
function entityIdentities(doc: MapsDocument, entity: string): Set<number> {
  const out = new Set<number>();
  for (const rec of doc.identities) {
    const labels = rec.labels;
    const has = (l: string): boolean => labels.includes(l);
    let match = false;
    switch (entity) {
      case 'world':
        match = has('reserved:world') || has('reserved:world-ipv4') || has('reserved:world-ipv6');
        break;
      case 'cluster':
        match = rec.identity > 0 && !has('reserved:world') && !has('reserved:world-ipv4') && !has('reserved:world-ipv6');
        break;
      case 'all':
        match = true;
        break;
      default:
        match = has(`reserved:${entity}`);
    }
    if (match) out.add(rec.identity);
  }
  if (entity === 'host' || entity === 'cluster' || entity === 'all') out.add(1);
  return out;
}

const ENTITIES = ['world', 'world-ipv4', 'world-ipv6', 'cluster', 'host', 'remote-node', 'kube-apiserver', 'init', 'health', 'unmanaged', 'ingress', 'all'];

function endpointLabels(ep: EndpointRecord): Map<string, string> {
  const out = new Map<string, string>();
  for (const l of ep.labels) {
    const colon = l.indexOf(':');
    const rest = colon >= 0 ? l.slice(colon + 1) : l;
    const eq = rest.indexOf('=');
    out.set(eq < 0 ? rest : rest.slice(0, eq), eq < 0 ? '' : rest.slice(eq + 1));
  }
  return out;
}

function parseSide(loc: Located, node: YamlNode | undefined | null, path: string, doc: MapsDocument): SideSpec {
  if (!node || !isMap(node)) fail(loc, node, path, 'must be a mapping with one of pod, selector, ip, cidr, entity, node');
  const map = node as YAMLMap;
  if (map.items.length !== 1) fail(loc, node, path, 'must have exactly one of pod, selector, ip, cidr, entity, node');
  const pair = map.items[0]!;
  const key = String((pair.key as { value?: unknown })?.value ?? '');
  const value = pair.value as YamlNode | null;
  const sub = `${path}.${key}`;
  switch (key) {
    case 'pod': {
      const text = scalarText(loc, value, sub);
      const idx = doc.endpoints.findIndex((e) => e.kind === 'pod' && e.name === text);
      if (idx < 0) fail(loc, value, sub, `unknown pod ${JSON.stringify(text)} (not in the cluster, or skipped: see the notes)`);
      return { type: 'endpoints', endpoints: new Set([idx]), text: `pod ${text}` };
    }
    case 'selector': {
      if (!value || !isMap(value)) fail(loc, value, sub, 'must be a mapping {namespace, matchLabels}');
      const sel = value.toJSON() as { namespace?: unknown; matchLabels?: unknown };
      for (const k of Object.keys(sel)) if (k !== 'namespace' && k !== 'matchLabels') fail(loc, value, sub, `unknown field ${JSON.stringify(k)}`);
      const ns = sel.namespace === undefined ? undefined : String(sel.namespace);
      const labels = (sel.matchLabels ?? {}) as Record<string, unknown>;
      if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) fail(loc, value, `${sub}.matchLabels`, 'must be a mapping');
      const set = new Set<number>();
      doc.endpoints.forEach((ep, i) => {
        if (ep.kind !== 'pod' || (ns !== undefined && ep.namespace !== ns)) return;
        const have = endpointLabels(ep);
        if (Object.entries(labels).every(([k, v]) => have.get(k) === String(v))) set.add(i);
      });
      const text = `selector ${ns ?? '*'}/${Object.entries(labels).map(([k, v]) => `${k}=${String(v)}`).join(',')}`;
      if (set.size === 0) fail(loc, value, sub, `${text} matches no pod`);
      return { type: 'endpoints', endpoints: set, text };
    }
    case 'ip': {
      const text = scalarText(loc, value, sub);
      const ip = parseIp(text);
      if (!ip) fail(loc, value, sub, `not an IP address: ${JSON.stringify(text)}`);
      return { type: 'ip', ip, text: `ip ${text}` };
    }
    case 'cidr': {
      const text = scalarText(loc, value, sub);
      const cidr = parseCidr(text);
      if (!cidr) fail(loc, value, sub, `not a CIDR: ${JSON.stringify(text)}`);
      return { type: 'cidr', cidr, text: `cidr ${text}` };
    }
    case 'entity': {
      const text = scalarText(loc, value, sub);
      if (!ENTITIES.includes(text)) fail(loc, value, sub, `unknown entity ${JSON.stringify(text)} (one of ${ENTITIES.join(', ')})`);
      return { type: 'identities', identities: entityIdentities(doc, text), text: `entity ${text}` };
    }
    case 'node': {
      const text = scalarText(loc, value, sub);
      const node = doc.nodes.find((n) => n.name === text);
      if (!node) fail(loc, value, sub, `unknown node ${JSON.stringify(text)}`);
      return { type: 'addresses', addresses: node.addresses.map((a) => parseIp(a)!).filter(Boolean), text: `node ${text}` };
    }
    default:
      return fail(loc, pair.key as YamlNode, sub, `unknown side ${JSON.stringify(key)}: use pod, selector, ip, cidr, entity or node`);
  }
}

/** Reads and validates an expectations file against the compiled cluster. */
export function loadExpectations(file: string, doc: MapsDocument): Expectation[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(undefined, `${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const counter = new LineCounter();
  const deep = tooDeepAt(text, counter);
  if (deep >= 0) {
    throw new InputError({ file, ...counter.linePos(deep) }, `nesting deeper than ${MAX_NESTING} levels`);
  }
  const lines = new LineCounter();
  const loc: Located = { file, lines };
  const parsed = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  if (parsed.errors[0]) {
    const { line, col } = lines.linePos(parsed.errors[0].pos[0]);
    throw new InputError({ file, line, col }, `invalid YAML: ${parsed.errors[0].message.split('\n')[0]}`);
  }
  const root = parsed.contents as YamlNode | null;
  if (!root || !isSeq(root)) fail(loc, root, '', 'an expectations file is a YAML list of {from, to, port, protocol, expect}');
  const out: Expectation[] = [];
  root.items.forEach((item, i) => {
    const path = `[${i}]`;
    const node = item as YamlNode;
    if (!isMap(node)) fail(loc, node, path, 'must be a mapping {from, to, port, protocol, expect}');
    const get = (k: string): YamlNode | undefined => (node.get(k, true) as YamlNode | undefined) ?? undefined;
    for (const pair of node.items) {
      const k = String((pair.key as { value?: unknown })?.value ?? '');
      if (!['name', 'from', 'to', 'port', 'protocol', 'expect', 'http', 'dns'].includes(k)) {
        fail(loc, pair.key as YamlNode, `${path}.${k}`, `unknown field ${JSON.stringify(k)}`);
      }
    }
    const expectText = scalarText(loc, get('expect'), `${path}.expect`);
    if (!OUTCOMES.includes(expectText as ExpectedOutcome)) {
      fail(loc, get('expect'), `${path}.expect`, `must be one of ${OUTCOMES.join(', ')}`);
    }
    const e: Expectation = {
      index: i,
      name: get('name') ? scalarText(loc, get('name'), `${path}.name`) : '',
      position: posOf(loc, node),
      from: parseSide(loc, get('from'), `${path}.from`, doc),
      to: parseSide(loc, get('to'), `${path}.to`, doc),
      expect: expectText as ExpectedOutcome,
    };
    const portNode = get('port');
    if (portNode) {
      const v = isScalar(portNode) ? Number(portNode.value) : NaN;
      if (!Number.isInteger(v) || v < 0 || v > 65535) fail(loc, portNode, `${path}.port`, 'must be a port number 0-65535');
      e.port = v;
    }
    const protoNode = get('protocol');
    if (protoNode) {
      const name = scalarText(loc, protoNode, `${path}.protocol`).toUpperCase();
      const proto = PROTOCOLS[name];
      if (proto === undefined) fail(loc, protoNode, `${path}.protocol`, 'must be TCP, UDP, SCTP, ICMP or ICMPv6');
      e.protocol = proto;
    } else if (e.port !== undefined) {
      e.protocol = 6; // a port without a protocol means TCP
    }
    const httpNode = get('http');
    if (httpNode) {
      if (!isMap(httpNode)) fail(loc, httpNode, `${path}.http`, 'must be a mapping {method, path}');
      const h = httpNode.toJSON() as Record<string, unknown>;
      for (const k of Object.keys(h)) if (k !== 'method' && k !== 'path') fail(loc, httpNode, `${path}.http`, `unknown field ${JSON.stringify(k)}`);
      e.http = {
        ...(h.method !== undefined ? { method: String(h.method) } : {}),
        ...(h.path !== undefined ? { path: String(h.path) } : {}),
      };
    }
    const dnsNode = get('dns');
    if (dnsNode) e.dns = scalarText(loc, dnsNode, `${path}.dns`).toLowerCase().replace(/\.$/, '');
    if (e.expect === 'http-403' && e.http === undefined) fail(loc, get('expect'), `${path}.expect`, 'http-403 needs http: {method, path}');
    if (e.expect === 'dns-refused' && e.dns === undefined) fail(loc, get('expect'), `${path}.expect`, 'dns-refused needs dns: NAME');
    out.push(e);
  });
  return out;
}

/** What hubcap observed of one connection. */
interface ConnectionRecord {
  srcEndpoint: number;
  dstEndpoint: number;
  srcIdentity: number;
  dstIdentity: number;
  family: number;
  src: Uint32Array;
  dst: Uint32Array;
  sport: number;
  dport: number;
  origDport: number;
  proto: number;
  packets: number;
  dropped: boolean;
  audited: boolean;
  dropReason: number;
  rule: number;
  /** L7 requests seen on the connection (HTTP and DNS), with the proxy's verdict. */
  requests: L7Request[];
}

interface L7Request {
  kind: 'http' | 'dns';
  method: string;
  /** HTTP `:path` (from the logged URL), or the DNS query name without its trailing dot. */
  target: string;
  denied: boolean;
}

/** The `:path` part of the URL Envoy logs (`http://host/path?query`). */
function pathOfUrl(url: string): string {
  const scheme = url.indexOf('://');
  if (scheme < 0) return url;
  const slash = url.indexOf('/', scheme + 3);
  return slash < 0 ? '/' : url.slice(slash);
}

/**
 * `*` in an expectation's path or name matches any run of characters. The classic wildcard match
 * (on a mismatch, let the last `*` take one more character): time O(pattern x text) at worst. A
 * RegExp of `.*` runs backtracks polynomially instead: `/*a*a*a*a*a*a*a*a*a*a*a*b` against a
 * 3000-character path from the capture ran for minutes.
 */
export function globMatches(pattern: string, text: string): boolean {
  if (!pattern.includes('*')) return pattern === text;
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern.charCodeAt(p) === 42 /* * */) {
      star = p++;
      mark = t;
    } else if (p < pattern.length && pattern.charCodeAt(p) === text.charCodeAt(t)) {
      p++;
      t++;
    } else if (star >= 0) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern.charCodeAt(p) === 42) p++;
  return p === pattern.length;
}

function sideMatches(side: SideSpec, endpoint: number, identity: number, family: number, addr: Uint32Array): boolean {
  switch (side.type) {
    case 'endpoints':
      return side.endpoints.has(endpoint);
    case 'ip':
      return side.ip.family === family && side.ip.words.every((w, i) => w === addr[i]);
    case 'cidr':
      return cidrContains(side.cidr, family as 4 | 6, addr);
    case 'identities':
      return side.identities.has(identity);
    case 'addresses':
      return side.addresses.some((a) => a.family === family && a.words.every((w, i) => w === addr[i]));
  }
}

export interface ExpectationReport {
  ok: boolean;
  lines: string[];
}

/** Collects connections from final events, then checks every expectation. */
export class ExpectationChecker {
  private readonly connections = new Map<number | string, ConnectionRecord>();
  /**
   * @internal Packets the native fast path finished, by connection number (fast-path.ts): the
   * only thing their events would change here is their connection's packet count (the
   * connection itself opened with a packet TypeScript decided, and an inherited drop's
   * connection is already marked dropped). Added in by `report`.
   */
  fastPackets = new Float64Array(0);

  constructor(
    private readonly expectations: Expectation[],
    private readonly doc: MapsDocument,
  ) {}

  observe(ev: FlowEvent): void {
    if (ev.kind === EventKind.L7) {
      this.observeL7(ev);
      return;
    }
    // Final events carry the outcome; policy verdicts also open a connection whose packets have
    // no final event of their own (a tunnel's outer header allowed by the host firewall).
    if (!ev.isFinal && ev.kind !== EventKind.POLICY_VERDICT) return;
    const p: DecodedPacket = ev.packet;
    const key: number | string =
      ev.connection > 0 ? ev.connection : `${p.ipProto}|${formatIp(p.src, p.ipVersion)}|${p.sport}|${formatIp(p.dst, p.ipVersion)}|${p.dport}`;
    let rec = this.connections.get(key);
    if (!rec) {
      // The first final event seen is the opening packet; replies of it start no connection.
      rec = {
        srcEndpoint: ev.isReply ? ev.dstEndpoint : ev.srcEndpoint,
        dstEndpoint: ev.isReply ? ev.srcEndpoint : ev.dstEndpoint,
        srcIdentity: ev.isReply ? ev.dstIdentity : ev.srcIdentity,
        dstIdentity: ev.isReply ? ev.srcIdentity : ev.dstIdentity,
        family: p.ipVersion,
        src: Uint32Array.from(ev.isReply ? p.dst : p.src),
        dst: Uint32Array.from(ev.isReply ? p.src : p.dst),
        sport: ev.isReply ? p.dport : p.sport,
        dport: ev.isReply ? p.sport : p.dport,
        origDport: ev.service >= 0 ? ev.origDport : ev.isReply ? p.sport : p.dport,
        proto: p.ipProto,
        packets: 0,
        dropped: false,
        audited: false,
        dropReason: 0,
        rule: -1,
        requests: [],
      };
      this.connections.set(key, rec);
    }
    if (!ev.isFinal) return;
    rec.packets++;
    // The server's answer to a request the proxy denied: the proxy answered instead, and the
    // connection stays up (Envoy's 403, the DNS proxy's REFUSED).
    if (ev.replacedByProxy) return;
    if (ev.verdict === Verdict.DROPPED && !rec.dropped) {
      rec.dropped = true;
      rec.dropReason = ev.dropReason;
      rec.rule = ev.rule;
    } else if (ev.audited && !rec.audited) {
      rec.audited = true;
      rec.dropReason ||= ev.dropReason;
    }
  }

  /** The fast path's packet counts into the connections' (once). */
  private addFastPackets(): void {
    const fast = this.fastPackets;
    if (fast.length === 0) return;
    for (const [key, rec] of this.connections) {
      if (typeof key === 'number' && key < fast.length) rec.packets += fast[key]!;
    }
    this.fastPackets = new Float64Array(0);
  }

  /** An L7 request (the proxy's verdict on it); responses add nothing an expectation checks. */
  private observeL7(ev: FlowEvent): void {
    const l7 = ev.l7;
    if (!l7 || l7.type !== 'REQUEST' || ev.connection <= 0) return;
    const rec = this.connections.get(ev.connection);
    if (!rec) return;
    const denied = ev.verdict === Verdict.DROPPED;
    if (l7.http) rec.requests.push({ kind: 'http', method: l7.http.method, target: pathOfUrl(l7.http.url), denied });
    else if (l7.dns) rec.requests.push({ kind: 'dns', method: '', target: l7.dns.query.toLowerCase().replace(/\.$/, ''), denied });
  }

  /** The L7 requests of a connection an expectation narrows to (`http` or `dns`). */
  private requestsFor(e: Expectation, rec: ConnectionRecord): L7Request[] {
    if (e.http) {
      const h = e.http;
      return rec.requests.filter(
        (r) => r.kind === 'http' && (h.method === undefined || r.method.toUpperCase() === h.method.toUpperCase()) && (h.path === undefined || globMatches(h.path, r.target)),
      );
    }
    if (e.dns !== undefined) return rec.requests.filter((r) => r.kind === 'dns' && globMatches(e.dns!, r.target));
    return [];
  }

  private outcomeText(rec: ConnectionRecord): string {
    if (rec.dropped) return `dropped (reason ${rec.dropReason})`;
    if (rec.audited) return `audit: would be dropped (reason ${rec.dropReason})`;
    return 'allowed';
  }

  private holds(e: Expectation, rec: ConnectionRecord): boolean {
    const dropped = rec.dropped || rec.audited;
    if (e.http || e.dns !== undefined) {
      // Narrowed to requests: the proxy's verdict on each of them (a connection dropped at L3/L4
      // never reached the proxy, so its requests count as dropped).
      const requests = this.requestsFor(e, rec);
      switch (e.expect) {
        case 'allowed':
          return !dropped && requests.every((r) => !r.denied);
        case 'http-403':
        case 'dns-refused':
          return !dropped && requests.every((r) => r.denied);
        case 'dropped':
        case 'denied-by-policy':
          return dropped || requests.every((r) => r.denied);
      }
    }
    switch (e.expect) {
      case 'allowed':
        return !dropped;
      case 'dropped':
        return dropped;
      case 'denied-by-policy':
        return dropped && POLICY_DROP_REASONS.has(rec.dropReason);
      case 'http-403':
      case 'dns-refused':
        // L7 outcomes are decided by the proxy stage (L7 issue); at L3/L4 nothing can be a 403.
        return false;
    }
  }

  private describe(rec: ConnectionRecord): string {
    const name = (ep: number, fam: number, addr: Uint32Array): string =>
      ep >= 0 ? this.doc.endpoints[ep]!.name : formatIp(addr, fam);
    const port = rec.proto === 6 || rec.proto === 17 || rec.proto === 132;
    const proto = rec.proto === 6 ? 'TCP' : rec.proto === 17 ? 'UDP' : rec.proto === 132 ? 'SCTP' : rec.proto === 1 ? 'ICMPv4' : rec.proto === 58 ? 'ICMPv6' : `proto ${rec.proto}`;
    const rule = rec.rule >= 0 ? `, by ${this.doc.rules[rec.rule]?.ref ?? rec.rule}` : '';
    return `${name(rec.srcEndpoint, rec.family, rec.src)}${port ? `:${rec.sport}` : ''} -> ${name(rec.dstEndpoint, rec.family, rec.dst)}${port ? `:${rec.dport}` : ''} ${proto}: ${this.outcomeText(rec)}${rule}, ${rec.packets} packet(s)`;
  }

  report(): ExpectationReport {
    this.addFastPackets();
    const lines: string[] = [];
    let ok = true;
    for (const e of this.expectations) {
      const matched: ConnectionRecord[] = [];
      for (const rec of this.connections.values()) {
        if (e.protocol !== undefined && rec.proto !== e.protocol) continue;
        if (e.port !== undefined && rec.dport !== e.port && rec.origDport !== e.port) continue;
        if (!sideMatches(e.from, rec.srcEndpoint, rec.srcIdentity, rec.family, rec.src)) continue;
        if (!sideMatches(e.to, rec.dstEndpoint, rec.dstIdentity, rec.family, rec.dst)) continue;
        // Narrowed to HTTP/DNS requests: connections that carried such a request (a connection
        // dropped before the proxy carried none, and says nothing about it).
        if ((e.http || e.dns !== undefined) && this.requestsFor(e, rec).length === 0) continue;
        matched.push(rec);
      }
      const title =
        `${e.position.file}:${e.position.line}: ${e.name ? `${e.name}: ` : ''}${e.from.text} -> ${e.to.text}` +
        `${e.port !== undefined ? ` port ${e.port}` : ''} expect ${e.expect}`;
      if (matched.length === 0) {
        ok = false;
        lines.push(`FAIL ${title}: no matching connection in the capture`);
        continue;
      }
      const bad = matched.filter((r) => !this.holds(e, r));
      if (bad.length === 0) {
        lines.push(`ok   ${title} (${matched.length} connection${matched.length === 1 ? '' : 's'})`);
        continue;
      }
      ok = false;
      lines.push(`FAIL ${title}: ${bad.length} of ${matched.length} connection(s) differ`);
      for (const r of bad.slice(0, 5)) lines.push(`       ${this.describe(r)}`);
      if (bad.length > 5) lines.push(`       ... and ${bad.length - 5} more`);
    }
    const failed = lines.filter((l) => l.startsWith('FAIL')).length;
    lines.push(ok ? `expectations: all ${this.expectations.length} hold` : `expectations: ${failed} of ${this.expectations.length} failed`);
    return { ok, lines };
  }
}
