/**
 * `hubcap maps --cluster PATH... --policy PATH... VIEW`: what the agent would install.
 *
 * Views read like the Cilium tools: `identities` (cilium identity list), `ipcache [--node N]`
 * (cilium bpf ipcache list, per node view), `policy ENDPOINT` (cilium bpf policy get),
 * `pressure` (entries per policy map against the limit, fullest first), `dump` (the whole
 * document, which `replay --maps` loads). Tables by default, `-o json` one object per row.
 */
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import type { MapsDocument, PolicyEntryRecord } from '../maps/document.js';
import { RESERVED_IDENTITY_NAMES } from '../identity/reserved.js';
import { addCompileOptions, compileFromFlags, type CompileFlags } from './inputs.js';
import type { CliContext } from './main.js';
import { LineWriter, warn } from './output.js';
import { formatTable } from './table.js';

const VIEWS = ['identities', 'ipcache', 'policy', 'pressure', 'dump'] as const;
type View = (typeof VIEWS)[number];

interface MapsFlags extends CompileFlags {
  output: string;
  node?: string;
  quiet?: boolean;
}

const PROTO_NAMES: Readonly<Record<number, string>> = { 0: 'ANY', 1: 'ICMP', 6: 'TCP', 17: 'UDP', 58: 'ICMPv6', 132: 'SCTP' };

export function protocolName(proto: number): string {
  return PROTO_NAMES[proto] ?? String(proto);
}

/** `80/TCP`, `8000-8003/TCP` style text of a key's protocol/port prefix. */
export function portText(e: Pick<PolicyEntryRecord, 'protocol' | 'port' | 'prefixLen'>): string {
  if (e.prefixLen === 0) return 'ANY';
  const proto = protocolName(e.protocol);
  if (e.prefixLen <= 8) return `ANY/${proto}`;
  if (e.prefixLen === 24) return `${e.port}/${proto}`;
  const span = 1 << (24 - e.prefixLen);
  return `${e.port}-${e.port + span - 1}/${proto}`;
}

export function verdictText(e: PolicyEntryRecord): string {
  return e.verdict === 'redirect' ? `redirect:${e.proxyPort}` : e.verdict;
}

function identityLabels(doc: MapsDocument, identity: number, node: string | undefined): string[] {
  if (identity === 0) return ['reserved:unknown (any)'];
  // The host identity's labels are per node (kube-apiserver where the apiserver runs).
  if (identity === 1 && node) {
    const nodeRec = doc.nodes.find((n) => n.name === node);
    if (nodeRec) return nodeRec.hostIdentityLabels;
  }
  return doc.identities.find((i) => i.identity === identity)?.labels ?? [];
}

function identityName(identity: number): string {
  const name = RESERVED_IDENTITY_NAMES[identity];
  return name && identity !== 0 ? `${identity} (${name})` : String(identity);
}

function printIdentities(doc: MapsDocument, json: boolean, out: LineWriter): void {
  if (json) {
    for (const r of doc.identities) out.line(JSON.stringify({ identity: r.identity, labels: r.labels, endpoints: r.endpoints }));
    return;
  }
  const rows = doc.identities.map((r) => [String(r.identity), r.labels.join(' '), r.endpoints.join(' ')]);
  for (const l of formatTable(['IDENTITY', 'LABELS', 'ENDPOINTS'], rows)) out.line(l);
}

function ipcacheView(doc: MapsDocument, node: string): Array<{ prefix: string; identity: number }> {
  const view = doc.ipcache.views.find((v) => v.node === node);
  const local = new Map((view?.entries ?? []).map((e) => [e.prefix, e.identity]));
  const merged = doc.ipcache.shared.filter((e) => !local.has(e.prefix)).concat(view?.entries ?? []);
  return merged.sort((a, b) => {
    const fa = a.prefix.includes(':') ? 6 : 4;
    const fb = b.prefix.includes(':') ? 6 : 4;
    return fa - fb || (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0);
  });
}

function printIpcache(doc: MapsDocument, node: string | undefined, json: boolean, out: LineWriter): void {
  const nodes = node === undefined ? doc.nodes.map((n) => n.name) : [node];
  if (node !== undefined && !doc.nodes.some((n) => n.name === node)) {
    throw new UsageError(`--node ${node}: no such node (nodes: ${doc.nodes.map((n) => n.name).join(', ') || 'none'})`);
  }
  const rows: string[][] = [];
  for (const n of nodes) {
    for (const e of ipcacheView(doc, n)) {
      const labels = identityLabels(doc, e.identity, n);
      if (json) out.line(JSON.stringify({ node: n, prefix: e.prefix, identity: e.identity, labels }));
      else rows.push([n, e.prefix, identityName(e.identity), labels.join(' ')]);
    }
  }
  if (!json) for (const l of formatTable(['NODE', 'PREFIX', 'IDENTITY', 'LABELS'], rows)) out.line(l);
}

function printPolicy(doc: MapsDocument, endpoint: string | undefined, json: boolean, out: LineWriter): void {
  if (!endpoint) throw new UsageError('maps policy needs an endpoint: ns/pod or node/NAME');
  const map = doc.policyMaps.find((m) => m.endpoint === endpoint);
  if (!map) {
    const known = doc.policyMaps.map((m) => m.endpoint);
    const hint = known.length > 8 ? `${known.slice(0, 8).join(', ')}, ...` : known.join(', ');
    throw new UsageError(`no endpoint ${endpoint} (endpoints: ${hint || 'none'})`);
  }
  const node = doc.endpoints.find((e) => e.name === endpoint)?.node;
  const rows: string[][] = [];
  for (const e of map.entries) {
    const labels = identityLabels(doc, e.identity, node);
    const derived = e.derivedFrom.map((i) => doc.rules[i]?.ref ?? String(i));
    if (json) {
      out.line(
        JSON.stringify({
          endpoint,
          direction: e.direction,
          identity: e.identity,
          labels,
          protocol: e.protocol,
          port: e.port,
          prefix_len: e.prefixLen,
          verdict: e.verdict,
          proxy_port: e.proxyPort,
          ...(e.authType ? { auth_type: e.authType } : {}),
          derived_from: derived,
        }),
      );
    } else {
      rows.push([
        e.direction === 'ingress' ? 'Ingress' : 'Egress',
        identityName(e.identity),
        labels.join(' '),
        portText(e),
        String(e.prefixLen),
        verdictText(e) + (e.authType ? ` auth:${e.authType}` : ''),
        derived.join(' '),
      ]);
    }
  }
  if (!json) {
    for (const l of formatTable(['DIRECTION', 'IDENTITY', 'LABELS', 'PORT/PROTO', 'PREFIX', 'VERDICT', 'DERIVED FROM'], rows)) out.line(l);
  }
}

function printPressure(doc: MapsDocument, json: boolean, out: LineWriter): void {
  const rows = doc.policyMaps
    .map((m) => ({ endpoint: m.endpoint, entries: m.entries.length + m.overflow, limit: m.capacity }))
    .map((r) => ({ ...r, percent: Math.round((r.entries / r.limit) * 1000) / 10 }))
    .sort((a, b) => b.entries - a.entries || (a.endpoint < b.endpoint ? -1 : 1));
  if (json) {
    for (const r of rows) out.line(JSON.stringify(r));
    return;
  }
  const table = rows.map((r) => [r.endpoint, String(r.entries), String(r.limit), `${r.percent.toFixed(1)}%`]);
  for (const l of formatTable(['ENDPOINT', 'ENTRIES', 'LIMIT', 'PERCENT'], table)) out.line(l);
}

export function registerMapsCommand(program: Command, _ctx: CliContext): void {
  const cmd = program
    .command('maps')
    .description('show what the agent compiles: identities, ipcache, policy maps, map pressure, or the whole dump')
    .argument('<view>', `one of: ${VIEWS.join(', ')}`)
    .argument('[endpoint]', 'for `policy`: ns/pod or node/NAME')
    .option('-o, --output <format>', 'table or json', 'table')
    .option('--node <name>', 'for `ipcache`: only this node\'s view')
    .option('-q, --quiet', 'do not print the agent\'s notes on stderr');
  addCompileOptions(cmd).action((view: string, endpoint: string | undefined, flags: MapsFlags) => {
    if (!VIEWS.includes(view as View)) throw new UsageError(`unknown view "${view}": one of ${VIEWS.join(', ')}`);
    if (flags.output !== 'table' && flags.output !== 'json') {
      throw new UsageError(`-o must be table or json, got "${flags.output}"`);
    }
    // What only one view reads is refused by the others, not silently ignored.
    if (endpoint !== undefined && view !== 'policy') throw new UsageError(`an endpoint ("${endpoint}") is for the policy view, not ${view}`);
    if (flags.node !== undefined && view !== 'ipcache') throw new UsageError(`--node is for the ipcache view, not ${view}`);
    const doc = compileFromFlags(flags);
    if (!flags.quiet) for (const note of doc.notes) warn(`note: ${note}`);
    const json = flags.output === 'json';
    const out = new LineWriter();
    switch (view as View) {
      case 'identities':
        printIdentities(doc, json, out);
        break;
      case 'ipcache':
        printIpcache(doc, flags.node, json, out);
        break;
      case 'policy':
        printPolicy(doc, endpoint, json, out);
        break;
      case 'pressure':
        printPressure(doc, json, out);
        break;
      case 'dump':
        out.line(JSON.stringify(doc, null, 1));
        break;
    }
    out.flush();
  });
}
