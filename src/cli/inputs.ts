/**
 * Shared by `maps` and `replay`: read `--cluster` and `--policy` paths, parse the policies and
 * compile them with the agent tunables named after Cilium's options (design.md §3).
 */
import type { Command } from 'commander';
import { compileMaps } from '../agent/agent.js';
import type { AgentOptions, PolicyEnforcementMode } from '../agent/options.js';
import { readFileSync } from 'node:fs';
import { InputError, UsageError } from '../errors.js';
import { loadClusterObjects } from '../k8s/load.js';
import { checkMapsDocument, formatDocumentPath } from '../maps/document-check.js';
import { MAPS_DOCUMENT_VERSION, type MapsDocument } from '../maps/document.js';
import { parsePolicies } from '../policy/parse.js';
import { ENVOY_RE2_MAX_PROGRAM_SIZE } from '../policy/re2-size.js';

export interface CompileFlags {
  cluster?: string[];
  policy?: string[];
  enablePolicy?: string;
  clusterName?: string;
  hostFirewall?: boolean;
  bpfPolicyMapMax?: string;
  ipcacheMax?: string;
  envoyRe2MaxProgramSize?: string;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Adds the input and agent flags to a command. */
export function addCompileOptions(cmd: Command): Command {
  return cmd
    .option('--cluster <path>', 'cluster objects as kubectl prints them (file or directory; repeatable)', collect)
    .option('--policy <path>', 'NetworkPolicy / CiliumNetworkPolicy / CCNP files or directories (repeatable)', collect)
    .option('--enable-policy <mode>', 'policy enforcement mode: default, always, never', 'default')
    .option('--cluster-name <name>', 'cluster name (k8s:io.cilium.k8s.policy.cluster)', 'default')
    .option('--no-host-firewall', 'do not enforce host policies (CCNP nodeSelector), as with the host firewall off')
    .option('--bpf-policy-map-max <n>', 'entries per endpoint policy map', '16384')
    .option('--ipcache-max <n>', 'ipcache entries', '512000')
    .option(
      '--envoy-re2-max-program-size <n>',
      "Envoy's re2.max_program_size.error_level: HTTP rule regexes with a larger RE2 program get a note, as Envoy rejects them",
      String(ENVOY_RE2_MAX_PROGRAM_SIZE),
    );
}

/**
 * The flags that shape the compiled maps, as commander names them and as they are spelled. A maps
 * document (`replay --maps`) was compiled with its own values of them (MapsDocument.options and
 * its notes), so giving one beside --maps would be silently ignored: replay refuses it instead.
 */
const COMPILE_ONLY_FLAGS = [
  ['enablePolicy', '--enable-policy'],
  ['clusterName', '--cluster-name'],
  ['hostFirewall', '--no-host-firewall'],
  ['bpfPolicyMapMax', '--bpf-policy-map-max'],
  ['ipcacheMax', '--ipcache-max'],
  ['envoyRe2MaxProgramSize', '--envoy-re2-max-program-size'],
] as const;

/** The compile flags given on the command line (not left at their defaults), as spelled. */
export function compileFlagsGiven(cmd: Command): string[] {
  return COMPILE_ONLY_FLAGS.filter(([name]) => cmd.getOptionValueSource(name) === 'cli').map(([, flag]) => flag);
}

function positiveInt(flag: string, text: string | undefined, fallback: number, max = 1e8): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > max) {
    throw new UsageError(`${flag} must be a whole number between 1 and ${max}, got "${text}"`);
  }
  return Number(text);
}

/** The largest policy map the maps accept (src/maps/policy-map.ts, native.ts: 1 << 26 entries). */
const POLICY_MAP_MAX = 1 << 26;

export function agentOptionsFrom(flags: CompileFlags): Partial<AgentOptions> {
  const mode = flags.enablePolicy ?? 'default';
  if (mode !== 'default' && mode !== 'always' && mode !== 'never') {
    throw new UsageError(`--enable-policy must be default, always or never, got "${mode}"`);
  }
  return {
    enablePolicy: mode as PolicyEnforcementMode,
    clusterName: flags.clusterName ?? 'default',
    // commander's --no-host-firewall sets hostFirewall=false; absent = automatic.
    hostFirewall: flags.hostFirewall === false ? false : undefined,
    policyMapMax: positiveInt('--bpf-policy-map-max', flags.bpfPolicyMapMax, 16384, POLICY_MAP_MAX),
    ipcacheMax: positiveInt('--ipcache-max', flags.ipcacheMax, 512000),
  };
}

/** Loads, validates and compiles; every input problem surfaces as a HubcapError. */
export function compileFromFlags(flags: CompileFlags): MapsDocument {
  const clusterPaths = flags.cluster ?? [];
  const policyPaths = flags.policy ?? [];
  if (clusterPaths.length === 0) throw new UsageError('--cluster is required (cluster objects as kubectl get -o yaml prints them)');
  // Flags are checked before any input is read. Envoy reads the runtime value as a uint32.
  const agentOptions = agentOptionsFrom(flags);
  const envoyRe2MaxProgramSize = positiveInt('--envoy-re2-max-program-size', flags.envoyRe2MaxProgramSize, ENVOY_RE2_MAX_PROGRAM_SIZE, 0xffffffff);
  const objects = loadClusterObjects([...clusterPaths, ...policyPaths]);
  const policies = parsePolicies(objects.policies, { envoyRe2MaxProgramSize });
  return compileMaps(objects, policies, agentOptions);
}

/** line:col of a character offset, for JSON.parse errors ("... in JSON at position N"). */
function lineCol(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let last = -1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      last = i;
    }
  }
  return { line, col: offset - last };
}

/** Reads a `hubcap maps dump` document for `replay --maps`; one clear line on anything wrong. */
export function loadMapsDocument(file: string): MapsDocument {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(undefined, `${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message;
    const at = /position (\d+)/.exec(message);
    const pos = at ? lineCol(text, Number(at[1])) : { line: 1, col: 1 };
    throw new InputError({ file, ...pos }, `not a maps document: invalid JSON (${message.replace(/ in JSON at position \d+.*$/, '')})`);
  }
  const d = doc as Partial<MapsDocument> | null;
  if (typeof d !== 'object' || d === null || d.generator !== 'hubcap') {
    throw new InputError({ file, line: 1, col: 1 }, 'not a maps document (write one with `hubcap maps ... dump`)');
  }
  if (d.version !== MAPS_DOCUMENT_VERSION) {
    throw new InputError({ file, line: 1, col: 1 }, `maps document version ${String(d.version)} is not supported (this hubcap reads version ${MAPS_DOCUMENT_VERSION})`);
  }
  for (const key of ['nodes', 'identities', 'endpoints', 'policyMaps', 'rules', 'services', 'l7', 'fqdnSelectors', 'notes'] as const) {
    if (!Array.isArray(d[key])) throw new InputError({ file, line: 1, col: 1 }, `maps document: "${key}" must be a list`);
  }
  if (typeof d.ipcache !== 'object' || d.ipcache === null || !Array.isArray(d.ipcache.shared) || !Array.isArray(d.ipcache.views)) {
    throw new InputError({ file, line: 1, col: 1 }, 'maps document: "ipcache" must have "shared" and "views" lists');
  }
  const problem = checkMapsDocument(d);
  if (problem) {
    const at = jsonValueOffset(text, problem.path);
    throw new InputError({ file, ...lineCol(text, at) }, `maps document: ${formatDocumentPath(problem.path)}: ${problem.reason}`);
  }
  return d as MapsDocument;
}

/**
 * Offset of the value at `path` in JSON `text` (already known to parse), or of the deepest
 * ancestor that exists; only called to place an error, so a plain scan is enough.
 */
function jsonValueOffset(text: string, path: ReadonlyArray<string | number>): number {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && ' \t\r\n'.includes(text[i]!)) i++;
  };
  const skipString = (): string => {
    const start = i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const skipValue = (): void => {
    ws();
    const c = text[i];
    if (c === '"') return void skipString();
    if (c === '{' || c === '[') {
      let depth = 0;
      for (; i < text.length; i++) {
        const ch = text[i];
        if (ch === '"') {
          skipString();
          i--;
        } else if (ch === '{' || ch === '[') depth++;
        else if (ch === '}' || ch === ']') {
          if (--depth === 0) {
            i++;
            return;
          }
        }
      }
      return;
    }
    while (i < text.length && !',}]'.includes(text[i]!)) i++;
  };
  ws();
  let found = i;
  for (const seg of path) {
    ws();
    const open = text[i];
    if (typeof seg === 'number' ? open !== '[' : open !== '{') return found;
    i++;
    let hit = false;
    for (let k = 0; ; k++) {
      ws();
      if (text[i] === ']' || text[i] === '}' || i >= text.length) break;
      if (typeof seg === 'string') {
        const key = skipString();
        ws();
        i++; // ':'
        ws();
        if (key === seg) {
          hit = true;
          break;
        }
      } else if (k === seg) {
        hit = true;
        break;
      }
      skipValue();
      ws();
      if (text[i] === ',') i++;
    }
    if (!hit) return found;
    ws();
    found = i;
  }
  return found;
}
