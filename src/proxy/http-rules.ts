/**
 * Matching an HTTP request against the L7 rules behind a proxy redirect, as Cilium's Envoy
 * filter does.
 *
 * Mirrors:
 *  - pkg/envoy/server.go `getHTTPRule` (Cilium agent -> Envoy config): `path`, `method`, `host`
 *    become Envoy HeaderMatchers on `:path`, `:method`, `:authority` with a google_re2
 *    safe_regex_match, which Envoy evaluates with RE2::FullMatch (the WHOLE value must match;
 *    hubcap anchors the pattern as `^(?:p)$`). A `headers` entry is split at its first space:
 *    "Name: value" (trailing colons trimmed from the name) is an exact match, a single word
 *    "Name" a presence match (kept verbatim, so "Name:" never matches anything, as in Cilium).
 *    `headerMatches` without `mismatch` become HeaderMatchers too: exact on `value`, presence
 *    when `value` is empty.
 *  - cilium/proxy cilium/network_policy.cc (`HttpNetworkPolicyRule::allowed`,
 *    `HeaderMatch::allowed`, `PortNetworkPolicyRule::getVerdict`): the rules are OR'ed (any
 *    rule whose matchers all match allows); an empty rule `{}` matches every request; an empty
 *    rule list allows everything. A `headerMatches` entry WITH a mismatch action never denies:
 *    on a mismatch LOG logs the header as missing, ADD adds the expected value, DELETE removes a
 *    header whose value is wrong (logged as rejected), REPLACE sets the expected value (the wrong
 *    one logged as rejected, the expected as missing); the rule still matches. Such entries only
 *    run for rules whose other matchers matched, and when any rule has them every rule is
 *    evaluated (no short circuit), each seeing the headers as the earlier rules' actions left
 *    them.
 *  - Envoy's HeaderUtility: header names compare case-insensitively (LowerCaseString); the value
 *    of a header sent several times is its values joined with "," (getAllOfHeaderAsString); a
 *    missing header matches neither an exact nor a regex matcher. The Host header is
 *    `:authority`, so "Host" and ":authority" name the same thing; ":path" and ":method" can be
 *    named in `headers` too.
 *
 * Deliberate differences: Cilium sorts the rules (SortHTTPNetworkPolicyRules) before Envoy sees
 * them; hubcap evaluates them in policy order, which changes nothing unless a headerMatches
 * action alters a header that a later rule tests. `headerMatches.secret` is not supported (the
 * policy loader rejects it). Envoy's RE2 program-size limit (re2.max_program_size) is not
 * checked.
 *
 * Every distinct rule list is compiled once (cached by the list's identity). A field pattern
 * that is a plain literal or an alternation of literals (`POST`, `GET|HEAD`,
 * `/v1/request-landing`, `deathstar\.default`) is compared as strings, which is exactly what a
 * whole-value match of it means; the other patterns of a field (method, path, host) across all
 * rules go into one RE2.Set (anchor both, i.e. RE2::Set with ANCHOR_BOTH), matched at most once
 * per request and field, only when a rule needs it. Each pattern is also compiled on its own
 * (validation, and the fallback should a set fail). Matching compiles nothing and allocates at
 * most a few small arrays (set results, lower-cased header names). RE2 runs in linear time, so
 * patterns like `^(a+)+$` cannot hang on hostile input.
 */
import RE2 from 're2';
import { PolicyError } from '../errors.js';
import type { HttpRule } from '../policy/types.js';

/** What a request offers to the matchers (HttpRequest from ./http.js satisfies it). */
export interface HttpRequestView {
  method: string;
  /** `:path`, query string included. */
  path: string;
  /** `:authority` (Host); '' when absent. */
  authority: string;
  /** [name, value, ...] as sent. */
  rawHeaders: readonly string[];
}

/** A headerMatches action's log entry (accesslog `missing_headers` / `rejected_headers`). */
export interface HeaderLogEntry {
  kind: 'missing' | 'rejected';
  name: string;
  value: string;
}

/** Full result of one evaluation (optional; `allows()` returns just the verdict). */
export interface HttpRuleVerdict {
  allowed: boolean;
  /** Index (in the rule list) of the first rule that matched; -1 if none or the list is empty. */
  rule: number;
  /** Entries headerMatches actions logged. */
  log: HeaderLogEntry[];
  /** The request's headers after ADD/DELETE/REPLACE actions ([name, value, ...]). */
  headers: readonly string[];
}

const MismatchAction = { FAIL: 0, LOG: 1, ADD: 2, DELETE: 3, REPLACE: 4 } as const;

interface HeaderMatcher {
  /** Lower-cased name. */
  name: string;
  /** Exact value, or null for a presence match. */
  value: string | null;
}

interface HeaderAction {
  /** Name as written (ADD/REPLACE insert it like this); lower-cased in `lower`. */
  name: string;
  lower: string;
  /** Expected value; '' means presence. */
  value: string;
  action: number;
}

/** How one rule tests one field (method, path or host). */
interface FieldTest {
  /** The pattern compiled on its own (whole-value match). */
  re: RE2;
  /** The alternatives of a literal pattern, or null when it needs the regex engine. */
  literals: readonly string[] | null;
  /** Index of the pattern in the field's RE2.Set (regex patterns only), -1 otherwise. */
  setIndex: number;
}

interface CompiledRule {
  method: FieldTest | null;
  path: FieldTest | null;
  host: FieldTest | null;
  headers: HeaderMatcher[];
  actions: HeaderAction[];
}

const regexCache = new Map<string, RE2>();

/** The pattern anchored for a whole-value match (Envoy: RE2::FullMatch). */
function fullMatch(pattern: string, field: string): RE2 {
  let re = regexCache.get(pattern);
  if (re === undefined) {
    try {
      re = new RE2(`^(?:${pattern})$`);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new PolicyError(undefined, `not a valid RE2 regular expression ${JSON.stringify(pattern)}: ${why}`, field);
    }
    regexCache.set(pattern, re);
  }
  return re;
}

const META = '.+*?()[]{}^$';

/**
 * The alternatives of a pattern that only matches literal strings (`GET|HEAD`, `a\.b`), or
 * null when it has any other regex syntax. Called only on patterns RE2 accepted.
 */
export function literalAlternatives(pattern: string): string[] | null {
  const alts: string[] = [];
  let cur = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      const n = pattern[i + 1];
      // \d, \w, \b, \x41, \Q...: regex syntax. An escaped punctuation character is itself.
      if (n === undefined || /[A-Za-z0-9]/.test(n)) return null;
      cur += n;
      i++;
    } else if (c === '|') {
      alts.push(cur);
      cur = '';
    } else if (META.includes(c)) {
      return null;
    } else {
      cur += c;
    }
  }
  alts.push(cur);
  return alts;
}

function fieldTest(pattern: string | undefined, field: string, regexes: string[]): FieldTest | null {
  if (!pattern) return null;
  const re = fullMatch(pattern, field);
  const literals = literalAlternatives(pattern);
  let setIndex = -1;
  if (literals === null) {
    setIndex = regexes.indexOf(pattern);
    if (setIndex < 0) setIndex = regexes.push(pattern) - 1;
  }
  return { re, literals, setIndex };
}

function actionOf(m: string | undefined): number {
  switch (m) {
    case undefined:
    case '':
      return MismatchAction.FAIL;
    case 'LOG':
      return MismatchAction.LOG;
    case 'ADD':
      return MismatchAction.ADD;
    case 'DELETE':
      return MismatchAction.DELETE;
    case 'REPLACE':
      return MismatchAction.REPLACE;
    default:
      throw new PolicyError(undefined, `unsupported mismatch action ${JSON.stringify(m)}`, 'headerMatches.mismatch');
  }
}

function compileRule(rule: HttpRule, i: number, regexes: FieldRegexes): CompiledRule {
  const at = `rules.http[${i}]`;
  const out: CompiledRule = {
    method: fieldTest(rule.method, `${at}.method`, regexes.method),
    path: fieldTest(rule.path, `${at}.path`, regexes.path),
    host: fieldTest(rule.host, `${at}.host`, regexes.host),
    headers: [],
    actions: [],
  };
  for (const h of rule.headers ?? []) {
    // pkg/envoy/server.go: strings.SplitN(hdr, " ", 2); TrimRight(key, ":").
    const sp = h.indexOf(' ');
    if (sp >= 0) out.headers.push({ name: h.slice(0, sp).replace(/:+$/, '').toLowerCase(), value: h.slice(sp + 1) });
    else out.headers.push({ name: h.toLowerCase(), value: null });
  }
  for (const m of rule.headerMatches ?? []) {
    const action = actionOf(m.mismatch);
    const value = m.value ?? '';
    if (action === MismatchAction.FAIL) out.headers.push({ name: m.name.toLowerCase(), value: value === '' ? null : value });
    else out.actions.push({ name: m.name, lower: m.name.toLowerCase(), value, action });
  }
  return out;
}

/** Lower-cased header names of a request, index-aligned with rawHeaders' name slots / 2. */
function lowerNames(raw: readonly string[]): string[] {
  const out = new Array<string>(raw.length >> 1);
  for (let i = 0; i < raw.length; i += 2) out[i >> 1] = raw[i]!.toLowerCase();
  return out;
}

/**
 * The value Envoy matches for `name` (lower case): pseudo-headers from the request line, else
 * every header of that name joined with ","; undefined when absent.
 */
function valueOf(req: HttpRequestView, raw: readonly string[], lower: readonly string[], name: string): string | undefined {
  if (name.charCodeAt(0) === 0x3a /* ':' */) {
    if (name === ':path') return req.path;
    if (name === ':method') return req.method;
    if (name === ':authority') return req.authority === '' ? undefined : req.authority;
    if (name === ':scheme') return 'http';
    return undefined;
  }
  if (name === 'host') return req.authority === '' ? undefined : req.authority;
  let v: string | undefined;
  for (let i = 0; i < lower.length; i++) {
    if (lower[i] === name) v = v === undefined ? raw[2 * i + 1]! : `${v},${raw[2 * i + 1]!}`;
  }
  return v;
}

interface FieldRegexes {
  method: string[];
  path: string[];
  host: string[];
}

/**
 * The regex patterns of one field across all rules as one RE2.Set (whole-value matches). null
 * when the field has none, or when RE2 could not build the set (then each pattern runs alone).
 */
function patternSet(patterns: string[]): InstanceType<typeof RE2.Set> | null {
  if (patterns.length === 0) return null;
  try {
    return new RE2.Set(patterns, { anchor: 'both' });
  } catch {
    return null;
  }
}

/** Per-request matching state: each field's set is matched at most once, when first needed. */
class Scratch {
  req: HttpRequestView = { method: '', path: '', authority: '', rawHeaders: [] };
  method: readonly number[] | null = null;
  path: readonly number[] | null = null;
  host: readonly number[] | null = null;
  reset(req: HttpRequestView): void {
    this.req = req;
    this.method = this.path = this.host = null;
  }
}

export class CompiledHttpRules {
  readonly rules: readonly CompiledRule[];
  /** The list is empty (an L3/L4-only allow for these peers): everything is allowed. */
  readonly allowAll: boolean;
  /** Some rule has headerMatches actions: every rule is evaluated, headers may change. */
  readonly hasActions: boolean;
  /** The regex (non-literal) patterns of each field across the rules, as RE2 sets. */
  readonly methodSet: InstanceType<typeof RE2.Set> | null;
  readonly pathSet: InstanceType<typeof RE2.Set> | null;
  readonly hostSet: InstanceType<typeof RE2.Set> | null;
  private readonly testsHeaders: boolean;
  private readonly scratch = new Scratch();

  constructor(rules: readonly HttpRule[]) {
    const regexes: FieldRegexes = { method: [], path: [], host: [] };
    this.rules = rules.map((r, i) => compileRule(r, i, regexes));
    this.methodSet = patternSet(regexes.method);
    this.pathSet = patternSet(regexes.path);
    this.hostSet = patternSet(regexes.host);
    this.allowAll = rules.length === 0;
    this.hasActions = this.rules.some((r) => r.actions.length > 0);
    this.testsHeaders = this.hasActions || this.rules.some((r) => r.headers.length > 0);
  }

  /** The L7 verdict for a request: true when some rule allows it. */
  allows(req: HttpRequestView): boolean {
    if (this.allowAll) return true;
    if (this.hasActions) return this.evaluate(req).allowed;
    const raw = req.rawHeaders;
    const lower = this.testsHeaders ? lowerNames(raw) : EMPTY;
    const st = this.scratch;
    st.reset(req);
    for (let i = 0; i < this.rules.length; i++) {
      if (this.matches(this.rules[i]!, st, raw, lower)) return true;
    }
    return false;
  }

  /** The verdict with the index of the deciding rule and what headerMatches actions did. */
  evaluate(req: HttpRequestView): HttpRuleVerdict {
    const result: HttpRuleVerdict = { allowed: this.allowAll, rule: -1, log: [], headers: req.rawHeaders };
    if (this.allowAll) return result;
    let raw = req.rawHeaders;
    let lower = this.testsHeaders ? lowerNames(raw) : EMPTY;
    const st = this.scratch;
    st.reset(req);
    for (let i = 0; i < this.rules.length; i++) {
      const rule = this.rules[i]!;
      if (!this.matches(rule, st, raw, lower)) continue;
      if (rule.actions.length > 0) {
        const before = raw;
        raw = applyActions(rule.actions, req, raw, lower, result.log);
        if (raw !== before) lower = lowerNames(raw);
      }
      if (!result.allowed) {
        result.allowed = true;
        result.rule = i;
      }
      // Without actions anywhere the first match decides (Envoy short-circuits).
      if (!this.hasActions) break;
    }
    result.headers = raw;
    return result;
  }

  /** One rule against the request: cheap tests first, regex sets last (and at most once each). */
  private matches(rule: CompiledRule, st: Scratch, raw: readonly string[], lower: readonly string[]): boolean {
    const req = st.req;
    const m = rule.method;
    const p = rule.path;
    const h = rule.host;
    if (m !== null && m.literals !== null && !m.literals.includes(req.method)) return false;
    if (h !== null && (req.authority === '' || (h.literals !== null && !h.literals.includes(req.authority)))) return false;
    if (p !== null && p.literals !== null && !p.literals.includes(req.path)) return false;
    for (const hm of rule.headers) {
      const v = valueOf(req, raw, lower, hm.name);
      if (v === undefined) return false;
      if (hm.value !== null && v !== hm.value) return false;
    }
    if (m !== null && m.literals === null) {
      if (st.method === null) st.method = setMatch(this.methodSet, req.method);
      if (!hit(st.method, m, req.method)) return false;
    }
    if (p !== null && p.literals === null) {
      if (st.path === null) st.path = setMatch(this.pathSet, req.path);
      if (!hit(st.path, p, req.path)) return false;
    }
    if (h !== null && h.literals === null) {
      if (st.host === null) st.host = setMatch(this.hostSet, req.authority);
      if (!hit(st.host, h, req.authority)) return false;
    }
    return true;
  }
}

const NO_SET: readonly number[] = [];

/** The indexes of the set's patterns that match the whole value (NO_SET: test alone instead). */
function setMatch(set: InstanceType<typeof RE2.Set> | null, value: string): readonly number[] {
  if (set === null) return NO_SET;
  try {
    return set.match(value);
  } catch {
    return NO_SET;
  }
}

function hit(matched: readonly number[], t: FieldTest, value: string): boolean {
  if (matched !== NO_SET) return matched.includes(t.setIndex);
  return t.re.test(value);
}

const EMPTY: string[] = [];

/**
 * Runs a rule's headerMatches actions (network_policy.cc HeaderMatch::allowed; the default match
 * action CONTINUE_ON_MATCH). Returns the headers to use from now on (a copy when changed).
 */
function applyActions(actions: readonly HeaderAction[], req: HttpRequestView, raw: readonly string[], lower: readonly string[], log: HeaderLogEntry[]): readonly string[] {
  let out = raw;
  let low = lower;
  for (const a of actions) {
    const present = valueOf(req, out, low, a.lower);
    const isPresence = a.value === '';
    const ok = isPresence ? present !== undefined : present === a.value;
    if (ok) continue;
    switch (a.action) {
      case MismatchAction.LOG:
        log.push({ kind: 'missing', name: a.name, value: a.value });
        break;
      case MismatchAction.ADD:
        out = [...out, a.name, a.value];
        low = lowerNames(out);
        log.push({ kind: 'missing', name: a.name, value: a.value });
        break;
      case MismatchAction.DELETE:
        // A failed presence match has nothing to delete.
        if (isPresence || present === undefined) break;
        out = without(out, low, a.lower);
        low = lowerNames(out);
        log.push({ kind: 'rejected', name: a.name, value: present });
        break;
      case MismatchAction.REPLACE:
        if (present !== undefined) log.push({ kind: 'rejected', name: a.name, value: present });
        out = [...without(out, low, a.lower), a.name, a.value];
        low = lowerNames(out);
        log.push({ kind: 'missing', name: a.name, value: a.value });
        break;
    }
  }
  return out;
}

function without(raw: readonly string[], lower: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < lower.length; i++) {
    if (lower[i] !== name) out.push(raw[2 * i]!, raw[2 * i + 1]!);
  }
  return out;
}

const compiled = new WeakMap<readonly HttpRule[], CompiledHttpRules>();

/**
 * The compiled form of a rule list (`rules.http` of the entries behind one proxy redirect, all
 * OR'ed), compiled on first use and cached by the list's identity. Throws PolicyError for a
 * regex RE2 rejects (the policy loader checks this already; a hand-edited maps document may not).
 */
export function compileHttpRules(rules: readonly HttpRule[]): CompiledHttpRules {
  let c = compiled.get(rules);
  if (c === undefined) {
    c = new CompiledHttpRules(rules);
    compiled.set(rules, c);
  }
  return c;
}
