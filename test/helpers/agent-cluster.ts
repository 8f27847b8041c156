/**
 * Tiny cluster builders for agent tests: each returns a YAML document as kubectl prints it, so
 * the tests go through the same loader and parser as users do.
 */
import { compileMaps } from '../../src/agent/agent.js';
import type { AgentOptions } from '../../src/agent/options.js';
import { loadClusterText } from '../../src/k8s/load.js';
import type { MapsDocument, PolicyEntryRecord } from '../../src/maps/document.js';
import { parsePolicies } from '../../src/policy/parse.js';

export function ns(name: string, labels: Record<string, string> = {}): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { 'kubernetes.io/metadata.name': name, ...labels } },
  });
}

export function node(name: string, ip: string, labels: Record<string, string> = {}): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...labels } },
    status: { addresses: [{ type: 'InternalIP', address: ip }] },
  });
}

export interface PodOptions {
  node?: string;
  ports?: Array<{ name: string; containerPort: number; protocol?: string }>;
  serviceAccount?: string;
  ips?: string[];
}

export function pod(namespace: string, name: string, labels: Record<string, string>, ip: string, opts: PodOptions = {}): string {
  const ips = opts.ips ?? [ip];
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels },
    spec: {
      nodeName: opts.node ?? 'node-a',
      serviceAccountName: opts.serviceAccount ?? 'default',
      containers: [{ name: 'c', image: 'x', ports: opts.ports ?? [] }],
    },
    status: { phase: 'Running', podIP: ips[0], podIPs: ips.map((i) => ({ ip: i })) },
  });
}

/** A CiliumNetworkPolicy object (JSON is YAML) with this spec. */
export function cnp(namespace: string, name: string, spec: object): string {
  return JSON.stringify({ apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name, namespace }, spec });
}

export function docs(...parts: string[]): string {
  return parts.join('\n---\n');
}

/** Compiles cluster + policy YAML text through the real loader, parser and agent. */
export function compile(yaml: string, options: Partial<AgentOptions> = {}): MapsDocument {
  const objects = loadClusterText(yaml, 'test.yaml');
  return compileMaps(objects, parsePolicies(objects.policies), options);
}

const PROTO: Record<number, string> = { 0: 'ANY', 1: 'ICMP', 6: 'TCP', 17: 'UDP', 58: 'ICMPv6', 132: 'SCTP' };

/** `ingress 300 TCP/80/24 allow` style lines of one endpoint's map (readable assertions). */
export function entryLines(doc: MapsDocument, endpoint: string, direction?: 'ingress' | 'egress'): string[] {
  const map = doc.policyMaps.find((m) => m.endpoint === endpoint);
  if (!map) throw new Error(`no endpoint ${endpoint} in ${doc.policyMaps.map((m) => m.endpoint).join(', ')}`);
  return map.entries
    .filter((e) => direction === undefined || e.direction === direction)
    .map((e: PolicyEntryRecord) => `${e.direction} ${e.identity} ${PROTO[e.protocol] ?? e.protocol}/${e.port}/${e.prefixLen} ${e.verdict}${e.proxyPort ? `:${e.proxyPort}` : ''}`);
}

export function identityOf(doc: MapsDocument, endpoint: string): number {
  const ep = doc.endpoints.find((e) => e.name === endpoint);
  if (!ep) throw new Error(`no endpoint ${endpoint}`);
  return ep.identity;
}
