/**
 * Policy objects (RawObjects from src/k8s/) -> the normalized rule model of ./types.ts.
 *
 * Strict as `kubectl apply --validate=strict` against the schemas (Cilium's CRDs, the
 * NetworkPolicy API): an unknown or mistyped field inside `spec`/`specs` is a PolicyError at the
 * offending node, with its field path. `metadata` and `status` are read leniently (only
 * metadata.name and metadata.namespace matter).
 *
 * Rule indexes (`PolicyRule.index`, the `#n` of `Kind/namespace/name#n`) number a policy's items
 * (ingress, ingressDeny, egress, egressDeny entries, across all specs) in document order.
 */
import { PolicyError } from '../errors.js';
import { objectField } from '../k8s/documents.js';
import type { RawObject } from '../k8s/types.js';
import type { Field } from '../k8s/yaml-node.js';
import { newPolicyContext, type PolicyParseOptions } from './context.js';
import { parseCiliumSpecs } from './parse-cnp.js';
import { parseNetworkPolicySpec } from './parse-netpol.js';
import type { PolicyKind, PolicyObject, PolicyRef, PolicyRule, PolicySpec } from './types.js';

const API_VERSIONS: Record<PolicyKind, string> = {
  NetworkPolicy: 'networking.k8s.io/v1',
  CiliumNetworkPolicy: 'cilium.io/v2',
  CiliumClusterwideNetworkPolicy: 'cilium.io/v2',
};

export function isPolicyKind(kind: string): kind is PolicyKind {
  return Object.prototype.hasOwnProperty.call(API_VERSIONS, kind);
}

/** Numbers every rule item of the policy in document order (line, then column). */
function assignIndexes(specs: PolicySpec[]): void {
  const all: PolicyRule[] = specs.flatMap((s) => s.rules);
  const ordered = all
    .map((rule, i) => ({ rule, i }))
    .sort((a, b) => a.rule.position.line - b.rule.position.line || a.rule.position.col - b.rule.position.col || a.i - b.i);
  ordered.forEach(({ rule }, index) => {
    rule.index = index;
  });
}

/** Parses and validates one NetworkPolicy, CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy. */
export function parsePolicy(raw: RawObject, options: PolicyParseOptions = {}): PolicyObject {
  const kind = raw.kind;
  if (!isPolicyKind(kind)) {
    throw new PolicyError(raw.position, `${kind} is not a policy kind (NetworkPolicy, CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy)`, 'kind');
  }
  const root = objectField(raw, 'policy').map();
  root.allowOnly(kind === 'NetworkPolicy' ? ['apiVersion', 'kind', 'metadata', 'spec', 'status'] : ['apiVersion', 'kind', 'metadata', 'spec', 'specs', 'status']);
  const apiField: Field = root.get('apiVersion');
  if (apiField.string() !== API_VERSIONS[kind]) {
    apiField.fail(`${kind} is served as ${API_VERSIONS[kind]}, not ${JSON.stringify(apiField.string())}`);
  }
  const metaField: Field = root.get('metadata');
  if (!metaField.present) root.field.fail('metadata.name is required');
  const meta = metaField.map();
  const nameField: Field = meta.get('name');
  if (!nameField.present) metaField.fail('name is required');
  const name = nameField.string();
  if (name === '') nameField.fail('must not be empty');

  const notes: string[] = [];
  let ref: PolicyRef;
  if (kind === 'CiliumClusterwideNetworkPolicy') {
    ref = { kind, name };
    if (meta.get('namespace').optString()) notes.push('metadata.namespace is ignored: a CiliumClusterwideNetworkPolicy has no namespace');
  } else {
    let namespace = meta.get('namespace').optString() ?? '';
    if (namespace === '') {
      namespace = 'default';
      notes.push('metadata.namespace is not set; using "default", as kubectl apply would with the default context');
    }
    ref = { kind, namespace, name };
  }

  const ctx = newPolicyContext(ref, options);
  for (const n of notes) ctx.note(n);
  const specs = kind === 'NetworkPolicy' ? [parseNetworkPolicySpec(root, ctx, ref.namespace!)] : parseCiliumSpecs(root, ctx);
  assignIndexes(specs);
  const out: PolicyObject = { ref, position: raw.position, specs };
  if (ctx.notes.length > 0) out.notes = ctx.notes;
  return out;
}

/** Parses every policy object; the first invalid one throws. */
export function parsePolicies(raws: readonly RawObject[], options: PolicyParseOptions = {}): PolicyObject[] {
  return raws.map((raw) => parsePolicy(raw, options));
}
