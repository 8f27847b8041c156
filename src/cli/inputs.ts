/**
 * Shared by `maps` and `replay`: read `--cluster` and `--policy` paths, parse the policies and
 * compile them with the agent tunables named after Cilium's options (design.md §3).
 */
import type { Command } from 'commander';
import { compileMaps } from '../agent/agent.js';
import type { AgentOptions, PolicyEnforcementMode } from '../agent/options.js';
import { UsageError } from '../errors.js';
import { loadClusterObjects } from '../k8s/load.js';
import type { MapsDocument } from '../maps/document.js';
import { parsePolicy } from '../policy/parse.js';

export interface CompileFlags {
  cluster?: string[];
  policy?: string[];
  enablePolicy?: string;
  clusterName?: string;
  hostFirewall?: boolean;
  bpfPolicyMapMax?: string;
  ipcacheMax?: string;
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
    .option('--ipcache-max <n>', 'ipcache entries', '512000');
}

function positiveInt(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 1e8) {
    throw new UsageError(`${flag} must be a whole number between 1 and 100000000, got "${text}"`);
  }
  return Number(text);
}

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
    policyMapMax: positiveInt('--bpf-policy-map-max', flags.bpfPolicyMapMax, 16384),
    ipcacheMax: positiveInt('--ipcache-max', flags.ipcacheMax, 512000),
  };
}

/** Loads, validates and compiles; every input problem surfaces as a HubcapError. */
export function compileFromFlags(flags: CompileFlags): MapsDocument {
  const clusterPaths = flags.cluster ?? [];
  const policyPaths = flags.policy ?? [];
  if (clusterPaths.length === 0) throw new UsageError('--cluster is required (cluster objects as kubectl get -o yaml prints them)');
  const objects = loadClusterObjects([...clusterPaths, ...policyPaths]);
  const policies = objects.policies.map(parsePolicy);
  return compileMaps(objects, policies, agentOptionsFrom(flags));
}
