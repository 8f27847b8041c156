/**
 * Label selector matching, as Cilium's selector cache evaluates an EndpointSelector against an
 * identity's labels (pkg/policy/api/selector.go Matches, k8s.io/apimachinery labels.Selector).
 *
 * Requirements are AND'ed. `In`: the key is present with one of the values; `NotIn`: absent or
 * another value; `Exists` / `DoesNotExist`. The source `any` matches a label of every source,
 * any other source must be equal.
 */
import type { LabelSet } from '../identity/labels.js';
import type { EndpointSelector, SelectorRequirement } from '../policy/types.js';

function requirementMatches(req: SelectorRequirement, labels: LabelSet): boolean {
  const label = labels.get(req.source, req.key);
  switch (req.operator) {
    case 'Exists':
      return label !== undefined;
    case 'DoesNotExist':
      return label === undefined;
    case 'In':
      return label !== undefined && req.values.includes(label.value);
    case 'NotIn':
      return label === undefined || !req.values.includes(label.value);
  }
}

export function selectorMatches(selector: EndpointSelector, labels: LabelSet): boolean {
  for (const req of selector.requirements) {
    if (!requirementMatches(req, labels)) return false;
  }
  return true;
}

/** True when the selector has no requirements: it selects every identity (Cilium's wildcard). */
export function isWildcardSelector(selector: EndpointSelector): boolean {
  return selector.requirements.length === 0;
}
