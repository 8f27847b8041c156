/**
 * CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy specs -> PolicySpec.
 *
 * Mirrors: the cilium.io/v2 CRD schema (structural: unknown fields are errors under
 * `kubectl apply --validate=strict`), pkg/policy/api (Rule, IngressRule, IngressDenyRule,
 * EgressRule, EgressDenyRule, CIDRRule, Service, FQDNSelector, Authentication), the checks of
 * rule_validation.go (one kind of peer per rule item, no ICMPs beside toPorts, exception CIDRs
 * inside their CIDR), and the namespace scoping of pkg/k8s/apis/cilium.io/utils/utils.go.
 *
 * Deliberate differences: `fromGroups`/`toGroups` (cloud security groups), `cidrGroupRef` /
 * `cidrGroupSelector` (CiliumCIDRGroup objects) and `listener` (CiliumEnvoyConfig) are refused
 * with a reason, since hubcap cannot resolve what they point to; TLS interception is accepted
 * with a note. Port numbers written without quotes are accepted with a note (the CRD declares a
 * string and the API server refuses them).
 */
import type { Field, FieldMap } from '../k8s/yaml-node.js';
import { cidrContains, formatCidr, parseCidr, type Cidr } from '../net/addr.js';
import { parseIcmpRule } from './icmp.js';
import { parseDnsSelector } from './l7.js';
import { parseCnpPortRule, type PortContext } from './ports.js';
import type { PolicyContext } from './context.js';
import {
  cnpSubject,
  makeSelector,
  matchesInit,
  parseSelector,
  peerSelector,
  type ParsedRequirement,
} from './selector.js';
import type { EndpointSelector, EntityName, Peer, PolicyRule, PolicySpec, PortRule, Subject } from './types.js';

/** Entities the CRD accepts (pkg/policy/api/entity.go), plus the per-family world entities. */
const CRD_ENTITIES: readonly EntityName[] = [
  'all',
  'world',
  'cluster',
  'host',
  'init',
  'ingress',
  'unmanaged',
  'remote-node',
  'health',
  'none',
  'kube-apiserver',
];
const FAMILY_ENTITIES: readonly EntityName[] = ['world-ipv4', 'world-ipv6'];

const RULE_KEYS = [
  'endpointSelector',
  'nodeSelector',
  'ingress',
  'ingressDeny',
  'egress',
  'egressDeny',
  'labels',
  'enableDefaultDeny',
  'description',
  'log',
] as const;

const INGRESS_L3 = ['fromEndpoints', 'fromCIDR', 'fromCIDRSet', 'fromEntities', 'fromNodes'] as const;
const EGRESS_L3 = ['toEndpoints', 'toCIDR', 'toCIDRSet', 'toEntities', 'toServices', 'toFQDNs', 'toNodes'] as const;

const GROUPS_REASON = 'needs a cloud provider (AWS security groups), which hubcap does not model; use CIDRs';
const CIDR_GROUP_REASON = 'needs CiliumCIDRGroup objects, which hubcap does not load; write the CIDRs out with cidr';

interface RuleContext {
  policy: PolicyContext;
  /** Subject requirements as written, for the `reserved:init` check of CCNP peers. */
  subjectReqs: ParsedRequirement[];
  hostPolicy: boolean;
}

/** A CIDR as the CRD pattern wants it (`address/prefix`); host bits are masked, as Cilium does. */
function parseCidrText(f: Field, ctx: PolicyContext): Cidr {
  const text = f.string();
  if (!text.includes('/')) f.fail(`${JSON.stringify(text)} needs a prefix length, e.g. "${text}/${text.includes(':') ? 128 : 32}"`);
  const c = parseCidr(text.trim());
  if (!c) f.fail(`not a valid CIDR: ${JSON.stringify(text)}`);
  const cidr: Cidr = { family: c.family, words: c.words, prefixLen: c.prefixLen };
  if (c.hostBitsSet) ctx.note(`${f.path}: ${text} has host bits set; Cilium masks it to ${formatCidr(cidr)}`);
  return cidr;
}

function parseCidrRule(f: Field, ctx: PolicyContext): Peer {
  const m = f.map();
  m.allowOnly(['cidr', 'except'], { cidrGroupRef: `cidrGroupRef ${CIDR_GROUP_REASON}`, cidrGroupSelector: `cidrGroupSelector ${CIDR_GROUP_REASON}` });
  const cidrField: Field = m.get('cidr');
  if (!cidrField.present) f.fail('cidr is required');
  const cidr = parseCidrText(cidrField, ctx);
  const except: Cidr[] = [];
  for (const ef of m.get('except').optList() ?? []) {
    const e = parseCidrText(ef, ctx);
    if (e.family !== cidr.family || e.prefixLen < cidr.prefixLen || !cidrContains(cidr, e.family, e.words)) {
      ef.fail(`allow CIDR prefix ${formatCidr(cidr)} does not contain exclude CIDR prefix ${formatCidr(e)}`);
    }
    except.push(e);
  }
  return { type: 'cidr', cidr, except };
}

function parseEntity(f: Field, ctx: PolicyContext): Peer {
  const name = f.string();
  if ((CRD_ENTITIES as readonly string[]).includes(name)) return { type: 'entity', entity: name as EntityName };
  if ((FAMILY_ENTITIES as readonly string[]).includes(name)) {
    ctx.note(`${f.path}: entity ${name} is known to Cilium's policy engine but missing from the CRD's list of entities (1.18), so the API server may reject it`);
    return { type: 'entity', entity: name as EntityName };
  }
  return f.fail(`unsupported entity ${JSON.stringify(name)} (${[...CRD_ENTITIES, ...FAMILY_ENTITIES].join(', ')})`);
}

function parseService(f: Field): Peer {
  const m = f.map();
  m.allowOnly(['k8sService', 'k8sServiceSelector']);
  const byName = m.get('k8sService');
  const bySelector = m.get('k8sServiceSelector');
  if (byName.present === bySelector.present) f.fail('exactly one of k8sService and k8sServiceSelector must be set');
  if (byName.present) {
    const nm = byName.map();
    nm.allowOnly(['serviceName', 'namespace']);
    const nameField: Field = nm.get('serviceName');
    if (!nameField.present) byName.fail('serviceName is required');
    const name = nameField.string();
    if (name === '') nameField.fail('must not be empty');
    return { type: 'service', name, namespace: nm.get('namespace').optString() ?? '' };
  }
  const sm = bySelector.map();
  sm.allowOnly(['selector', 'namespace']);
  const selField: Field = sm.get('selector');
  if (!selField.present) bySelector.fail('selector is required');
  const selector = makeSelector(parseSelector(selField));
  return { type: 'service', namespace: sm.get('namespace').optString() ?? '', selector };
}

function endpointPeers(list: Field[], ctx: RuleContext): EndpointSelector[] {
  return list.map((f) => peerSelector(parseSelector(f), ctx.policy.namespace, { subjectMatchesInit: matchesInit(ctx.subjectReqs) }));
}

/** One item of ingress / ingressDeny / egress / egressDeny. */
function parseRuleItem(f: Field, direction: 'ingress' | 'egress', deny: boolean, ctx: RuleContext): PolicyRule {
  const m = f.map();
  const ingress = direction === 'ingress';
  const section = `${direction}${deny ? 'Deny' : ''}`;
  const l3Keys: readonly string[] = ingress ? INGRESS_L3 : EGRESS_L3;
  const allowed = [...l3Keys, ingress ? 'fromRequires' : 'toRequires', 'toPorts', 'icmps'];
  const rejected: Record<string, string> = {
    [ingress ? 'fromGroups' : 'toGroups']: `${ingress ? 'fromGroups' : 'toGroups'} ${GROUPS_REASON}`,
  };
  if (deny) {
    rejected.authentication = `authentication is not allowed in ${section} rules`;
    if (!ingress) rejected.toFQDNs = 'toFQDNs is not allowed in egressDeny rules (Cilium has no FQDN deny rules)';
  } else {
    allowed.push('authentication');
  }
  m.allowOnly(deny && !ingress ? allowed.filter((k) => k !== 'toFQDNs') : allowed, rejected);

  // rule_validation.go: at most one kind of peer per item ("combining X and Y is not supported yet").
  const l3Present = m.entries.filter((e) => l3Keys.includes(e.key) && e.value.present);
  const nonEmpty = l3Present.filter((e) => e.value.kind === 'list' && e.value.list().length > 0);
  if (nonEmpty.length > 1) {
    const [a, b] = [nonEmpty[0]!, nonEmpty[1]!];
    b.failAtKey(`combining ${a.key} and ${b.key} is not supported yet; use two rule items`);
  }

  let peers: Peer[] | undefined;
  const collected: Peer[] = [];
  let explicitEmpty = false;
  for (const e of l3Present) {
    const items = e.value.list();
    if (items.length === 0) explicitEmpty = true;
    switch (e.key) {
      case 'fromEndpoints':
      case 'toEndpoints':
        for (const selector of endpointPeers(items, ctx)) collected.push({ type: 'endpoints', selector });
        break;
      case 'fromNodes':
      case 'toNodes':
        ctx.policy.note(`${e.value.path}: node selectors need Cilium's --enable-node-selector-labels`);
        for (const item of items) collected.push({ type: 'nodes', selector: makeSelector(parseSelector(item)) });
        break;
      case 'fromEntities':
      case 'toEntities':
        for (const item of items) collected.push(parseEntity(item, ctx.policy));
        break;
      case 'fromCIDR':
      case 'toCIDR':
        for (const item of items) collected.push({ type: 'cidr', cidr: parseCidrText(item, ctx.policy), except: [] });
        break;
      case 'fromCIDRSet':
      case 'toCIDRSet':
        for (const item of items) collected.push(parseCidrRule(item, ctx.policy));
        break;
      case 'toServices':
        for (const item of items) collected.push(parseService(item));
        break;
      case 'toFQDNs':
        for (const item of items) {
          const sel = parseDnsSelector(item);
          collected.push(sel.matchName !== undefined ? { type: 'fqdn', matchName: sel.matchName } : { type: 'fqdn', matchPattern: sel.matchPattern! });
        }
        break;
    }
  }

  const requiresField: Field = m.get(ingress ? 'fromRequires' : 'toRequires');
  const requires = endpointPeers(requiresField.optList() ?? [], ctx);

  const portCtx: PortContext = {
    direction,
    deny,
    hostPolicy: ctx.hostPolicy,
    re2MaxProgramSize: ctx.policy.re2MaxProgramSize,
    note: (msg) => ctx.policy.note(msg),
  };
  const toPortsField: Field = m.get('toPorts');
  const icmpsField: Field = m.get('icmps');
  const toPorts = toPortsField.optList() ?? [];
  const icmps = icmpsField.optList() ?? [];
  if (toPorts.length > 0 && icmps.length > 0) {
    icmpsField.fail('the ICMPs block may only be present without toPorts; define a separate rule to use toPorts');
  }
  const portRules: PortRule[] = [...toPorts.map((pf) => parseCnpPortRule(pf, portCtx)), ...icmps.map(parseIcmpRule)];

  if (l3Present.length > 0) {
    // An explicitly empty peer list selects nothing (IngressCommonRule.SetAggregatedSelectors).
    peers = explicitEmpty ? [] : collected;
  } else if (portRules.length > 0 && requires.length === 0) {
    // Ports without peers: every peer on those ports (wildcard L3).
    peers = undefined;
  } else {
    // `{}` (or only requirements): enables default deny, allows nothing.
    peers = [];
  }

  let authRequired = false;
  let authMode: PolicyRule['authMode'];
  const authField: Field = m.get('authentication');
  if (!deny && authField.present) {
    const am = authField.map();
    am.allowOnly(['mode']);
    const modeField: Field = am.get('mode');
    if (!modeField.present) authField.fail('mode is required');
    const mode = modeField.string();
    if (mode !== 'disabled' && mode !== 'required' && mode !== 'test-always-fail') {
      modeField.fail(`unsupported authentication mode ${JSON.stringify(mode)} (disabled, required or test-always-fail)`);
    }
    authMode = mode;
    authRequired = mode !== 'disabled';
  }

  const rule: PolicyRule = {
    ref: ctx.policy.ref,
    index: -1,
    position: f.position(),
    direction,
    deny,
    peers,
    requires,
    portRules,
    authRequired,
  };
  if (authMode !== undefined) rule.authMode = authMode;
  return rule;
}

function parseLabels(f: Field): void {
  for (const item of f.optList() ?? []) {
    const m = item.map();
    m.allowOnly(['key', 'value', 'source']);
    m.get('key').required().string();
    m.get('value').optString();
    m.get('source').optString();
  }
}

function parseDefaultDeny(f: Field): { ingress?: boolean; egress?: boolean } {
  const m = f.optMap();
  if (!m) return {};
  m.allowOnly(['ingress', 'egress']);
  const out: { ingress?: boolean; egress?: boolean } = {};
  const ingress = m.get('ingress').optBool();
  const egress = m.get('egress').optBool();
  if (ingress !== undefined) out.ingress = ingress;
  if (egress !== undefined) out.egress = egress;
  return out;
}

/** One Rule (`spec` or an item of `specs`). */
export function parseCiliumRule(f: Field, specIndex: number, policy: PolicyContext): PolicySpec {
  const m: FieldMap = f.map();
  m.allowOnly(RULE_KEYS);
  const es = m.get('endpointSelector');
  const ns = m.get('nodeSelector');
  if (es.present && ns.present) {
    m.entry('nodeSelector')!.failAtKey('endpointSelector and nodeSelector are mutually exclusive; give one');
  }
  if (!es.present && !ns.present) f.fail('one of endpointSelector or nodeSelector is required');

  let subject: Subject;
  let subjectReqs: ParsedRequirement[];
  if (es.present) {
    subjectReqs = parseSelector(es);
    if (policy.namespace !== undefined) {
      const { selector, overridden } = cnpSubject(subjectReqs, policy.namespace);
      if (overridden !== undefined) {
        policy.note(`${es.path}: namespace ${overridden} is replaced by the policy's namespace ${policy.namespace} (a CiliumNetworkPolicy only selects endpoints of its own namespace)`);
      }
      subject = { type: 'endpoints', selector };
    } else {
      subject = { type: 'endpoints', selector: makeSelector(subjectReqs) };
    }
  } else {
    subjectReqs = parseSelector(ns);
    subject = { type: 'nodes', selector: makeSelector(subjectReqs) };
    if (policy.namespace !== undefined) {
      policy.note(`${ns.path}: host policies (nodeSelector) are meant for CiliumClusterwideNetworkPolicy; Cilium accepts it here and hubcap applies it the same way`);
    }
  }
  const ctx: RuleContext = { policy, subjectReqs, hostPolicy: !es.present };

  const rules: PolicyRule[] = [];
  const counts = { ingress: 0, egress: 0 };
  for (const [key, direction, deny] of [
    ['ingress', 'ingress', false],
    ['ingressDeny', 'ingress', true],
    ['egress', 'egress', false],
    ['egressDeny', 'egress', true],
  ] as const) {
    const items = m.get(key).optList() ?? [];
    counts[direction] += items.length;
    for (const item of items) rules.push(parseRuleItem(item, direction, deny, ctx));
  }

  const enable = parseDefaultDeny(m.get('enableDefaultDeny'));
  const description = m.get('description').optString();
  parseLabels(m.get('labels'));
  const log = m.get('log').optMap();
  if (log) {
    log.allowOnly(['value']);
    const v = log.get('value');
    const text = v.optString();
    if (text !== undefined && text.length > 32) v.fail(`must be at most 32 characters (${text.length})`);
  }
  if (counts.ingress === 0 && counts.egress === 0 && enable.ingress !== true && enable.egress !== true) {
    policy.note(`${f.path}: has no ingress, ingressDeny, egress or egressDeny rules, so it has no effect`);
  }

  const spec: PolicySpec = {
    ref: policy.ref,
    specIndex,
    position: f.position(),
    subject,
    // evaluateDefaultDenyForRule (Rule.Sanitize in older releases): an explicit
    // enableDefaultDeny wins; otherwise a direction defaults to deny when it has items.
    defaultDeny: {
      ingress: enable.ingress ?? counts.ingress > 0,
      egress: enable.egress ?? counts.egress > 0,
    },
    rules,
  };
  if (description !== undefined) spec.description = description;
  return spec;
}

/** `spec` and/or `specs` of a CNP/CCNP. `spec` is specIndex 0; `specs[i]` follows it. */
export function parseCiliumSpecs(root: FieldMap, policy: PolicyContext): PolicySpec[] {
  const spec = root.get('spec');
  const specs = root.get('specs');
  if (!spec.present && !specs.present) root.field.fail(`a ${policy.ref.kind} needs spec or specs`);
  const out: PolicySpec[] = [];
  if (spec.present) out.push(parseCiliumRule(spec, 0, policy));
  const items = specs.optList();
  if (items) {
    if (items.length === 0 && !spec.present) specs.fail('must not be empty');
    const base = out.length;
    items.forEach((item, i) => out.push(parseCiliumRule(item, base + i, policy)));
  }
  return out;
}
