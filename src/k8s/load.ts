/**
 * Loads cluster state and policies from files and directories, as `kubectl apply -R -f PATH`
 * would read them: directories recursively (`.yaml`, `.yml`, `.json`, sorted so the result does
 * not depend on the file system), multi-document files, `kind: List` and typed lists.
 *
 * Cluster kinds become the records of ./types.ts; NetworkPolicy, CiliumNetworkPolicy and
 * CiliumClusterwideNetworkPolicy stay RawObjects for src/policy/ to validate strictly. Everything
 * the loader leaves out or fills in is said in `notes`: unknown kinds (counted), finished pods and
 * pods without addresses, namespaces created for pods that reference them, later duplicates
 * replacing earlier ones.
 */
import { lstatSync, readFileSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { InputError, formatPosition } from '../errors.js';
import { readDocuments, type ReadOptions } from './documents.js';
import {
  NAMESPACE_NAME_LABEL,
  SERVICE_NAME_LABEL,
  readCiliumEndpoint,
  readCiliumIdentity,
  readEndpointSlice,
  readEndpoints,
  readNamespace,
  readNode,
  readPod,
  readService,
} from './objects.js';
import type { ClusterObjects, NamespaceInfo, PodInfo, RawObject, ServiceBackends } from './types.js';

export const POLICY_KINDS = ['NetworkPolicy', 'CiliumNetworkPolicy', 'CiliumClusterwideNetworkPolicy'] as const;

export const CLUSTER_KINDS = [
  'Namespace',
  'Pod',
  'Node',
  'Service',
  'Endpoints',
  'EndpointSlice',
  'CiliumIdentity',
  'CiliumEndpoint',
] as const;

/** Kinds without a namespace: their identity is kind/name. */
const CLUSTER_SCOPED = new Set(['Namespace', 'Node', 'CiliumIdentity', 'CiliumClusterwideNetworkPolicy']);

const KNOWN_KINDS = new Set<string>([...CLUSTER_KINDS, ...POLICY_KINDS]);

const EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** Policy rules and Endpoints subsets carry their own positions (see ReadOptions.positioned). */
const POSITIONED_KINDS = new Set<string>([...POLICY_KINDS, 'Endpoints']);
const READ_OPTIONS: ReadOptions = { positioned: (kind) => POSITIONED_KINDS.has(kind) };

function fsReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  if (code === 'ELOOP') return 'too many levels of symbolic links';
  return code ?? (err instanceof Error ? err.message : String(err));
}

/**
 * The files behind `paths`: files as given, directories walked recursively for .yaml/.yml/.json
 * in sorted order. Each file once, even when reached twice (a directory and a file in it).
 * Inside a directory, symbolic links to files are read but links to directories are not
 * followed, as `kubectl apply -R` (Go's filepath.Walk) does; that also rules out loops.
 */
export function collectFiles(paths: readonly string[]): string[] {
  if (paths.length === 0) throw new InputError(undefined, 'no input files: give at least one file or directory');
  const out: string[] = [];
  const seen = new Set<string>();
  const add = (file: string): void => {
    let real: string;
    try {
      real = realpathSync(file);
    } catch (err) {
      throw new InputError(undefined, `${file}: ${fsReason(err)}`);
    }
    if (seen.has(real)) return;
    seen.add(real);
    out.push(file);
  };
  const walk = (dir: string): number => {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch (err) {
      throw new InputError(undefined, `${dir}: ${fsReason(err)}`);
    }
    let found = 0;
    for (const name of names) {
      const child = join(dir, name);
      let st;
      try {
        const link = lstatSync(child);
        if (link.isSymbolicLink()) {
          st = statSync(child);
          if (st.isDirectory()) continue;
        } else {
          st = link;
        }
      } catch {
        // A dangling symlink inside a directory is not an input the user named.
        continue;
      }
      if (st.isDirectory()) found += walk(child);
      else if (st.isFile() && EXTENSIONS.has(extname(name).toLowerCase())) {
        add(child);
        found++;
      }
    }
    return found;
  };
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch (err) {
      throw new InputError(undefined, `${p}: ${fsReason(err)}`);
    }
    if (st.isDirectory()) {
      if (walk(p) === 0) throw new InputError(undefined, `${p}: no .yaml, .yml or .json files in this directory`);
    } else {
      add(p);
    }
  }
  return out;
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(undefined, `${file}: cannot read: ${fsReason(err)}`);
  }
}

/** Loads every file behind `paths` into one cluster model. */
export function loadClusterObjects(paths: string[]): ClusterObjects {
  const files = collectFiles(paths);
  const raws: RawObject[] = [];
  const skippedKinds: string[] = [];
  for (const file of files) {
    const r = readDocuments(readText(file), file, (kind) => KNOWN_KINDS.has(kind), READ_OPTIONS);
    raws.push(...r.objects);
    skippedKinds.push(...r.skippedKinds);
  }
  return buildClusterObjects(raws, skippedKinds);
}

/** The same, from text in memory (tests, stdin). */
export function loadClusterText(text: string, file: string): ClusterObjects {
  const r = readDocuments(text, file, (kind) => KNOWN_KINDS.has(kind), READ_OPTIONS);
  return buildClusterObjects(r.objects, r.skippedKinds);
}

function objectKey(raw: RawObject): string {
  const ns = CLUSTER_SCOPED.has(raw.kind) ? '' : (raw.namespace ?? 'default');
  return `${raw.kind}/${ns}/${raw.name}`;
}

function describe(raw: RawObject): string {
  const ns = CLUSTER_SCOPED.has(raw.kind) ? '' : `${raw.namespace ?? 'default'}/`;
  return `${raw.kind} ${ns}${raw.name}`;
}

function listNote(count: number, what: string, names: string[], max = 5): string {
  const shown = names.slice(0, max).join(', ');
  const more = names.length > max ? `, and ${names.length - max} more` : '';
  return `${what.replace('#', String(count))}: ${shown}${more}`;
}

/** Turns loaded objects into the cluster model; later duplicates win. */
export function buildClusterObjects(raws: readonly RawObject[], skippedKinds: readonly string[] = []): ClusterObjects {
  const notes: string[] = [];

  // Later duplicates (same kind/namespace/name) replace earlier ones, as a second
  // `kubectl apply` would; the winner keeps the first one's place in the order.
  const byKey = new Map<string, RawObject>();
  const replaced: string[] = [];
  for (const raw of raws) {
    const key = objectKey(raw);
    const prev = byKey.get(key);
    if (prev) replaced.push(`${describe(raw)} (${formatPosition(prev.position)} replaced by ${formatPosition(raw.position)})`);
    byKey.set(key, raw);
  }
  if (replaced.length > 0) {
    notes.push(listNote(replaced.length, `# duplicate object${replaced.length === 1 ? '' : 's'}, the later one wins`, replaced));
  }

  const out: ClusterObjects = {
    namespaces: new Map(),
    pods: [],
    nodes: [],
    services: [],
    backends: [],
    ciliumIdentities: [],
    ciliumEndpoints: [],
    policies: [],
    notes,
  };
  const finished: string[] = [];
  const noIp: string[] = [];
  const endpointsBackends: ServiceBackends[] = [];
  const sliceBackends: ServiceBackends[] = [];
  const slicesWithoutService: string[] = [];
  const cepsWithoutIdentity: string[] = [];
  const namespaceObjects = new Map<string, NamespaceInfo>();
  const pods: PodInfo[] = [];

  for (const raw of byKey.values()) {
    switch (raw.kind) {
      case 'Namespace': {
        const ns = readNamespace(raw);
        namespaceObjects.set(ns.name, ns);
        break;
      }
      case 'Pod': {
        const r = readPod(raw);
        const name = `${r.pod.namespace}/${r.pod.name}`;
        if (r.skip === 'finished') finished.push(`${name} (${r.phase})`);
        else if (r.skip === 'no-ip') noIp.push(name);
        else pods.push(r.pod);
        break;
      }
      case 'Node':
        out.nodes.push(readNode(raw));
        break;
      case 'Service':
        out.services.push(readService(raw));
        break;
      case 'Endpoints':
        endpointsBackends.push(...readEndpoints(raw));
        break;
      case 'EndpointSlice': {
        const r = readEndpointSlice(raw);
        if (r.backends) sliceBackends.push(r.backends);
        else if (r.addressType === 'IPv4' || r.addressType === 'IPv6') slicesWithoutService.push(`${raw.namespace ?? 'default'}/${raw.name}`);
        break;
      }
      case 'CiliumIdentity':
        out.ciliumIdentities.push(readCiliumIdentity(raw));
        break;
      case 'CiliumEndpoint': {
        const cep = readCiliumEndpoint(raw);
        if (cep) out.ciliumEndpoints.push(cep);
        else cepsWithoutIdentity.push(`${raw.namespace ?? 'default'}/${raw.name}`);
        break;
      }
      default:
        out.policies.push(raw);
    }
  }

  if (finished.length > 0) {
    notes.push(listNote(finished.length, `skipped # pod${finished.length === 1 ? '' : 's'} in phase Succeeded or Failed`, finished));
  }
  if (noIp.length > 0) {
    notes.push(listNote(noIp.length, `skipped # pod${noIp.length === 1 ? '' : 's'} without an IP address (status.podIPs)`, noIp));
  }
  if (slicesWithoutService.length > 0) {
    notes.push(listNote(slicesWithoutService.length, `skipped # EndpointSlice(s) without the ${SERVICE_NAME_LABEL} label`, slicesWithoutService));
  }
  if (cepsWithoutIdentity.length > 0) {
    notes.push(listNote(cepsWithoutIdentity.length, 'skipped # CiliumEndpoint(s) without status.identity.id', cepsWithoutIdentity));
  }

  // Namespaces: the objects, plus an implicit one for every namespace a pod lives in.
  for (const [name, ns] of namespaceObjects) out.namespaces.set(name, ns);
  const implicit: string[] = [];
  for (const pod of pods) {
    if (out.namespaces.has(pod.namespace)) continue;
    out.namespaces.set(pod.namespace, {
      name: pod.namespace,
      labels: { [NAMESPACE_NAME_LABEL]: pod.namespace },
      position: pod.position,
    });
    implicit.push(pod.namespace);
  }
  if (implicit.length > 0) {
    notes.push(
      listNote(
        implicit.length,
        `created # namespace${implicit.length === 1 ? '' : 's'} with no Namespace object (labels: only ${NAMESPACE_NAME_LABEL})`,
        implicit,
      ),
    );
  }
  out.pods = pods;

  // Cilium reads EndpointSlices; Endpoints only count for services that have no slice.
  const sliced = new Set(sliceBackends.map((b) => `${b.namespace}/${b.serviceName}`));
  out.backends = [...sliceBackends, ...endpointsBackends.filter((b) => !sliced.has(`${b.namespace}/${b.serviceName}`))];

  if (skippedKinds.length > 0) {
    const counts = new Map<string, number>();
    for (const k of skippedKinds) counts.set(k, (counts.get(k) ?? 0) + 1);
    const parts = [...counts.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([k, n]) => `${k} (${n})`);
    notes.push(`skipped ${skippedKinds.length} object${skippedKinds.length === 1 ? '' : 's'} of unknown kinds: ${parts.join(', ')}`);
  }
  return out;
}
