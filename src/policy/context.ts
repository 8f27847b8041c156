/**
 * What every part of the policy parser shares while reading one policy object: which policy it
 * is (for rule references), the namespace Cilium scopes it to, and the notes it collects.
 */
import { ENVOY_RE2_MAX_PROGRAM_SIZE } from './re2-size.js';
import type { PolicyRef } from './types.js';

/** Settings of the cluster the policies are read for, beyond what the objects say. */
export interface PolicyParseOptions {
  /**
   * Envoy's `re2.max_program_size.error_level` (100 unless the Envoy bootstrap raises it, e.g.
   * through Cilium's Helm value envoy.staticRuntimeConfig): HTTP rule regexes with a larger RE2
   * program are noted, as Envoy rejects them (re2-size.ts).
   */
  envoyRe2MaxProgramSize?: number;
}

export interface PolicyContext {
  ref: PolicyRef;
  /** The policy's namespace for NetworkPolicy and CNP; undefined for the clusterwide kind. */
  namespace: string | undefined;
  /** PolicyParseOptions.envoyRe2MaxProgramSize, defaulted. */
  re2MaxProgramSize: number;
  notes: string[];
  note(message: string): void;
}

export function newPolicyContext(ref: PolicyRef, options: PolicyParseOptions = {}): PolicyContext {
  const notes: string[] = [];
  return {
    ref,
    namespace: ref.namespace,
    re2MaxProgramSize: options.envoyRe2MaxProgramSize ?? ENVOY_RE2_MAX_PROGRAM_SIZE,
    notes,
    note(message: string) {
      if (!notes.includes(message)) notes.push(message);
    },
  };
}
