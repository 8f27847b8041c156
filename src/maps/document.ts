/**
 * The agent's whole output as one serialisable document (`hubcap maps dump`, `replay --maps`).
 *
 * This is the contract between the control plane (src/agent/, which reads YAML) and the data
 * plane (src/datapath/, which never does): identities with labels, endpoints, the ipcache of
 * every node view, every policy map with provenance, services with backends, the L7 rules behind
 * each proxy redirect and the FQDN selectors. Same YAML in, same bytes out: every list is sorted.
 *
 * Addresses and prefixes are text (canonical: dotted quad, RFC 5952) so the file diffs well.
 */

export const MAPS_DOCUMENT_VERSION = 1;

export interface MapsOptions {
  clusterName: string;
  enablePolicy: 'default' | 'always' | 'never';
  hostFirewall: boolean;
  policyMapMax: number;
  ipcacheMax: number;
  dualStack: boolean;
}

export interface IdentityRecord {
  identity: number;
  labels: string[];
  /** Endpoints (`ns/pod`, `node/NAME`) that have this identity. */
  endpoints: string[];
}

export interface NodeRecord {
  name: string;
  labels: Record<string, string>;
  addresses: string[];
  /** Labels of identity 1 (host) on this node: reserved:host, plus reserved:kube-apiserver where the apiserver runs. */
  hostIdentityLabels: string[];
}

export interface NamedPortRecord {
  name: string;
  port: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
}

export interface EndpointRecord {
  /** Endpoint id, unique in the document (Cilium's are per node; hubcap's are global). */
  id: number;
  /** `ns/pod` or `node/NAME`. */
  name: string;
  kind: 'pod' | 'host';
  namespace?: string;
  pod?: string;
  node: string;
  identity: number;
  labels: string[];
  addresses: string[];
  namedPorts: NamedPortRecord[];
  /** Whether each direction is enforced (default deny) on this endpoint. */
  policyEnabled: { ingress: boolean; egress: boolean };
}

export interface IpcacheRecord {
  prefix: string;
  identity: number;
}

export interface IpcacheViewRecord {
  /** The node whose view this is. */
  node: string;
  /** Entries only this node has (node addresses: host here, remote-node elsewhere). */
  entries: IpcacheRecord[];
}

export interface IpcacheDocument {
  /** Entries every node shares (pods, CIDRs, world defaults). */
  shared: IpcacheRecord[];
  views: IpcacheViewRecord[];
  capacity: number;
  /** Prefixes that did not fit (traffic to them gets the wrong identity, as in Cilium). */
  overflow: string[];
}

export type PolicyVerdictName = 'allow' | 'deny' | 'redirect';

export interface PolicyEntryRecord {
  direction: 'ingress' | 'egress';
  identity: number;
  /** 0 = any. */
  protocol: number;
  port: number;
  /** 0..24: the protocol/port part of the prefix as Cilium counts it (kernel key: 40 + this). */
  prefixLen: number;
  verdict: PolicyVerdictName;
  proxyPort: number;
  proxyPortPriority: number;
  authType: number;
  hasExplicitAuthType: boolean;
  /** Indexes into `MapsDocument.rules`, the rules this entry was derived from. */
  derivedFrom: number[];
}

export interface PolicyMapRecord {
  endpoint: string;
  endpointId: number;
  capacity: number;
  entries: PolicyEntryRecord[];
  /** Entries that did not fit: Cilium fails to regenerate such an endpoint. */
  overflow: number;
}

/** Provenance of map entries: a policy rule, or one of the agent's own reasons. */
export interface RuleRecord {
  /** `Kind/namespace/name#index`, or a reserved reason such as `allow-any-ingress`. */
  ref: string;
  /** `file:line` of the rule, absent for the agent's own reasons. */
  source?: string;
  kind?: string;
  namespace?: string;
  name?: string;
}

export interface ServiceFrontendRecord {
  /** `ns/name` of the Service. */
  service: string;
  type: 'ClusterIP' | 'NodePort' | 'ExternalIP' | 'LoadBalancer';
  address: string;
  port: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
  backends: Array<{ address: string; port: number }>;
}

export interface L7RuleSetRecord {
  endpoint: string;
  direction: 'ingress' | 'egress';
  protocol: number;
  port: number;
  /** Last port of a range (inclusive); equal to port for a single port. */
  endPort: number;
  parser: 'http' | 'dns' | 'kafka';
  proxyPort: number;
  /** Peer identities the rules apply to; [0] means any peer. */
  peers: number[];
  /** The rules as written (OR'ed); an empty list allows everything (an L3/L4-only rule for the same peers). */
  rules: unknown[];
  derivedFrom: number[];
}

/**
 * One policy-map entry a toFQDNs rule gives every identity its selector selects: the key and
 * value without the identity, which the agent fills in when a DNS answer teaches it an address
 * (src/agent/fqdn.ts). toFQDNs exists only in egress allow rules, so `deny` is false today.
 */
export interface FqdnSelectorUse {
  endpoint: string;
  direction: 'egress';
  protocol: number;
  port: number;
  prefixLen: number;
  deny: boolean;
  proxyPort: number;
  proxyPortPriority: number;
  authType: number;
  hasExplicitAuthType: boolean;
  derivedFrom: number[];
  /** For a redirect: the L7 rules behind it, as an L7RuleSetRecord carries them (port range, parser, rules). */
  l7?: { parser: 'http' | 'dns' | 'kafka'; port: number; endPort: number; rules: unknown[] };
}

export interface FqdnSelectorRecord {
  matchName?: string;
  matchPattern?: string;
  /** Rules that use it. */
  derivedFrom: number[];
  /** The entries each selected identity gets, per endpoint (absent in documents from older hubcap). */
  uses?: FqdnSelectorUse[];
}

export interface MapsDocument {
  version: typeof MAPS_DOCUMENT_VERSION;
  generator: 'hubcap';
  options: MapsOptions;
  nodes: NodeRecord[];
  identities: IdentityRecord[];
  endpoints: EndpointRecord[];
  ipcache: IpcacheDocument;
  policyMaps: PolicyMapRecord[];
  rules: RuleRecord[];
  services: ServiceFrontendRecord[];
  l7: L7RuleSetRecord[];
  fqdnSelectors: FqdnSelectorRecord[];
  notes: string[];
}

/**
 * A field of a maps document that `replay --maps` cannot load: where (a JSON path such as
 * `policyMaps[3].entries[7].port`, whose segments `documentPath` returns too) and why.
 */
export interface MapsDocumentProblem {
  path: Array<string | number>;
  reason: string;
}

/** Thrown inside `checkMapsDocument` and turned into its result. */
class Problem {
  constructor(
    readonly path: Array<string | number>,
    readonly reason: string,
  ) {}
}

type Path = Array<string | number>;

function fail(path: Path, reason: string): never {
  throw new Problem(path, reason);
}
function obj(v: unknown, path: Path): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, 'must be an object');
  return v as Record<string, unknown>;
}
function list(v: unknown, path: Path): unknown[] {
  if (!Array.isArray(v)) fail(path, 'must be a list');
  return v;
}
function str(v: unknown, path: Path): string {
  if (typeof v !== 'string') fail(path, 'must be a string');
  return v;
}
function optStr(o: Record<string, unknown>, key: string, path: Path): void {
  if (o[key] !== undefined) str(o[key], [...path, key]);
}
function bool(v: unknown, path: Path): void {
  if (typeof v !== 'boolean') fail(path, 'must be true or false');
}
function int(v: unknown, path: Path, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(path, `must be a whole number ${min}..${max}`);
  return v;
}
function oneOf(v: unknown, path: Path, values: readonly string[]): void {
  if (typeof v !== 'string' || !values.includes(v)) fail(path, `must be one of ${values.join(', ')}`);
}
function strings(v: unknown, path: Path): void {
  list(v, path).forEach((s, i) => str(s, [...path, i]));
}
function ruleIndexes(v: unknown, path: Path, rules: number): void {
  list(v, path).forEach((r, i) => int(r, [...path, i], 0, rules - 1));
}

const U32 = 0xffffffff;
/** The limits of the tables the datapath builds (src/maps/ipcache.ts, policy-map.ts). */
const IPCACHE_CAPACITY_MAX = 1 << 28;
const POLICY_MAP_CAPACITY_MAX = 1 << 26;
const PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;
const DIRECTIONS = ['ingress', 'egress'] as const;
const PARSERS = ['http', 'dns', 'kafka'] as const;

function isU32(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= U32;
}

function isIntIn(v: unknown, max: number): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
}

/** Whether a policy-map entry passes every check below (true for every entry `maps dump` writes). */
function policyEntryOk(e: unknown, rules: number): boolean {
  if (typeof e !== 'object' || e === null || Array.isArray(e)) return false;
  const o = e as Record<string, unknown>;
  const len = o.prefixLen;
  if (!(o.direction === 'ingress' || o.direction === 'egress') || !isU32(o.identity) || !isIntIn(o.protocol, 0xff) || !isIntIn(o.port, 0xffff)) return false;
  if (!isIntIn(len, 24) || ((len as number) > 0 && (len as number) < 8)) return false;
  if (!(o.verdict === 'allow' || o.verdict === 'deny' || o.verdict === 'redirect')) return false;
  if (!isIntIn(o.proxyPort, 0xffff) || !isIntIn(o.proxyPortPriority, 0xff) || !isIntIn(o.authType, 0x7f) || typeof o.hasExplicitAuthType !== 'boolean') return false;
  if (!Array.isArray(o.derivedFrom)) return false;
  for (const r of o.derivedFrom) if (!isIntIn(r, rules - 1)) return false;
  return true;
}

function checkL7Rules(parser: unknown, v: unknown, path: Path): void {
  list(v, path).forEach((r, i) => {
    const p = [...path, i];
    const o = obj(r, p);
    if (parser === 'http') {
      for (const k of ['method', 'path', 'host']) optStr(o, k, p);
      if (o.headers !== undefined) strings(o.headers, [...p, 'headers']);
      if (o.headerMatches !== undefined) {
        list(o.headerMatches, [...p, 'headerMatches']).forEach((h, j) => {
          const hp = [...p, 'headerMatches', j];
          const ho = obj(h, hp);
          str(ho.name, [...hp, 'name']);
          optStr(ho, 'value', hp);
          optStr(ho, 'mismatch', hp);
        });
      }
    } else if (parser === 'dns') {
      optStr(o, 'matchName', p);
      optStr(o, 'matchPattern', p);
    }
  });
}

/**
 * Checks that `doc` has every field `replay --maps` reads, with the types and ranges the
 * datapath's tables accept (a hand-edited or truncated dump must be bad input, not a crash).
 * Addresses and prefixes are checked with `isAddress` / `isPrefix` (src/net/addr.ts, passed in
 * so this bottom-layer module imports nothing). Returns the first problem, or undefined.
 */
export function checkMapsDocument(
  doc: unknown,
  isAddress: (text: string) => boolean,
  isPrefix: (text: string) => boolean,
): MapsDocumentProblem | undefined {
  try {
    const d = obj(doc, []);
    const o = obj(d.options, ['options']);
    str(o.clusterName, ['options', 'clusterName']);
    oneOf(o.enablePolicy, ['options', 'enablePolicy'], ['default', 'always', 'never']);
    bool(o.hostFirewall, ['options', 'hostFirewall']);
    int(o.policyMapMax, ['options', 'policyMapMax'], 1, POLICY_MAP_CAPACITY_MAX);
    int(o.ipcacheMax, ['options', 'ipcacheMax'], 1, IPCACHE_CAPACITY_MAX);
    bool(o.dualStack, ['options', 'dualStack']);
    const rules = list(d.rules, ['rules']);
    rules.forEach((r, i) => {
      const ro = obj(r, ['rules', i]);
      str(ro.ref, ['rules', i, 'ref']);
      for (const k of ['source', 'kind', 'namespace', 'name']) optStr(ro, k, ['rules', i]);
    });
    const addr = (v: unknown, path: Path): void => {
      if (!isAddress(str(v, path))) fail(path, `${JSON.stringify(v)} is not an IP address`);
    };
    list(d.nodes, ['nodes']).forEach((n, i) => {
      const p = ['nodes', i];
      const no = obj(n, p);
      str(no.name, [...p, 'name']);
      for (const [k, v] of Object.entries(obj(no.labels, [...p, 'labels']))) str(v, [...p, 'labels', k]);
      list(no.addresses, [...p, 'addresses']).forEach((a, j) => addr(a, [...p, 'addresses', j]));
      strings(no.hostIdentityLabels, [...p, 'hostIdentityLabels']);
    });
    list(d.identities, ['identities']).forEach((r, i) => {
      const p = ['identities', i];
      const io = obj(r, p);
      int(io.identity, [...p, 'identity'], 0, U32);
      strings(io.labels, [...p, 'labels']);
      strings(io.endpoints, [...p, 'endpoints']);
    });
    list(d.endpoints, ['endpoints']).forEach((r, i) => {
      const p = ['endpoints', i];
      const e = obj(r, p);
      int(e.id, [...p, 'id'], 0, U32);
      str(e.name, [...p, 'name']);
      oneOf(e.kind, [...p, 'kind'], ['pod', 'host']);
      optStr(e, 'namespace', p);
      optStr(e, 'pod', p);
      str(e.node, [...p, 'node']);
      int(e.identity, [...p, 'identity'], 0, U32);
      strings(e.labels, [...p, 'labels']);
      list(e.addresses, [...p, 'addresses']).forEach((a, j) => addr(a, [...p, 'addresses', j]));
      list(e.namedPorts, [...p, 'namedPorts']).forEach((np, j) => {
        const q = [...p, 'namedPorts', j];
        const npo = obj(np, q);
        str(npo.name, [...q, 'name']);
        int(npo.port, [...q, 'port'], 0, 0xffff);
        oneOf(npo.protocol, [...q, 'protocol'], PROTOCOLS);
      });
      const pe = obj(e.policyEnabled, [...p, 'policyEnabled']);
      bool(pe.ingress, [...p, 'policyEnabled', 'ingress']);
      bool(pe.egress, [...p, 'policyEnabled', 'egress']);
    });
    const ic = obj(d.ipcache, ['ipcache']);
    const entries = (v: unknown, path: Path): void => {
      list(v, path).forEach((r, i) => {
        const fast = r as { prefix?: unknown; identity?: unknown } | null;
        if (typeof fast === 'object' && fast !== null && typeof fast.prefix === 'string' && isU32(fast.identity) && isPrefix(fast.prefix)) return;
        const eo = obj(r, [...path, i]);
        if (!isPrefix(str(eo.prefix, [...path, i, 'prefix']))) fail([...path, i, 'prefix'], `${JSON.stringify(eo.prefix)} is not an IP prefix`);
        int(eo.identity, [...path, i, 'identity'], 0, U32);
      });
    };
    entries(ic.shared, ['ipcache', 'shared']);
    list(ic.views, ['ipcache', 'views']).forEach((v, i) => {
      const vo = obj(v, ['ipcache', 'views', i]);
      str(vo.node, ['ipcache', 'views', i, 'node']);
      entries(vo.entries, ['ipcache', 'views', i, 'entries']);
    });
    int(ic.capacity, ['ipcache', 'capacity'], 1, IPCACHE_CAPACITY_MAX);
    strings(ic.overflow, ['ipcache', 'overflow']);
    list(d.policyMaps, ['policyMaps']).forEach((m, i) => {
      const p = ['policyMaps', i];
      const mo = obj(m, p);
      str(mo.endpoint, [...p, 'endpoint']);
      int(mo.endpointId, [...p, 'endpointId'], 0, U32);
      int(mo.capacity, [...p, 'capacity'], 1, POLICY_MAP_CAPACITY_MAX);
      int(mo.overflow, [...p, 'overflow'], 0, Number.MAX_SAFE_INTEGER);
      list(mo.entries, [...p, 'entries']).forEach((e, j) => {
        // The bulk of a large document: a check that allocates nothing, paths only on a problem.
        if (policyEntryOk(e, rules.length)) return;
        const q = [...p, 'entries', j];
        const eo = obj(e, q);
        oneOf(eo.direction, [...q, 'direction'], DIRECTIONS);
        int(eo.identity, [...q, 'identity'], 0, U32);
        int(eo.protocol, [...q, 'protocol'], 0, 0xff);
        int(eo.port, [...q, 'port'], 0, 0xffff);
        // bpf/lib/policy.h: the protocol/port part of the prefix is 0 (any), 8 (protocol only)
        // or 9..24 (protocol and a masked port).
        const len = int(eo.prefixLen, [...q, 'prefixLen'], 0, 24);
        if (len > 0 && len < 8) fail([...q, 'prefixLen'], 'must be 0 or 8..24');
        oneOf(eo.verdict, [...q, 'verdict'], ['allow', 'deny', 'redirect']);
        int(eo.proxyPort, [...q, 'proxyPort'], 0, 0xffff);
        int(eo.proxyPortPriority, [...q, 'proxyPortPriority'], 0, 0xff);
        int(eo.authType, [...q, 'authType'], 0, 0x7f);
        bool(eo.hasExplicitAuthType, [...q, 'hasExplicitAuthType']);
        ruleIndexes(eo.derivedFrom, [...q, 'derivedFrom'], rules.length);
      });
    });
    list(d.services, ['services']).forEach((s, i) => {
      const p = ['services', i];
      const so = obj(s, p);
      str(so.service, [...p, 'service']);
      oneOf(so.type, [...p, 'type'], ['ClusterIP', 'NodePort', 'ExternalIP', 'LoadBalancer']);
      addr(so.address, [...p, 'address']);
      int(so.port, [...p, 'port'], 0, 0xffff);
      oneOf(so.protocol, [...p, 'protocol'], PROTOCOLS);
      list(so.backends, [...p, 'backends']).forEach((b, j) => {
        const bo = obj(b, [...p, 'backends', j]);
        addr(bo.address, [...p, 'backends', j, 'address']);
        int(bo.port, [...p, 'backends', j, 'port'], 0, 0xffff);
      });
    });
    list(d.l7, ['l7']).forEach((r, i) => {
      const p = ['l7', i];
      const lo = obj(r, p);
      str(lo.endpoint, [...p, 'endpoint']);
      oneOf(lo.direction, [...p, 'direction'], DIRECTIONS);
      int(lo.protocol, [...p, 'protocol'], 0, 0xff);
      const port = int(lo.port, [...p, 'port'], 0, 0xffff);
      int(lo.endPort, [...p, 'endPort'], port, 0xffff);
      oneOf(lo.parser, [...p, 'parser'], PARSERS);
      int(lo.proxyPort, [...p, 'proxyPort'], 0, 0xffff);
      list(lo.peers, [...p, 'peers']).forEach((x, j) => int(x, [...p, 'peers', j], 0, U32));
      checkL7Rules(lo.parser, lo.rules, [...p, 'rules']);
      ruleIndexes(lo.derivedFrom, [...p, 'derivedFrom'], rules.length);
    });
    list(d.fqdnSelectors, ['fqdnSelectors']).forEach((f, i) => {
      const p = ['fqdnSelectors', i];
      const fo = obj(f, p);
      optStr(fo, 'matchName', p);
      optStr(fo, 'matchPattern', p);
      ruleIndexes(fo.derivedFrom, [...p, 'derivedFrom'], rules.length);
      if (fo.uses === undefined) return;
      list(fo.uses, [...p, 'uses']).forEach((u, j) => {
        const q = [...p, 'uses', j];
        const uo = obj(u, q);
        str(uo.endpoint, [...q, 'endpoint']);
        oneOf(uo.direction, [...q, 'direction'], ['egress']);
        int(uo.protocol, [...q, 'protocol'], 0, 0xff);
        int(uo.port, [...q, 'port'], 0, 0xffff);
        const len = int(uo.prefixLen, [...q, 'prefixLen'], 0, 24);
        if (len > 0 && len < 8) fail([...q, 'prefixLen'], 'must be 0 or 8..24');
        bool(uo.deny, [...q, 'deny']);
        int(uo.proxyPort, [...q, 'proxyPort'], 0, 0xffff);
        int(uo.proxyPortPriority, [...q, 'proxyPortPriority'], 0, 0xff);
        int(uo.authType, [...q, 'authType'], 0, 0x7f);
        bool(uo.hasExplicitAuthType, [...q, 'hasExplicitAuthType']);
        ruleIndexes(uo.derivedFrom, [...q, 'derivedFrom'], rules.length);
        if (uo.l7 !== undefined) {
          const l7 = obj(uo.l7, [...q, 'l7']);
          oneOf(l7.parser, [...q, 'l7', 'parser'], PARSERS);
          const port = int(l7.port, [...q, 'l7', 'port'], 0, 0xffff);
          int(l7.endPort, [...q, 'l7', 'endPort'], port, 0xffff);
          checkL7Rules(l7.parser, l7.rules, [...q, 'l7', 'rules']);
        }
      });
    });
    strings(d.notes, ['notes']);
    return undefined;
  } catch (err) {
    if (err instanceof Problem) return { path: err.path, reason: err.reason };
    throw err;
  }
}

/** `policyMaps[3].entries[7].port` */
export function formatDocumentPath(path: ReadonlyArray<string | number>): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? seg : `.${seg}`;
  return out;
}
