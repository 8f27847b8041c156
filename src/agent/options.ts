/**
 * Agent tunables, named after the Cilium agent options they mirror (design.md §3).
 */

import type { HeapUse } from './heap-guard.js';

export type PolicyEnforcementMode = 'default' | 'always' | 'never';

export interface AgentOptions {
  /** `--cluster-name`: the value of `k8s:io.cilium.k8s.policy.cluster`. */
  clusterName: string;
  /** `--enable-policy` (Cilium's policy enforcement mode). */
  enablePolicy: PolicyEnforcementMode;
  /**
   * Host firewall (`--enable-host-firewall`): host endpoints get policy maps from CCNPs with a
   * nodeSelector. `undefined` = on when any host policy is loaded (`--no-host-firewall` = false).
   */
  hostFirewall: boolean | undefined;
  /** `--bpf-policy-map-max`: entries per endpoint policy map. */
  policyMapMax: number;
  /** `--ipcache-max` (Cilium: bpf-map-entries of the ipcache, 512,000). */
  ipcacheMax: number;
  /**
   * @internal The heap statistics the policy-map guard reads (heap-guard.ts); tests pass their
   * own. Default: V8's.
   */
  heapUse?: () => HeapUse;
}

export const DEFAULT_AGENT_OPTIONS: AgentOptions = {
  clusterName: 'default',
  enablePolicy: 'default',
  hostFirewall: undefined,
  policyMapMax: 16384,
  ipcacheMax: 512000,
};

/**
 * Fixed proxy ports per L7 parser and direction. Cilium allocates its listener ports
 * dynamically (pkg/proxy, 10000-20000); fixed numbers keep `maps dump` stable across runs.
 */
export const PROXY_PORTS = {
  'http/ingress': 10001,
  'http/egress': 10002,
  'dns/ingress': 10003,
  'dns/egress': 10004,
  'kafka/ingress': 10005,
  'kafka/egress': 10006,
} as const;

/**
 * Proxy port priority of an L7 redirect. Cilium gives listener redirects a priority (>0) and
 * plain allows 0; only the order matters to the lookup, so every parser shares one value.
 */
export const L7_PROXY_PORT_PRIORITY = 1;

/** Auth type of `authentication.mode: required` (Cilium's auth type "spire" = 1). */
export const AUTH_TYPE_SPIRE = 1;
/** `authentication.mode: test-always-fail`. */
export const AUTH_TYPE_ALWAYS_FAIL = 2;
