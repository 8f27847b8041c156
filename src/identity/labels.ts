/**
 * Cilium's label model: `source:key=value`.
 *
 * Mirrors: pkg/labels/labels.go (Label, sources), pkg/labelsfilter/filter.go (the default
 * identity-relevant label filter), pkg/k8s/apis/cilium.io/const.go (label key constants).
 *
 * A LabelSet is immutable, sorted by `source:key`, and has a canonical string (`key()`), so equal
 * label sets are equal strings: that string is what identities are allocated for.
 */

export const LabelSource = {
  K8S: 'k8s',
  RESERVED: 'reserved',
  CIDR: 'cidr',
  FQDN: 'fqdn',
  /** In selectors only: matches a label of any source. */
  ANY: 'any',
  UNSPEC: 'unspec',
} as const;

/** Label keys Cilium adds to every pod (pkg/k8s/apis/cilium.io/const.go). */
export const K8sLabel = {
  POD_NAMESPACE: 'io.kubernetes.pod.namespace',
  /** Prefix of namespace labels copied onto pods: `io.cilium.k8s.namespace.labels.<key>`. */
  NAMESPACE_LABELS_PREFIX: 'io.cilium.k8s.namespace.labels.',
  SERVICE_ACCOUNT: 'io.cilium.k8s.policy.serviceaccount',
  CLUSTER: 'io.cilium.k8s.policy.cluster',
} as const;

export interface Label {
  readonly source: string;
  readonly key: string;
  readonly value: string;
}

export function formatLabel(label: Label): string {
  return label.value === '' ? `${label.source}:${label.key}` : `${label.source}:${label.key}=${label.value}`;
}

/**
 * Parses `source:key=value`, `source:key`, `key=value` or `key`. A missing source becomes
 * `defaultSource`: Cilium reads `unspec` in label text and `any` in selectors.
 */
export function parseLabel(text: string, defaultSource: string = LabelSource.UNSPEC): Label {
  let source = defaultSource;
  let rest = text;
  const colon = text.indexOf(':');
  const eq = text.indexOf('=');
  if (colon >= 0 && (eq < 0 || colon < eq)) {
    source = text.slice(0, colon);
    rest = text.slice(colon + 1);
  }
  const eq2 = rest.indexOf('=');
  if (eq2 < 0) return { source, key: rest, value: '' };
  return { source, key: rest.slice(0, eq2), value: rest.slice(eq2 + 1) };
}

/** Splits a selector key (`k8s:app`, `app`, `any:app`) into source and key; no source means any. */
export function parseSelectorKey(text: string): { source: string; key: string } {
  const colon = text.indexOf(':');
  if (colon < 0) return { source: LabelSource.ANY, key: text };
  return { source: text.slice(0, colon), key: text.slice(colon + 1) };
}

export class LabelSet {
  readonly labels: readonly Label[];
  private readonly canonical: string;
  private readonly byKey: Map<string, Label[]>;

  constructor(labels: Iterable<Label>) {
    const unique = new Map<string, Label>();
    for (const l of labels) unique.set(`${l.source}:${l.key}`, l);
    // Sort by `source:key` (the map's keys), computed once per label.
    const keyed = [...unique];
    keyed.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    this.labels = keyed.map((e) => e[1]);
    this.canonical = this.labels.map(formatLabel).join(';');
    this.byKey = new Map();
    for (const l of this.labels) {
      const list = this.byKey.get(l.key);
      if (list) list.push(l);
      else this.byKey.set(l.key, [l]);
    }
  }

  static of(...texts: string[]): LabelSet {
    return new LabelSet(texts.map((t) => parseLabel(t)));
  }

  /** Canonical text: labels sorted and joined with `;`. Equal sets give equal keys. */
  key(): string {
    return this.canonical;
  }

  /** The label with this key from `source` (`any` matches every source), if present. */
  get(source: string, key: string): Label | undefined {
    const list = this.byKey.get(key);
    if (!list) return undefined;
    if (source === LabelSource.ANY) return list[0];
    return list.find((l) => l.source === source);
  }

  has(source: string, key: string): boolean {
    return this.get(source, key) !== undefined;
  }

  hasSource(source: string): boolean {
    return this.labels.some((l) => l.source === source);
  }

  union(other: Iterable<Label>): LabelSet {
    return new LabelSet([...this.labels, ...other]);
  }

  toStrings(): string[] {
    return this.labels.map(formatLabel);
  }

  get size(): number {
    return this.labels.length;
  }
}

/**
 * The default identity-relevant label filter (pkg/labelsfilter/filter.go, defaultLabelPrefixCfg).
 *
 * Each pattern is a regular expression anchored at the start of the key. A label is kept when
 * no ignore pattern matches it, or when the longest matching include pattern is longer than the
 * shortest matching ignore pattern (so `io.kubernetes.pod.namespace` survives `!io.kubernetes`).
 */
interface LabelPrefix {
  ignore: boolean;
  source: string;
  expr: RegExp;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const DEFAULT_LABEL_PREFIXES: readonly LabelPrefix[] = [
  { ignore: false, source: 'reserved', expr: /.*/y },
  { ignore: false, source: '', expr: new RegExp(escapeRegExp(K8sLabel.POD_NAMESPACE), 'y') },
  { ignore: false, source: '', expr: new RegExp(escapeRegExp('io.cilium.k8s.namespace.labels'), 'y') },
  { ignore: false, source: '', expr: new RegExp(escapeRegExp('app.kubernetes.io'), 'y') },
  { ignore: false, source: '', expr: new RegExp(escapeRegExp(K8sLabel.CLUSTER), 'y') },
  { ignore: true, source: '', expr: /io\.kubernetes/y },
  { ignore: true, source: '', expr: /kubernetes\.io/y },
  { ignore: true, source: '', expr: /statefulset\.kubernetes\.io\/pod-name/y },
  { ignore: true, source: '', expr: /apps\.kubernetes\.io\/pod-index/y },
  { ignore: true, source: '', expr: /batch\.kubernetes\.io\/job-completion-index/y },
  { ignore: true, source: '', expr: /.*beta\.kubernetes\.io/y },
  { ignore: true, source: '', expr: /k8s\.io/y },
  { ignore: true, source: '', expr: /pod-template-generation/y },
  { ignore: true, source: '', expr: /pod-template-hash/y },
  { ignore: true, source: '', expr: /controller-revision-hash/y },
  { ignore: true, source: '', expr: /annotation.*/y },
  { ignore: true, source: '', expr: /etcd_node/y },
];

/** Length of the match of `prefix` at the start of the label key, or -1 (filter.go `matches`). */
function matchLength(prefix: LabelPrefix, label: Label): number {
  if (prefix.source !== '' && prefix.source !== label.source) return -1;
  prefix.expr.lastIndex = 0;
  const m = prefix.expr.exec(label.key);
  return m ? m[0].length : -1;
}

/** Filter results by `source:key` (the value plays no part); pods repeat the same few keys. */
const relevanceCache = new Map<string, boolean>();

/** True when Cilium's default filter keeps this label for identity computation. */
export function isIdentityRelevant(label: Label): boolean {
  const cacheKey = `${label.source}:${label.key}`;
  let kept = relevanceCache.get(cacheKey);
  if (kept === undefined) {
    kept = computeRelevance(label);
    if (relevanceCache.size < 100_000) relevanceCache.set(cacheKey, kept);
  }
  return kept;
}

function computeRelevance(label: Label): boolean {
  let included = 0;
  let ignored = 0;
  for (const prefix of DEFAULT_LABEL_PREFIXES) {
    const len = matchLength(prefix, label);
    if (len < 0) continue;
    if (prefix.ignore) {
      if (ignored === 0 || len < ignored) ignored = len;
    } else if (len > included) {
      included = len;
    }
  }
  return ignored === 0 || included > ignored;
}
