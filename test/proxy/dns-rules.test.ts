/**
 * matchName / matchPattern as Cilium matches them (pkg/fqdn/matchpattern/matchpattern.go and its
 * matchpattern_test.go cases; pkg/fqdn/dnsproxy/proxy.go GeneratePattern and CheckAllowed), and
 * the proxy's allow list over the document's DNS rule sets.
 */
import RE2 from 're2';
import { describe, expect, it } from 'vitest';
import type { L7RuleSetRecord } from '../../src/maps/document.js';
import {
  compileDnsRules,
  compileFqdnSelector,
  DnsPolicy,
  MATCH_ALL_ANCHORED,
  toAnchoredRegexp,
  toUnanchoredRegexp,
  validateDnsRule,
} from '../../src/proxy/dns-rules.js';
import type { DnsRule } from '../../src/policy/types.js';

const G = '[-a-zA-Z0-9_]';

function proxyAllows(rules: DnsRule[], name: string): boolean {
  const c = compileDnsRules(rules);
  if (!c.ok) throw new Error(c.error);
  return c.matcher.matches(name);
}

function selects(sel: DnsRule, name: string): boolean {
  const c = compileFqdnSelector(sel);
  if (!c.ok) throw new Error(c.error);
  return c.matcher.matches(name);
}

describe('regex text is matchpattern.go\'s, byte for byte', () => {
  it.each([
    ['cilium.io.', '^cilium[.]io[.]$'],
    ['*.cilium.io.', `^${G}*[.]cilium[.]io[.]$`],
    ['**.cilium.io.', `^(${G}+([.]${G}+){0,})[.]cilium[.]io[.]$`],
    ['*', `(^(${G}+[.])+$)|(^[.]$)`],
    ['**', `(^(${G}+[.])+$)|(^[.]$)`],
    ['*.', `(^(${G}+[.])+$)|(^[.]$)`],
    ['.', '^[.]$'],
    ['sub**.cilium.io.', `^sub${G}*[.]cilium[.]io[.]$`],
    ['  Cilium.IO.  ', '^cilium[.]io[.]$'],
  ])('%j -> %s', (pattern, re) => {
    expect(toAnchoredRegexp(pattern)).toBe(re);
  });

  it('GeneratePattern ORs the rules of a selector into one anchored regex', () => {
    const c = compileDnsRules([{ matchName: 'Cilium.io' }, { matchPattern: '*.cilium.io' }]);
    expect(c.ok && c.matcher.source).toBe(`^(?:cilium[.]io[.]|${G}*[.]cilium[.]io[.])$`);
    expect(toUnanchoredRegexp('*')).toBeUndefined();
  });
});

describe('matchPattern: `*` stays within one label', () => {
  it.each([
    // The design.md edge cases, in the proxy and in a toFQDNs selector alike.
    ['*.cilium.io', 'docs.cilium.io', true],
    ['*.cilium.io', 'cilium.io', false],
    ['*.cilium.io', 'a.b.cilium.io', false],
    ['*.cilium.io', 'DOCS.Cilium.IO.', true],
    ['*.cilium.io', 'docs.cilium.io.evil.com', false],
    ['*.cilium.io', 'docscilium.io', false],
    ['*cilium.io', 'cilium.io', true],
    ['*cilium.io', 'xcilium.io', true],
    ['*cilium.io', 'x.cilium.io', false],
    ['*.ci*.io', 'anysub.ciliumandmore.io', true],
    ['*.ci*.io', 'cilium.io', false],
    ['*.*.cilium.io', '_foobar._tcp.cilium.io', true],
    ['sub*.cilium.io', 'subdomain.cilium.io', true],
    ['sub*.cilium.io', 'www.cilium.io', false],
    ['**.cilium.io', 'a.cilium.io', true],
    ['**.cilium.io', 'a.b.c.cilium.io', true],
    ['**.cilium.io', 'cilium.io', false],
    ['cilium.io.', 'cilium.io', true],
    ['cilium.io', 'CILIUM.IO.', true],
  ])('%s vs %s -> %s', (pattern, name, want) => {
    expect(proxyAllows([{ matchPattern: pattern }], name)).toBe(want);
    expect(selects({ matchPattern: pattern }, name)).toBe(want);
  });

  it('a lone `*` allows every query in the proxy, and selects every well-formed name', () => {
    for (const name of ['cilium.io', 'a.b.c.d.e', '.', 'x', '_srv._tcp.example.com']) {
      expect(proxyAllows([{ matchPattern: '*' }], name)).toBe(true);
      expect(selects({ matchPattern: '*' }, name)).toBe(true);
    }
    // A label holding a dot or a high byte: the proxy's match-all still allows the query
    // (CheckAllowed short-circuits on MatchAllAnchoredPattern), a selector's `*` does not match.
    expect(proxyAllows([{ matchPattern: '*' }], 'a\\.b.io.')).toBe(true);
    expect(selects({ matchPattern: '*' }, 'a\\.b.io.')).toBe(false);
    const c = compileDnsRules([{ matchName: 'x.io' }, { matchPattern: '*' }]);
    expect(c.ok && c.matcher.source).toBe(MATCH_ALL_ANCHORED);
  });

  it('an escaped dot inside a label never satisfies a wildcard label boundary', () => {
    // Wire label "a.b" under cilium.io: miekg prints a\.b.cilium.io.; `*.cilium.io` must not match.
    expect(proxyAllows([{ matchPattern: '*.cilium.io' }], 'a\\.b.cilium.io.')).toBe(false);
    expect(proxyAllows([{ matchPattern: '*.b.cilium.io' }], 'a\\.b.cilium.io.')).toBe(false);
  });
});

describe('matchName: exact, case-insensitive, trailing dot optional', () => {
  it.each([
    ['api.example.com', 'api.example.com', true],
    ['api.example.com', 'api.example.com.', true],
    ['api.example.com.', 'API.Example.COM', true],
    ['api.example.com', 'www.api.example.com', false],
    ['api.example.com', 'api.example.co', false],
    ['api.example.com', 'apixexample.com', false],
  ])('%s vs %s -> %s', (matchName, name, want) => {
    expect(proxyAllows([{ matchName }], name)).toBe(want);
    expect(selects({ matchName }, name)).toBe(want);
  });

  it('rules are ORed; an empty rule list allows every name (GeneratePattern)', () => {
    const rules = [{ matchName: 'a.io' }, { matchPattern: '*.b.io' }];
    expect(proxyAllows(rules, 'a.io')).toBe(true);
    expect(proxyAllows(rules, 'x.b.io')).toBe(true);
    expect(proxyAllows(rules, 'c.io')).toBe(false);
    expect(proxyAllows([], 'anything.at.all')).toBe(true);
  });

  it('validation: the CRD characters, at most 255 characters', () => {
    expect(validateDnsRule({ matchName: 'a.io' })).toBeUndefined();
    expect(validateDnsRule({ matchName: '*.io' })).toMatch(/invalid characters/);
    expect(validateDnsRule({ matchPattern: 'a+b.io' })).toMatch(/invalid characters/);
    expect(validateDnsRule({ matchPattern: `${'a'.repeat(256)}` })).toMatch(/255/);
    expect(validateDnsRule({})).toMatch(/neither/);
    expect(compileDnsRules([{ matchPattern: '(a|b).io' }]).ok).toBe(false);
  });
});

describe('RE2: no catastrophic backtracking', () => {
  it('a many-star pattern against a long label answers at once', () => {
    const pattern = `${'*a'.repeat(40)}*b.io`;
    const name = `${'a'.repeat(63)}.${'a'.repeat(63)}.io`;
    const started = performance.now();
    expect(proxyAllows([{ matchPattern: pattern }], name)).toBe(false);
    expect(selects({ matchPattern: pattern }, name)).toBe(false);
    expect(performance.now() - started).toBeLessThan(200);
    // Matched by RE2 itself (linear time), not a JavaScript RegExp (which backtracks on this).
    const c = compileFqdnSelector({ matchPattern: pattern });
    expect(c.ok && (c.matcher as unknown as { re: unknown }).re).toBeInstanceOf(RE2);
  });
});

describe('DnsPolicy: CheckAllowed over the document\'s DNS rule sets', () => {
  const rec = (over: Partial<L7RuleSetRecord>): L7RuleSetRecord => ({
    endpoint: 'default/client',
    direction: 'egress',
    protocol: 17,
    port: 53,
    endPort: 53,
    parser: 'dns',
    proxyPort: 10004,
    peers: [300],
    rules: [{ matchPattern: '*.cilium.io' }],
    derivedFrom: [1],
    ...over,
  });

  it('allows only names a rule set of a selector that selects the server matches', () => {
    const policy = new DnsPolicy([
      rec({}),
      rec({ protocol: 6, rules: [{ matchName: 'tcp.only.io' }] }),
      rec({ peers: [0], rules: [{ matchName: 'any.server.io' }], derivedFrom: [2] }),
      rec({ endpoint: 'default/other', rules: [] }),
      { ...rec({}), parser: 'http', rules: [{ method: 'GET' }] },
    ]);
    expect(policy.check('default/client', 17, 53, 300, 'docs.cilium.io')).toMatchObject({ allowed: true, record: { derivedFrom: [1] } });
    expect(policy.check('default/client', 17, 53, 300, 'cilium.io')).toEqual({ allowed: false, reason: 'no-match' });
    // Another server identity: only the any-peer rule set applies.
    expect(policy.check('default/client', 17, 53, 999, 'docs.cilium.io').allowed).toBe(false);
    expect(policy.check('default/client', 17, 53, 999, 'any.server.io')).toMatchObject({ allowed: true, record: { derivedFrom: [2] } });
    // TCP has its own rules; another port has none at all.
    expect(policy.check('default/client', 6, 53, 300, 'tcp.only.io').allowed).toBe(true);
    expect(policy.check('default/client', 6, 53, 300, 'docs.cilium.io').allowed).toBe(false);
    expect(policy.check('default/client', 17, 5353, 300, 'docs.cilium.io')).toEqual({ allowed: false, reason: 'no-rules' });
    // An L3/L4-only rule for the peer on the port (rules []) allows every name.
    expect(policy.check('default/other', 17, 53, 300, 'whatever.example')).toMatchObject({ allowed: true });
    expect(policy.errors).toEqual([]);
  });

  it('a rule set that does not compile is reported and allows nothing', () => {
    const policy = new DnsPolicy([rec({ rules: [{ matchPattern: 'a+.io' }] })]);
    expect(policy.errors).toHaveLength(1);
    expect(policy.check('default/client', 17, 53, 300, 'aa.io').allowed).toBe(false);
  });
});
