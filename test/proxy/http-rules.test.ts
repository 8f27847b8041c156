/**
 * L7 HTTP rule matching (src/proxy/http-rules.ts) as Cilium's Envoy filter decides: method, path
 * and host are RE2 regexes matched against the WHOLE value (`:path` with its query string);
 * headers exact ("Name: value") or present ("Name") with case-insensitive names; headerMatches
 * (no mismatch action: a requirement; with one: never denies, only logs/changes headers); rules
 * OR'ed; an empty list or an empty rule allows everything. Sources: pkg/policy/api/http.go,
 * pkg/envoy/server.go getHTTPRule, cilium/proxy network_policy.cc, the Star Wars demo policy
 * (docs: "Identity-Aware and HTTP-Aware Policy Enforcement": POST /v1/request-landing allowed,
 * PUT /v1/exhaust-port denied).
 */
import fc from 'fast-check';
import RE2 from 're2';
import { describe, expect, it } from 'vitest';
import { PolicyError } from '../../src/errors.js';
import type { HttpRule } from '../../src/policy/types.js';
import { compileHttpRules, literalAlternatives, type HttpRequestView } from '../../src/proxy/http-rules.js';

function req(method: string, path: string, headers: string[] = [], authority = 'deathstar.default.svc.cluster.local'): HttpRequestView {
  return { method, path, authority, rawHeaders: headers };
}

const STARWARS: HttpRule[] = [{ method: 'POST', path: '/v1/request-landing' }];

describe('method, path, host: whole-value RE2 matches', () => {
  it.each<[string, HttpRule[], HttpRequestView, boolean]>([
    ['Star Wars: POST /v1/request-landing allowed', STARWARS, req('POST', '/v1/request-landing'), true],
    ['Star Wars: PUT /v1/exhaust-port denied', STARWARS, req('PUT', '/v1/exhaust-port'), false],
    ['Star Wars: the right path with another method denied', STARWARS, req('GET', '/v1/request-landing'), false],
    ['method is anchored (POSTX is not POST)', [{ method: 'POST' }], req('POSTX', '/'), false],
    ['method is anchored (POST is not OST)', [{ method: 'OST' }], req('POST', '/'), false],
    ['method alternatives', [{ method: 'GET|HEAD' }], req('HEAD', '/'), true],
    ['alternatives stay anchored as a group', [{ method: 'GET|HEAD' }], req('GETX', '/'), false],
    ['path is anchored at the end', STARWARS, req('POST', '/v1/request-landing/more'), false],
    ['path is anchored at the start', [{ path: 'request-landing' }], req('GET', '/v1/request-landing'), false],
    ['the query string is part of the path', STARWARS, req('POST', '/v1/request-landing?ship=1'), false],
    ['a regex can allow the query string', [{ path: '/v1/request-landing(\\?.*)?' }], req('POST', '/v1/request-landing?ship=1'), true],
    ['path prefix regex', [{ path: '/public/.*' }], req('GET', '/public/a/b?c'), true],
    ['path regex does not match a sibling', [{ path: '/public/.*' }], req('GET', '/publicity'), false],
    ['host full match', [{ host: 'deathstar\\.default\\.svc\\.cluster\\.local' }], req('GET', '/'), true],
    ['host is the whole :authority, port included', [{ host: 'api\\.example\\.com' }], req('GET', '/', [], 'api.example.com:8000'), false],
    ['host regex with port', [{ host: 'api\\.example\\.com(:\\d+)?' }], req('GET', '/', [], 'api.example.com:8000'), true],
    ['no Host never matches a host rule', [{ host: '.*' }], req('GET', '/', [], ''), false],
    ['fields of one rule are ANDed', [{ method: 'GET', path: '/a', host: 'h' }], req('GET', '/a', [], 'h'), true],
    ['... all of them', [{ method: 'GET', path: '/a', host: 'h' }], req('GET', '/a', [], 'x'), false],
    ['RE2 syntax: a class and a repetition', [{ path: '/v[0-9]+/items/[a-f0-9]{8}' }], req('GET', '/v12/items/deadbeef'), true],
  ])('%s', (_name, rules, r, allowed) => {
    expect(compileHttpRules(rules).allows(r)).toBe(allowed);
    expect(compileHttpRules(rules).evaluate(r).allowed).toBe(allowed);
  });
});

describe('headers', () => {
  it.each<[string, string[], string[], boolean]>([
    ['exact value', ['X-Has-Force: true'], ['X-Has-Force', 'true'], true],
    ['names are case-insensitive', ['x-has-force: true'], ['X-HAS-FORCE', 'true'], true],
    ['values are exact (case matters)', ['X-Has-Force: true'], ['X-Has-Force', 'True'], false],
    ['missing header', ['X-Has-Force: true'], [], false],
    ['presence', ['X-Has-Force'], ['x-has-force', 'anything'], true],
    ['presence with an empty value', ['X-Has-Force'], ['X-Has-Force', ''], true],
    ['presence, missing', ['X-Has-Force'], ['X-Other', '1'], false],
    ['a value with spaces', ['X-Ship: Millennium Falcon'], ['X-Ship', 'Millennium Falcon'], true],
    ['several colons after the name are trimmed (TrimRight)', ['X-A:: v'], ['X-A', 'v'], true],
    ['"Name:" alone is a presence match on "Name:", which never matches (as in Cilium)', ['X-A:'], ['X-A', 'v'], false],
    ['a header sent twice is its values joined with ","', ['X-A: 1,2'], ['X-A', '1', 'x-a', '2'], true],
    ['... so neither value alone matches', ['X-A: 1'], ['X-A', '1', 'X-A', '2'], false],
    ['every header entry must match', ['X-A: 1', 'X-B'], ['X-A', '1'], false],
    ['Host is :authority', ['Host: deathstar.default.svc.cluster.local'], [], true],
    [':path can be named', [':path: /v1/request-landing'], [], true],
  ])('%s', (_name, headers, raw, allowed) => {
    const r = req('POST', '/v1/request-landing', raw);
    expect(compileHttpRules([{ headers }]).allows(r)).toBe(allowed);
  });
});

describe('headerMatches', () => {
  it.each<[string, NonNullable<HttpRule['headerMatches']>, string[], boolean]>([
    ['without mismatch: exact value required', [{ name: 'X-Token', value: 'abc' }], ['x-token', 'abc'], true],
    ['without mismatch: wrong value denies', [{ name: 'X-Token', value: 'abc' }], ['X-Token', 'abd'], false],
    ['without mismatch: missing denies', [{ name: 'X-Token', value: 'abc' }], [], false],
    ['without mismatch and value: presence', [{ name: 'X-Token' }], ['X-Token', 'z'], true],
    ['without mismatch and value: absent denies', [{ name: 'X-Token' }], [], false],
    ['LOG never denies', [{ name: 'X-Token', value: 'abc', mismatch: 'LOG' }], [], true],
    ['ADD never denies', [{ name: 'X-Token', value: 'abc', mismatch: 'ADD' }], ['X-Token', 'wrong'], true],
    ['DELETE never denies', [{ name: 'X-Token', value: 'abc', mismatch: 'DELETE' }], ['X-Token', 'wrong'], true],
    ['REPLACE never denies', [{ name: 'X-Token', value: 'abc', mismatch: 'REPLACE' }], [], true],
  ])('%s', (_name, headerMatches, raw, allowed) => {
    const r = req('GET', '/', raw);
    expect(compileHttpRules([{ headerMatches }]).allows(r)).toBe(allowed);
  });

  it('an action runs only when the rule\'s other fields match, and then the rule still decides', () => {
    const rules: HttpRule[] = [{ path: '/a', headerMatches: [{ name: 'X-Token', value: 'abc', mismatch: 'LOG' }] }];
    const c = compileHttpRules(rules);
    expect(c.evaluate(req('GET', '/b')).allowed).toBe(false);
    expect(c.evaluate(req('GET', '/b')).log).toEqual([]);
    expect(c.evaluate(req('GET', '/a')).log).toEqual([{ kind: 'missing', name: 'X-Token', value: 'abc' }]);
  });

  it.each<[string, 'LOG' | 'ADD' | 'DELETE' | 'REPLACE', string[], string[], Array<{ kind: string; name: string; value: string }>]>([
    ['LOG: logged missing, headers unchanged', 'LOG', ['X-Token', 'old'], ['X-Token', 'old'], [{ kind: 'missing', name: 'X-Token', value: 'abc' }]],
    ['ADD: the expected value added', 'ADD', ['X-Token', 'old'], ['X-Token', 'old', 'X-Token', 'abc'], [{ kind: 'missing', name: 'X-Token', value: 'abc' }]],
    ['DELETE: the wrong header removed', 'DELETE', ['X-Token', 'old', 'X-Other', '1'], ['X-Other', '1'], [{ kind: 'rejected', name: 'X-Token', value: 'old' }]],
    ['DELETE: nothing to delete when absent', 'DELETE', ['X-Other', '1'], ['X-Other', '1'], []],
    ['REPLACE: wrong value replaced', 'REPLACE', ['x-token', 'old'], ['X-Token', 'abc'], [
      { kind: 'rejected', name: 'X-Token', value: 'old' },
      { kind: 'missing', name: 'X-Token', value: 'abc' },
    ]],
    ['REPLACE: set when absent', 'REPLACE', [], ['X-Token', 'abc'], [{ kind: 'missing', name: 'X-Token', value: 'abc' }]],
  ])('%s', (_name, mismatch, raw, headers, log) => {
    const v = compileHttpRules([{ headerMatches: [{ name: 'X-Token', value: 'abc', mismatch }] }]).evaluate(req('GET', '/', raw));
    expect(v.allowed).toBe(true);
    expect(v.headers).toEqual(headers);
    expect(v.log).toEqual(log);
  });

  it('a matching header triggers no action', () => {
    const v = compileHttpRules([{ headerMatches: [{ name: 'X-Token', value: 'abc', mismatch: 'REPLACE' }] }]).evaluate(req('GET', '/', ['X-Token', 'abc']));
    expect(v.log).toEqual([]);
    expect(v.headers).toEqual(['X-Token', 'abc']);
  });

  it('with actions every rule is evaluated; later rules see the changed headers', () => {
    const rules: HttpRule[] = [
      { path: '/x', headerMatches: [{ name: 'X-Token', value: 'abc', mismatch: 'ADD' }] },
      { path: '/x', headerMatches: [{ name: 'X-Extra', value: '1', mismatch: 'LOG' }] },
      { headers: ['X-Token: abc'] },
    ];
    const v = compileHttpRules(rules).evaluate(req('GET', '/x'));
    expect(v.allowed).toBe(true);
    expect(v.rule).toBe(0);
    expect(v.log.map((e) => e.name)).toEqual(['X-Token', 'X-Extra']);
    expect(v.headers).toEqual(['X-Token', 'abc']);
  });
});

describe('rules are ORed; empty rules allow', () => {
  it.each<[string, HttpRule[], HttpRequestView, boolean, number]>([
    ['first rule', [{ method: 'GET', path: '/a' }, { method: 'POST', path: '/b' }], req('GET', '/a'), true, 0],
    ['second rule', [{ method: 'GET', path: '/a' }, { method: 'POST', path: '/b' }], req('POST', '/b'), true, 1],
    ['fields do not mix across rules', [{ method: 'GET', path: '/a' }, { method: 'POST', path: '/b' }], req('GET', '/b'), false, -1],
    ['an empty list allows everything', [], req('DELETE', '/anything'), true, -1],
    ['an empty rule allows everything', [{}], req('DELETE', '/anything'), true, 0],
    ['an empty rule among others', [{ path: '/only' }, {}], req('PUT', '/x'), true, 1],
    ['empty strings are unset fields (Cilium: != "")', [{ method: '', path: '', host: '' }], req('PUT', '/x', [], ''), true, 0],
  ])('%s', (_name, rules, r, allowed, rule) => {
    const v = compileHttpRules(rules).evaluate(r);
    expect(v.allowed).toBe(allowed);
    expect(v.rule).toBe(rule);
    expect(compileHttpRules(rules).allows(r)).toBe(allowed);
  });
});

describe('compiled once, by identity of the list', () => {
  it('the same list gives the same compiled object; regexes are shared by pattern', () => {
    const a: HttpRule[] = [{ path: '/v1/.*' }];
    const b: HttpRule[] = [{ path: '/v1/.*' }];
    expect(compileHttpRules(a)).toBe(compileHttpRules(a));
    expect(compileHttpRules(a)).not.toBe(compileHttpRules(b));
    expect(compileHttpRules(a).rules[0]!.path!.re).toBe(compileHttpRules(b).rules[0]!.path!.re);
  });

  it('an invalid regex is a PolicyError', () => {
    expect(() => compileHttpRules([{ path: '(unclosed' }])).toThrow(PolicyError);
    expect(() => compileHttpRules([{ path: '(a)\\1' }])).toThrow(/not a valid RE2 regular expression/);
  });
});

describe('catastrophic backtracking cannot hang (RE2, linear time)', () => {
  it('^(a+)+$ against 50 KB of "a" and a "!" returns quickly, through RE2', () => {
    const rules: HttpRule[] = [{ path: '^(a+)+$' }];
    const c = compileHttpRules(rules);
    // The path goes through RE2: its set (and its own compiled pattern, the fallback).
    expect(c.pathSet).toBeInstanceOf(RE2.Set);
    expect(c.pathSet!.sources).toEqual(['^(a+)+$']);
    expect(c.rules[0]!.path!.re).toBeInstanceOf(RE2);
    expect(c.rules[0]!.path!.literals).toBeNull();
    const hostile = req('GET', `${'a'.repeat(50_000)}!`);
    const t0 = performance.now();
    const allowed = c.allows(hostile);
    const ms = performance.now() - t0;
    expect(allowed).toBe(false);
    // A hang guard, not a benchmark: backtracking engines take astronomically long here.
    expect(ms).toBeLessThan(5000);
    expect(c.allows(req('GET', 'a'.repeat(50_000)))).toBe(true);
  });

  it('the same hostile input through method, host and header-free rules', () => {
    const c = compileHttpRules([{ method: '(a|aa)+', host: '(x+x+)+y' }]);
    const t0 = performance.now();
    expect(c.allows(req('a'.repeat(30_000) + 'b', '/', [], 'x'.repeat(30_000)))).toBe(false);
    expect(performance.now() - t0).toBeLessThan(5000);
  });
});

describe('literal patterns are compared as strings, the rest through RE2 sets, with the same result', () => {
  it.each<[string, string[] | null]>([
    ['POST', ['POST']],
    ['GET|HEAD', ['GET', 'HEAD']],
    ['/v1/request-landing', ['/v1/request-landing']],
    ['deathstar\\.default\\.svc', ['deathstar.default.svc']],
    ['a\\|b', ['a|b']],
    ['GET|', ['GET', '']],
    ['/v1/.*', null],
    ['GET|HEAD?', null],
    ['(GET|HEAD)', null],
    ['\\d+', null],
    ['^/x$', null],
  ])('%s', (pattern, want) => {
    expect(literalAlternatives(pattern)).toEqual(want);
  });

  it('property: the compiled rules agree with one anchored RE2 per field, rule by rule', () => {
    const patterns = ['GET', 'GET|HEAD', 'POST', '.*', 'G.T', '/a', '/a/.*', '/a/[0-9]+', '/a\\.b', '(/a|/b)(\\?.*)?', 'h', 'h(:[0-9]+)?', 'x*', ''];
    const values = ['GET', 'HEAD', 'POST', 'GOT', '/a', '/a/1', '/a/x', '/a.b', '/aXb', '/b?q', '/b', 'h', 'h:80', '', 'xx'];
    const field = fc.option(fc.constantFrom(...patterns), { nil: undefined });
    fc.assert(
      fc.property(
        fc.array(fc.record({ method: field, path: field, host: field }), { minLength: 1, maxLength: 6 }),
        fc.constantFrom(...values),
        fc.constantFrom(...values),
        fc.constantFrom(...values),
        (raw, method, path, authority) => {
          const rules: HttpRule[] = raw.map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)));
          const full = (p: string | undefined, v: string) => !p || new RE2(`^(?:${p})$`).test(v);
          const want = rules.some((r) => full(r.method, method) && full(r.path, path) && (!r.host || (authority !== '' && full(r.host, authority))));
          expect(compileHttpRules(rules).allows({ method, path, authority, rawHeaders: [] })).toBe(want);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
