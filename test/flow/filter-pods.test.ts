/**
 * Pod and namespace filters, as hubble/cmd/observe/flows_filter.go and pkg/hubble/filters/k8s.go
 * define them: `--pod` is `source OR destination`; a name is a prefix in an exact namespace,
 * `default` when none is given (pkg/hubble/k8s ParseNamespaceName); `--namespace` restricts each
 * side's pod filter to the namespace (or matches every pod in it); sides that are not pods (host,
 * world) never match.
 */
import { describe, expect, it } from 'vitest';
import { EventKind, Verdict } from '../../src/datapath/events.js';
import { compileFlowFilter } from '../../src/flow/filter.js';
import { FlowContext } from '../../src/flow/context.js';
import { EP, event, ID, packet, starWarsDoc } from './fixtures.js';
import { filterCases, kept } from './filter-helpers.js';

const withSide = (side: 'src' | 'dst', endpoint: string): string[] =>
  Object.entries(filterCases)
    .filter(([, ev]) => {
      const e = side === 'src' ? ev.srcEndpoint : ev.dstEndpoint;
      return e === EP[endpoint as keyof typeof EP];
    })
    .map(([n]) => n);

describe('--pod', () => {
  it('matches either side', () => {
    const xwing = kept({ pod: ['xwing'] });
    const expected = Object.keys(filterCases).filter((n) => withSide('src', 'xwing').includes(n) || withSide('dst', 'xwing').includes(n));
    expect(xwing).toEqual(expected);
    expect(xwing).toContain('trace to-endpoint FORWARDED (ICMPv4 EchoReply)'); // xwing as destination
    expect(xwing).toContain('drop POLICY_DENIED'); // xwing as source
  });

  it('is a name prefix in the default namespace when none is given', () => {
    expect(kept({ pod: ['deathstar'] })).toEqual(kept({ pod: ['default/deathstar-7848d6c4d5-th9v2'] }));
    expect(kept({ pod: ['deathstar'] }).length).toBeGreaterThan(0);
    expect(kept({ pod: ['kube-system/deathstar'] })).toEqual([]);
    // "default/" is every pod of the namespace.
    expect(kept({ pod: ['default/'] })).toEqual(kept({ namespace: ['default'] }));
  });

  it('--from-pod and --to-pod take one side', () => {
    expect(kept({ fromPod: ['xwing'] })).toEqual(withSide('src', 'xwing'));
    expect(kept({ toPod: ['xwing'] })).toEqual(withSide('dst', 'xwing'));
    expect(kept({ fromPod: ['xwing'], toPod: ['deathstar'] })).toEqual(
      withSide('src', 'xwing').filter((n) => withSide('dst', 'deathstar').includes(n)),
    );
  });

  it('never matches a host or world side', () => {
    expect(kept({ pod: ['kind-worker'] })).toEqual([]);
    expect(kept({ pod: ['node/kind-worker'] })).toEqual([]);
  });
});

describe('--namespace', () => {
  it('matches flows with a pod of the namespace on either side', () => {
    const inDefault = kept({ namespace: ['default'] });
    expect(inDefault).not.toContain('trace to-host FORWARDED (GRE, no L4)');
    expect(inDefault).toContain('trace to-stack FORWARDED (ICMPv4 EchoRequest to world)');
    expect(kept({ namespace: ['kube-system'] })).toEqual([]);
  });

  it('with --pod, puts the pod in that namespace', () => {
    const doc = starWarsDoc();
    doc.endpoints.push({ ...doc.endpoints[EP.xwing]!, id: 3001, namespace: 'rebels', name: 'rebels/xwing', addresses: ['10.244.3.3'] });
    const ctx = new FlowContext(doc);
    const rebel = doc.endpoints.length - 1;
    const ev = event({
      kind: EventKind.DROP,
      verdict: Verdict.DROPPED,
      dropReason: 133,
      packet: packet({ src: '10.244.3.3', dst: '10.244.2.5', proto: 'tcp', sport: 1, dport: 80 }),
      srcEndpoint: rebel,
      dstEndpoint: EP.deathstar,
      srcIdentity: ID.xwing,
      dstIdentity: ID.deathstar,
    });
    expect(compileFlowFilter({ pod: ['xwing'] }, ctx)!(ev)).toBe(false); // default/xwing
    expect(compileFlowFilter({ pod: ['xwing'], namespace: ['rebels'] }, ctx)!(ev)).toBe(true);
    expect(compileFlowFilter({ pod: ['rebels/xwing'] }, ctx)!(ev)).toBe(true);
    expect(compileFlowFilter({ fromNamespace: ['rebels'] }, ctx)!(ev)).toBe(true);
    expect(compileFlowFilter({ toNamespace: ['rebels'] }, ctx)!(ev)).toBe(false);
    expect(compileFlowFilter({ toNamespace: ['default'], fromNamespace: ['rebels'] }, ctx)!(ev)).toBe(true);
  });
});
