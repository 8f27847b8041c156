/**
 * Label selectors in policies, and the namespace scoping Cilium adds when it reads a policy.
 *
 * Mirrors: pkg/policy/api/selector.go (EndpointSelector: `source:key` keys, a key without a
 * source matches any source), pkg/k8s/apis/cilium.io/utils/utils.go (getEndpointSelector,
 * ParseToCiliumRule: which selectors get `k8s:io.kubernetes.pod.namespace`), and
 * pkg/k8s/network_policy.go (NetworkPolicy podSelector / namespaceSelector).
 *
 * Selectors are strict like the CRD schema: only `matchLabels` and `matchExpressions`, operators
 * In/NotIn (values required) and Exists/DoesNotExist (no values), label values of at most 63
 * characters of `[A-Za-z0-9._-]` starting and ending alphanumeric.
 */
import type { Field } from '../k8s/yaml-node.js';
import { K8sLabel, LabelSource, parseSelectorKey } from '../identity/labels.js';
import type { EndpointSelector, SelectorRequirement } from './types.js';

export type Operator = SelectorRequirement['operator'];
const OPERATORS: readonly Operator[] = ['In', 'NotIn', 'Exists', 'DoesNotExist'];

/** A requirement while parsing: remembers whether it came from matchLabels (AddMatch overrides those). */
export interface ParsedRequirement extends SelectorRequirement {
  fromMatchLabels: boolean;
}

/** Kubernetes label value syntax (apimachinery validation.IsValidLabelValue, the CRD's MatchLabelsValue). */
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function checkValue(f: Field, value: string): void {
  if (value.length > 63) f.fail(`label value must be at most 63 characters (${value.length})`);
  if (!LABEL_VALUE.test(value)) {
    f.fail(`invalid label value ${JSON.stringify(value)}: use letters, digits, '-', '_' and '.', starting and ending with a letter or digit`);
  }
}

/** Kubernetes qualified name (apimachinery validation.IsQualifiedName), for NetworkPolicy keys. */
const QUALIFIED_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

function splitKey(f: Field, text: string, defaultSource: string, allowSource: boolean): { source: string; key: string } {
  if (text === '') f.fail('label key must not be empty');
  if (/\s/.test(text)) f.fail(`label key ${JSON.stringify(text)} must not contain spaces`);
  if (!allowSource) {
    const name = text.slice(text.indexOf('/') + 1);
    if (!QUALIFIED_NAME.test(text) || name.length > 63) {
      f.fail(`invalid label key ${JSON.stringify(text)}: an optional DNS prefix and '/', then up to 63 letters, digits, '-', '_' and '.'`);
    }
    return { source: defaultSource, key: text };
  }
  const parsed = text.includes(':') ? parseSelectorKey(text) : { source: defaultSource, key: text };
  if (parsed.source === '') f.fail(`label key ${JSON.stringify(text)} has an empty source before ':'`);
  if (parsed.key === '') f.fail(`label key ${JSON.stringify(text)} has nothing after the source`);
  return parsed;
}

/**
 * Parses `{matchLabels, matchExpressions}`. `defaultSource` is the source of keys written
 * without one: `any` in Cilium policies, `k8s` in NetworkPolicy, whose keys are plain Kubernetes
 * label keys (`allowSource` false: no `source:` prefix, qualified-name syntax).
 */
export function parseSelector(f: Field, defaultSource: string = LabelSource.ANY, allowSource = true): ParsedRequirement[] {
  const m = f.map();
  m.allowOnly(['matchLabels', 'matchExpressions']);
  const out: ParsedRequirement[] = [];
  const labels = m.get('matchLabels').optMap();
  for (const e of labels?.entries ?? []) {
    const { source, key } = splitKey(e.value, e.key, defaultSource, allowSource);
    if (e.value.kind === 'null') e.value.fail('must be a string, not null (write "" for an empty value)');
    const value = e.value.string();
    checkValue(e.value, value);
    out.push({ source, key, operator: 'In', values: [value], fromMatchLabels: true });
  }
  for (const item of m.get('matchExpressions').optList() ?? []) {
    const em = item.map();
    em.allowOnly(['key', 'operator', 'values']);
    const keyField: Field = em.get('key').required();
    const { source, key } = splitKey(keyField, keyField.string(), defaultSource, allowSource);
    const opField: Field = em.get('operator').required();
    const op = opField.string();
    if (!(OPERATORS as readonly string[]).includes(op)) {
      opField.fail(`unsupported operator ${JSON.stringify(op)} (In, NotIn, Exists or DoesNotExist)`);
    }
    const valuesField: Field = em.get('values');
    const values = valuesField.optList()?.map((v) => {
      const s = v.string();
      checkValue(v, s);
      return s;
    }) ?? [];
    if ((op === 'In' || op === 'NotIn') && values.length === 0) {
      valuesField.fail(`operator ${op} needs at least one value`);
    }
    if ((op === 'Exists' || op === 'DoesNotExist') && values.length > 0) {
      valuesField.fail(`operator ${op} must not have values`);
    }
    out.push({ source, key, operator: op as Operator, values, fromMatchLabels: false });
  }
  return out;
}

/** Cilium's `HasKey`: a requirement on exactly this source and key (matchLabels or matchExpressions). */
export function hasKey(reqs: readonly SelectorRequirement[], source: string, key: string): boolean {
  return reqs.some((r) => r.source === source && r.key === key);
}

/** Cilium's `HasKeyPrefix`. */
export function hasKeyPrefix(reqs: readonly SelectorRequirement[], source: string, prefix: string): boolean {
  return reqs.some((r) => r.source === source && r.key.startsWith(prefix));
}

function reqText(r: SelectorRequirement): string {
  const k = `${r.source}:${r.key}`;
  switch (r.operator) {
    case 'In':
      return r.values.length === 1 ? `${k}=${r.values[0]}` : `${k} in (${r.values.join(',')})`;
    case 'NotIn':
      return `${k} notin (${r.values.join(',')})`;
    case 'Exists':
      return k;
    case 'DoesNotExist':
      return `!${k}`;
  }
}

/** Sorted, de-duplicated requirements with their canonical text (`{}` for the empty selector). */
export function makeSelector(reqs: readonly SelectorRequirement[]): EndpointSelector {
  const byText = new Map<string, SelectorRequirement>();
  for (const r of reqs) {
    const clean: SelectorRequirement = {
      source: r.source,
      key: r.key,
      operator: r.operator,
      values: [...new Set(r.values)].sort(),
    };
    byText.set(reqText(clean), clean);
  }
  const texts = [...byText.keys()].sort();
  const requirements = texts.map((t) => byText.get(t)!);
  return { requirements, text: texts.length === 0 ? '{}' : texts.join(',') };
}

const NS = K8sLabel.POD_NAMESPACE;
const NS_LABELS = K8sLabel.NAMESPACE_LABELS_PREFIX;

function nsMatch(namespace: string): ParsedRequirement {
  return { source: LabelSource.K8S, key: NS, operator: 'In', values: [namespace], fromMatchLabels: true };
}

function nsExists(): ParsedRequirement {
  return { source: LabelSource.K8S, key: NS, operator: 'Exists', values: [], fromMatchLabels: false };
}

/**
 * Subject of a CiliumNetworkPolicy (ParseToCiliumRule): always limited to the policy's namespace.
 * `AddMatch` replaces a `k8s:io.kubernetes.pod.namespace` match label the author wrote; returns
 * the overridden value when it differed, so the caller can say so (Cilium logs a warning).
 */
export function cnpSubject(reqs: readonly ParsedRequirement[], namespace: string): { selector: EndpointSelector; overridden?: string } {
  let overridden: string | undefined;
  const kept = reqs.filter((r) => {
    const replace = r.fromMatchLabels && r.source === LabelSource.K8S && r.key === NS;
    if (replace && r.values[0] !== namespace) overridden = r.values[0];
    return !replace;
  });
  const selector = makeSelector([...kept, nsMatch(namespace)]);
  return overridden === undefined ? { selector } : { selector, overridden };
}

/** True when a subject selector selects initializing endpoints (`reserved:init`), utils.go matchesPodInit. */
export function matchesInit(reqs: readonly SelectorRequirement[]): boolean {
  return hasKey(reqs, LabelSource.RESERVED, 'init');
}

/**
 * A peer selector (fromEndpoints/toEndpoints/fromRequires/toRequires) after getEndpointSelector:
 * 1. selectors on `reserved:` labels are left alone;
 * 2. a selector naming the pod namespace (`k8s:` or `any:`) is left alone;
 * 3. CNP (`policyNamespace` set): add the policy's namespace, unless the selector uses namespace
 *    labels (`io.cilium.k8s.namespace.labels.*`), which span namespaces;
 * 4. CCNP: add "has a namespace" (`k8s:io.kubernetes.pod.namespace` Exists), so `{}` is every
 *    pod but no reserved identity, unless the subject selects `reserved:init`.
 */
export function peerSelector(
  reqs: readonly ParsedRequirement[],
  policyNamespace: string | undefined,
  opts: { subjectMatchesInit: boolean },
): EndpointSelector {
  if (reqs.some((r) => r.source === LabelSource.RESERVED)) return makeSelector(reqs);
  if (hasKey(reqs, LabelSource.K8S, NS) || hasKey(reqs, LabelSource.ANY, NS)) return makeSelector(reqs);
  if (policyNamespace === undefined) {
    return opts.subjectMatchesInit ? makeSelector(reqs) : makeSelector([...reqs, nsExists()]);
  }
  if (hasKeyPrefix(reqs, LabelSource.K8S, NS_LABELS) || hasKeyPrefix(reqs, LabelSource.ANY, NS_LABELS)) {
    return makeSelector(reqs);
  }
  return makeSelector([...reqs, nsMatch(policyNamespace)]);
}

/**
 * NetworkPolicy `podSelector` (subject, or a peer without namespaceSelector): the pods of the
 * policy's namespace (network_policy.go parsePodSelector). Keys are `k8s:` labels.
 */
export function netpolPodSelector(reqs: readonly ParsedRequirement[], namespace: string): EndpointSelector {
  return makeSelector([...reqs, nsMatch(namespace)]);
}

/**
 * NetworkPolicy `namespaceSelector` (and the `podSelector` beside it, AND'ed): namespace label
 * keys become `k8s:io.cilium.k8s.namespace.labels.<key>`; an empty namespaceSelector means every
 * namespace (`k8s:io.kubernetes.pod.namespace` Exists).
 */
export function netpolNamespaceSelector(
  nsReqs: readonly ParsedRequirement[],
  podReqs: readonly ParsedRequirement[] | undefined,
): EndpointSelector {
  const mapped: SelectorRequirement[] = nsReqs.map((r) => ({
    source: LabelSource.K8S,
    key: `${NS_LABELS}${r.key}`,
    operator: r.operator,
    values: r.values,
  }));
  if (mapped.length === 0) mapped.push(nsExists());
  return makeSelector([...mapped, ...(podReqs ?? [])]);
}
