/**
 * What every part of the policy parser shares while reading one policy object: which policy it
 * is (for rule references), the namespace Cilium scopes it to, and the notes it collects.
 */
import type { PolicyRef } from './types.js';

export interface PolicyContext {
  ref: PolicyRef;
  /** The policy's namespace for NetworkPolicy and CNP; undefined for the clusterwide kind. */
  namespace: string | undefined;
  notes: string[];
  note(message: string): void;
}

export function newPolicyContext(ref: PolicyRef): PolicyContext {
  const notes: string[] = [];
  return {
    ref,
    namespace: ref.namespace,
    notes,
    note(message: string) {
      if (!notes.includes(message)) notes.push(message);
    },
  };
}
