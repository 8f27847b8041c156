/**
 * Cilium's default identity-relevant label filter (pkg/labelsfilter/filter.go,
 * defaultLabelPrefixCfg): which pod labels make it into the identity.
 */
import { describe, expect, test } from 'vitest';
import { isIdentityRelevant, LabelSet, parseLabel } from '../../src/identity/labels.js';
import { podIdentityLabels } from '../../src/identity/identity-labels.js';

describe('default identity-relevant label filter', () => {
  test.each([
    ['k8s:app=web', true],
    ['k8s:pod-template-hash=5d9c7b8f4', false],
    ['k8s:controller-revision-hash=abc', false],
    ['k8s:pod-template-generation=3', false],
    ['k8s:statefulset.kubernetes.io/pod-name=db-0', false],
    ['k8s:apps.kubernetes.io/pod-index=0', false],
    ['k8s:batch.kubernetes.io/job-completion-index=1', false],
    ['k8s:kubernetes.io/hostname=n1', false],
    ['k8s:beta.kubernetes.io/arch=amd64', false],
    ['k8s:failure-domain.beta.kubernetes.io/zone=a', false],
    ['k8s:k8s.io/cluster-service=true', false],
    ['k8s:annotation.foo=bar', false],
    ['k8s:etcd_node=x', false],
    // io.kubernetes.pod.namespace is longer than the ignored io.kubernetes prefix: kept.
    ['k8s:io.kubernetes.pod.namespace=default', true],
    ['k8s:io.kubernetes.container.name=x', false],
    ['k8s:app.kubernetes.io/name=nginx', true],
    ['k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=default', true],
    ['k8s:io.cilium.k8s.policy.cluster=default', true],
    ['k8s:io.cilium.k8s.policy.serviceaccount=default', true],
    ['reserved:host', true],
    // Prefixes are anchored at the start of the key: this key only contains k8s.io later.
    ['k8s:example.k8s.io/team=a', true],
  ])('%s -> %s', (text, kept) => {
    expect(isIdentityRelevant(parseLabel(text))).toBe(kept);
  });

  test('pod identity labels add namespace, service account, cluster and namespace labels', () => {
    const set = podIdentityLabels({
      namespace: 'shop',
      labels: { app: 'web', 'pod-template-hash': 'abc', 'io.cilium.k8s.policy.cluster': 'spoofed' },
      namespaceLabels: { 'kubernetes.io/metadata.name': 'shop', exposed: 'true' },
      serviceAccount: 'web-sa',
      clusterName: 'c1',
    });
    expect(set.toStrings()).toEqual([
      'k8s:app=web',
      'k8s:io.cilium.k8s.namespace.labels.exposed=true',
      'k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=shop',
      'k8s:io.cilium.k8s.policy.cluster=c1',
      'k8s:io.cilium.k8s.policy.serviceaccount=web-sa',
      'k8s:io.kubernetes.pod.namespace=shop',
    ]);
  });

  test('label sets are canonical regardless of order', () => {
    expect(LabelSet.of('k8s:b=2', 'k8s:a=1').key()).toBe(LabelSet.of('k8s:a=1', 'k8s:b=2').key());
  });
});
