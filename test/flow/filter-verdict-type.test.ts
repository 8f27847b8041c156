/**
 * `--verdict` and `-t/--type`, as hubble/cmd/observe/flows_filter.go builds them and
 * pkg/hubble/filters (verdict.go, event_type.go) applies them: values of one flag are
 * alternatives; `TYPE:SUBTYPE` matches the monitor sub-type (trace observation point names).
 */
import { describe, expect, it } from 'vitest';
import { filterCases, kept } from './filter-helpers.js';

describe('--verdict', () => {
  it('keeps only that verdict', () => {
    const dropped = kept({ verdict: ['DROPPED'] });
    expect(dropped).toEqual([
      'policy-verdict none INGRESS DENIED (POLICY_DENIED)',
      'drop POLICY_DENIED',
      'policy-verdict L3-Only INGRESS DENIED (POLICY_DENY)',
      'drop POLICY_DENY',
      'drop inherited (later packet of a dropped connection)',
      'drop FRAG_NOT_FOUND (no connection)',
      'L7 http-request DROPPED',
      'L7 dns-response REFUSED',
    ]);
  });

  it('is repeatable (OR) and case-insensitive', () => {
    expect(kept({ verdict: ['audit', 'Translated'] })).toEqual(['policy-verdict none INGRESS AUDITED', 'TRANSLATED (ClusterIP to backend)']);
    expect(kept({ verdict: ['REDIRECTED', 'ERROR'] })).toEqual(['policy-verdict L3-L4 INGRESS REDIRECTED', 'trace ERROR (undecodable)']);
  });
});

describe('--type', () => {
  it('drop, policy-verdict, l7, trace-sock', () => {
    expect(kept({ type: ['drop'] })).toEqual([
      'drop POLICY_DENIED',
      'drop POLICY_DENY',
      'drop inherited (later packet of a dropped connection)',
      'drop FRAG_NOT_FOUND (no connection)',
    ]);
    expect(kept({ type: ['policy-verdict'] })).toHaveLength(6);
    expect(kept({ type: ['l7'] }).every((n) => n.startsWith('L7 '))).toBe(true);
    expect(kept({ type: ['l7'] })).toHaveLength(7);
    expect(kept({ type: ['trace-sock'] })).toEqual(['TRANSLATED (ClusterIP to backend)']);
  });

  it('trace does not include translations (they are trace-sock events)', () => {
    const traces = kept({ type: ['trace'] });
    expect(traces).not.toContain('TRANSLATED (ClusterIP to backend)');
    expect(traces).toContain('trace to-proxy FORWARDED');
    expect(traces).toContain('trace ERROR (undecodable)');
    expect(traces).toHaveLength(Object.keys(filterCases).filter((n) => n.startsWith('trace ')).length);
  });

  it('trace:<observation point> matches the sub-type', () => {
    expect(kept({ type: ['trace:to-proxy'] })).toEqual(['trace to-proxy FORWARDED']);
    expect(kept({ type: ['trace:to-stack'] })).toEqual([
      'trace to-stack FORWARDED (ICMPv4 EchoRequest to world)',
      'trace to-stack FORWARDED (UDP to a CIDR identity)',
    ]);
    // TRACE_TO_LXC is sub-type 0; an event whose point is unknown is not "to-endpoint".
    expect(kept({ type: ['trace:to-endpoint'] })).not.toContain('trace ERROR (undecodable)');
    expect(kept({ type: ['trace:to-endpoint'] })).toContain('trace to-endpoint FORWARDED (TCP SYN)');
  });

  it('numbers for types and sub-types (drop:181 is POLICY_DENY)', () => {
    expect(kept({ type: ['1:181'] })).toEqual(['drop POLICY_DENY', 'drop inherited (later packet of a dropped connection)']);
    expect(kept({ type: ['drop:175'] })).toEqual(['drop FRAG_NOT_FOUND (no connection)']);
    expect(kept({ type: ['129'] })).toEqual(kept({ type: ['l7'] }));
  });

  it('is repeatable (OR) and combines with --verdict (AND)', () => {
    expect(kept({ type: ['drop', 'trace-sock'] })).toHaveLength(5);
    expect(kept({ type: ['policy-verdict'], verdict: ['FORWARDED'] })).toEqual([
      'policy-verdict L3-L4 INGRESS ALLOWED',
      'policy-verdict all EGRESS ALLOWED (agent reason)',
    ]);
  });
});
