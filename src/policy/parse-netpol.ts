/**
 * Kubernetes NetworkPolicy (networking.k8s.io/v1) -> PolicySpec, as Cilium reads it.
 *
 * Mirrors: pkg/k8s/network_policy.go (ParseNetworkPolicy: podSelector and peers become `k8s:`
 * selectors scoped to the policy's namespace, namespaceSelector keys get the
 * `io.cilium.k8s.namespace.labels.` prefix, an empty namespaceSelector means every namespace,
 * ipBlock becomes a CIDR set), Kubernetes' defaulting (policyTypes: Ingress, plus Egress when
 * `egress` has rules) and validation (pkg/apis/networking/validation: a peer is one of
 * podSelector/namespaceSelector or an ipBlock alone, except CIDRs strictly inside the block).
 *
 * Each `ingress[i]`/`egress[i]` is one PolicyRule. A rule without `from`/`to` (or with an empty
 * list) allows every peer; without `ports` every port. A direction listed in policyTypes with no
 * rules denies everything in that direction (default deny, no allow rules).
 */
import type { Field, FieldMap } from '../k8s/yaml-node.js';
import { LabelSource } from '../identity/labels.js';
import { cidrContains, formatCidr, parseCidr, type Cidr } from '../net/addr.js';
import type { PolicyContext } from './context.js';
import { parseNetpolPort } from './ports.js';
import { netpolNamespaceSelector, netpolPodSelector, parseSelector } from './selector.js';
import type { Peer, PolicyRule, PolicySpec, PortRule } from './types.js';

function selector(f: Field) {
  return parseSelector(f, LabelSource.K8S, false);
}

function parseBlockCidr(f: Field, ctx: PolicyContext): Cidr {
  const text = f.string();
  const c = text.includes('/') ? parseCidr(text) : undefined;
  if (!c) f.fail(`not a valid CIDR: ${JSON.stringify(text)} (address/prefix, e.g. 10.0.0.0/8)`);
  const cidr: Cidr = { family: c.family, words: c.words, prefixLen: c.prefixLen };
  if (c.hostBitsSet) ctx.note(`${f.path}: ${text} has host bits set; it is read as ${formatCidr(cidr)}`);
  return cidr;
}

function parseIpBlock(f: Field, ctx: PolicyContext): Peer {
  const m = f.map();
  m.allowOnly(['cidr', 'except']);
  const cidrField: Field = m.get('cidr');
  if (!cidrField.present) f.fail('cidr is required');
  const cidr = parseBlockCidr(cidrField, ctx);
  const except: Cidr[] = [];
  for (const ef of m.get('except').optList() ?? []) {
    const e = parseBlockCidr(ef, ctx);
    // Kubernetes: each except must be a strict subset of cidr.
    if (e.family !== cidr.family || e.prefixLen <= cidr.prefixLen || !cidrContains(cidr, e.family, e.words)) {
      ef.fail(`must be a strict subset of cidr ${formatCidr(cidr)}`);
    }
    except.push(e);
  }
  return { type: 'cidr', cidr, except };
}

function parsePeer(f: Field, ctx: PolicyContext, namespace: string): Peer {
  const m = f.map();
  m.allowOnly(['podSelector', 'namespaceSelector', 'ipBlock']);
  const pod = m.get('podSelector');
  const ns = m.get('namespaceSelector');
  const ip = m.get('ipBlock');
  if (!pod.present && !ns.present && !ip.present) f.fail('must specify a peer: podSelector, namespaceSelector or ipBlock');
  if (ip.present && (pod.present || ns.present)) {
    m.entry('ipBlock')!.failAtKey('may not specify both ipBlock and another peer');
  }
  if (ip.present) return parseIpBlock(ip, ctx);
  if (ns.present) {
    // Both in one item: pods matching podSelector in namespaces matching namespaceSelector (AND).
    return { type: 'endpoints', selector: netpolNamespaceSelector(selector(ns), pod.present ? selector(pod) : undefined) };
  }
  return { type: 'endpoints', selector: netpolPodSelector(selector(pod), namespace) };
}

function parseRule(f: Field, direction: 'ingress' | 'egress', ctx: PolicyContext, namespace: string): PolicyRule {
  const m = f.map();
  const peersKey = direction === 'ingress' ? 'from' : 'to';
  m.allowOnly([peersKey, 'ports']);
  const peerFields = m.get(peersKey).optList() ?? [];
  const peers = peerFields.length === 0 ? undefined : peerFields.map((p) => parsePeer(p, ctx, namespace));
  const portsField: Field = m.get('ports');
  const portFields = portsField.optList() ?? [];
  const portRules: PortRule[] = portFields.length === 0 ? [] : [{ ports: portFields.map(parseNetpolPort), position: portsField.position() }];
  return {
    ref: ctx.ref,
    index: -1,
    position: f.position(),
    direction,
    deny: false,
    peers,
    requires: [],
    portRules,
    authRequired: false,
  };
}

/** `spec` of a NetworkPolicy in `namespace`. */
export function parseNetworkPolicySpec(root: FieldMap, ctx: PolicyContext, namespace: string): PolicySpec {
  const specField: Field = root.get('spec');
  if (!specField.present) root.field.fail('a NetworkPolicy needs spec');
  const m = specField.map();
  m.allowOnly(['podSelector', 'policyTypes', 'ingress', 'egress']);
  const podField: Field = m.get('podSelector');
  const subject = netpolPodSelector(podField.present ? selector(podField) : [], namespace);

  const ingressItems = m.get('ingress').optList() ?? [];
  const egressItems = m.get('egress').optList() ?? [];
  const typesField: Field = m.get('policyTypes');
  const types = new Set<string>();
  for (const t of typesField.optList() ?? []) {
    const v = t.string();
    if (v !== 'Ingress' && v !== 'Egress') t.fail(`unsupported policy type ${JSON.stringify(v)} (Ingress or Egress)`);
    types.add(v);
  }
  if (types.size === 0) {
    // SetDefaults_NetworkPolicy: always Ingress, Egress when there are egress rules.
    types.add('Ingress');
    if (egressItems.length > 0) types.add('Egress');
  }

  const rules: PolicyRule[] = [];
  for (const [direction, items, type] of [
    ['ingress', ingressItems, 'Ingress'],
    ['egress', egressItems, 'Egress'],
  ] as const) {
    if (!types.has(type)) {
      if (items.length > 0) ctx.note(`spec.${direction}: ignored, policyTypes does not list ${type}`);
      continue;
    }
    for (const item of items) rules.push(parseRule(item, direction, ctx, namespace));
  }
  return {
    ref: ctx.ref,
    specIndex: 0,
    position: specField.position(),
    subject: { type: 'endpoints', selector: subject },
    defaultDeny: { ingress: types.has('Ingress'), egress: types.has('Egress') },
    rules,
  };
}
