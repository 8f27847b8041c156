/**
 * DNS name matching: `rules.dns` of the DNS proxy and `toFQDNs` selectors, with one pattern
 * compiler for both.
 *
 * Mirrors: pkg/fqdn/matchpattern/matchpattern.go (Validate, Sanitize, ToAnchoredRegexp,
 * ToUnAnchoredRegexp, escapeRegexpCharacters), pkg/fqdn/dnsproxy/proxy.go (GeneratePattern,
 * CheckAllowed), pkg/policy/api/fqdn.go (FQDNSelector.ToRegex, IdentityLabel).
 *
 * Pattern semantics (matchpattern.go):
 *  1. A pattern is trimmed and lowercased, and gets a trailing dot unless it is all stars
 *     (`Sanitize`); names are matched lowercased with their trailing dot (`dns.Fqdn`).
 *  2. `.` is a literal dot. `*` (a run of stars counts as one) is `[-a-zA-Z0-9_]*`: any DNS
 *     characters WITHIN one label, so `*.cilium.io` matches `docs.cilium.io.` but neither
 *     `cilium.io.` nor `a.b.cilium.io.`, and `*cilium.io` matches `cilium.io.` and `xcilium.io.`.
 *  3. A leading `**.` (two or more stars then a dot) matches one or more whole labels:
 *     `**.cilium.io` matches `a.cilium.io.` and `a.b.cilium.io.` but not `cilium.io.`.
 *  4. A pattern of stars only (`*`, `**.`): in a toFQDNs selector it matches every name made of
 *     DNS characters (`(^([-a-zA-Z0-9_]+[.])+$)|(^[.]$)`); in the DNS proxy it makes the whole
 *     rule set match every name, whatever its characters (GeneratePattern returns the match-all
 *     regex and CheckAllowed short-circuits on it).
 *  5. matchName is the same machinery on a name without stars: exact, case-insensitive, the
 *     trailing dot optional.
 *  6. Proxy rules (GeneratePattern): the rules of one selector are OR'ed into one regex; an empty
 *     rule list matches every name (a selector with an L3/L4-only rule on the port).
 *
 * Compiled with RE2 (the `re2` package), once per pattern or rule set: Cilium compiles these with
 * Go's regexp, which is RE2, so the same regex text behaves identically here; and a pattern such as
 * `*a*a*a*a*a*a*a*a*b.io` against a long label would backtrack for minutes in a JavaScript RegExp
 * (polynomial in the label length, exponent = number of stars), while RE2 is linear.
 */
import RE2 from 're2';
import type { DnsRule } from '../policy/types.js';
import type { L7RuleSetRecord } from '../maps/document.js';
import { fqdn } from './dns.js';

/** matchpattern.go allowedDNSCharsREGroup. */
const DNS_CHARS = '[-a-zA-Z0-9_]';
/** matchpattern.go dnsWildcardREGroup: one or more whole labels, then a dot. */
const DNS_LABELS = `(${DNS_CHARS}+([.]${DNS_CHARS}+){0,})[.]`;
/** What a stars-only pattern becomes in an anchored (selector) regex. */
const MATCH_ALL_NAMES = `(^(${DNS_CHARS}+[.])+$)|(^[.]$)`;
/** matchpattern.MaxFQDNLength. */
export const MAX_FQDN_LENGTH = 255;

const ALLOWED_PATTERN_CHARS = /^[-a-zA-Z0-9_.*]+$/;
const ALLOWED_NAME_CHARS = /^[-a-zA-Z0-9_.]+$/;

/** isDNSWildcard: only stars, optionally followed by one dot (`*`, `**`, `***.`). */
export function isDnsWildcard(pattern: string): boolean {
  let p = pattern;
  if (p.endsWith('.')) p = p.slice(0, -1);
  if (p.length === 0) return false;
  for (let i = 0; i < p.length; i++) if (p[i] !== '*') return false;
  return true;
}

/** Sanitize: a trailing dot unless the pattern is a wildcard. */
export function sanitizePattern(pattern: string): string {
  return isDnsWildcard(pattern) ? pattern : fqdn(pattern);
}

/** escapeRegexpCharacters (rules 2 and 3 above). The pattern holds only allowed characters. */
function escapePattern(pattern: string): string {
  let out = '';
  let start = 0;
  let leadingStars = 0;
  while (leadingStars < pattern.length && pattern[leadingStars] === '*') leadingStars++;
  if (leadingStars >= 2 && leadingStars < pattern.length && pattern[leadingStars] === '.') {
    out += DNS_LABELS;
    start = leadingStars + 1;
  }
  for (let i = start; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '.') out += '[.]';
    else if (c === '*') {
      while (i + 1 < pattern.length && pattern[i + 1] === '*') i++;
      out += `${DNS_CHARS}*`;
    } else out += c;
  }
  return out;
}

/** ToAnchoredRegexp. */
export function toAnchoredRegexp(pattern: string): string {
  const p = pattern.trim().toLowerCase();
  if (isDnsWildcard(p)) return MATCH_ALL_NAMES;
  return `^${escapePattern(p)}$`;
}

/** ToUnAnchoredRegexp; undefined for a wildcard (MatchAllUnAnchoredPattern: the rule set matches all). */
export function toUnanchoredRegexp(pattern: string): string | undefined {
  const p = pattern.trim().toLowerCase();
  if (isDnsWildcard(p)) return undefined;
  return escapePattern(p);
}

/** prevalidate + the CRD's character sets: undefined when valid, else why not. */
export function validateDnsRule(rule: DnsRule): string | undefined {
  if (rule.matchName !== undefined) {
    if (rule.matchName.trim().length > MAX_FQDN_LENGTH) return `matchName longer than ${MAX_FQDN_LENGTH} characters`;
    if (!ALLOWED_NAME_CHARS.test(rule.matchName)) return `invalid characters in matchName ${JSON.stringify(rule.matchName)}`;
  }
  if (rule.matchPattern !== undefined) {
    if (rule.matchPattern.trim().length > MAX_FQDN_LENGTH) return `matchPattern longer than ${MAX_FQDN_LENGTH} characters`;
    if (!ALLOWED_PATTERN_CHARS.test(rule.matchPattern)) return `invalid characters in matchPattern ${JSON.stringify(rule.matchPattern)}`;
  }
  if (rule.matchName === undefined && rule.matchPattern === undefined) return 'neither matchName nor matchPattern';
  return undefined;
}

/** The name as the proxy and the name manager match it: lowercased, trailing dot. */
export function canonicalDnsName(name: string): string {
  return fqdn(name.toLowerCase());
}

/**
 * A compiled matcher for one toFQDNs selector or one rule set. `matches` takes a name as it came
 * off the wire (any case, trailing dot optional) and canonicalizes it.
 */
export class DnsNameMatcher {
  /** The regex text (Cilium's, byte for byte); `(?:)` for the proxy's match-all. */
  readonly source: string;
  readonly matchAll: boolean;
  private readonly re: RE2 | undefined;

  private constructor(source: string, matchAll: boolean) {
    this.source = source;
    this.matchAll = matchAll;
    this.re = matchAll ? undefined : new RE2(source);
  }

  /** @internal */
  static fromSource(source: string, matchAll: boolean): DnsNameMatcher {
    return new DnsNameMatcher(source, matchAll);
  }

  matches(name: string): boolean {
    if (this.matchAll) return true;
    return this.re!.test(canonicalDnsName(name));
  }

  /** For names already canonical (cache keys): skips the lowercase and dot. */
  matchesCanonical(name: string): boolean {
    if (this.matchAll) return true;
    return this.re!.test(name);
  }
}

/** matchpattern.MatchAllAnchoredPattern. */
export const MATCH_ALL_ANCHORED = '(?:)';

export type CompileResult = { ok: true; matcher: DnsNameMatcher } | { ok: false; error: string };

/**
 * FQDNSelector.ToRegex: the anchored matcher of one toFQDNs selector. matchName wins when both
 * are set (as ToRegex does; the CRD allows only one).
 */
export function compileFqdnSelector(selector: DnsRule): CompileResult {
  const invalid = validateDnsRule(selector);
  if (invalid) return { ok: false, error: invalid };
  const prepared = selector.matchName !== undefined && selector.matchName !== '' ? fqdn(selector.matchName) : sanitizePattern(selector.matchPattern!);
  return { ok: true, matcher: DnsNameMatcher.fromSource(toAnchoredRegexp(prepared), false) };
}

/**
 * GeneratePattern: the proxy's matcher for the DNS rules one selector has on one port. Both
 * fields of a rule count (a PortRuleDNS may carry both); an empty list, or any wildcard pattern,
 * matches every name.
 */
export function compileDnsRules(rules: readonly DnsRule[]): CompileResult {
  if (rules.length === 0) return { ok: true, matcher: DnsNameMatcher.fromSource(MATCH_ALL_ANCHORED, true) };
  const parts: string[] = [];
  for (const rule of rules) {
    const invalid = validateDnsRule(rule);
    if (invalid) return { ok: false, error: invalid };
    if (rule.matchName !== undefined && rule.matchName.length > 0) {
      parts.push(toUnanchoredRegexp(fqdn(rule.matchName.toLowerCase()))!);
    }
    if (rule.matchPattern !== undefined && rule.matchPattern.length > 0) {
      const re = toUnanchoredRegexp(sanitizePattern(rule.matchPattern));
      if (re === undefined) return { ok: true, matcher: DnsNameMatcher.fromSource(MATCH_ALL_ANCHORED, true) };
      parts.push(re);
    }
  }
  return { ok: true, matcher: DnsNameMatcher.fromSource(`^(?:${parts.join('|')})$`, false) };
}

// --- the proxy's policy check ---------------------------------------------------------------

export interface DnsCheckResult {
  allowed: boolean;
  /**
   * Why: 'allowed' (a rule set matched), 'no-rules' (no DNS rules for this endpoint and port:
   * CheckAllowed finds nothing and refuses), 'no-match' (rules exist for the port but none of a
   * selector that selects the server matched the name).
   */
  reason: 'allowed' | 'no-rules' | 'no-match';
  /** The rule set that allowed the query (its derivedFrom is the provenance). */
  record?: L7RuleSetRecord;
}

interface CompiledRuleSet {
  record: L7RuleSetRecord;
  anyPeer: boolean;
  peers: ReadonlySet<number>;
  matcher: DnsNameMatcher;
}

/**
 * The DNS proxy's allow list (DNSProxy.allowed: endpoint -> port/protocol -> selector -> regex),
 * built from the document's `l7` records with parser `dns`. `check` is CheckAllowed: the query is
 * allowed when some rule set for the endpoint, direction egress, protocol and port selects the
 * server's identity (peers [0] = any) and its regex matches the name; everything else is REFUSED.
 * Records whose rules do not compile are skipped and listed in `errors`.
 */
export class DnsPolicy {
  private readonly byKey = new Map<string, CompiledRuleSet[]>();
  readonly errors: string[] = [];

  constructor(records: readonly L7RuleSetRecord[]) {
    const cache = new Map<string, DnsNameMatcher>();
    for (const record of records) {
      if (record.parser !== 'dns') continue;
      const rules = record.rules as DnsRule[];
      const cacheKey = JSON.stringify(rules);
      let matcher = cache.get(cacheKey);
      if (!matcher) {
        const compiled = compileDnsRules(rules);
        if (!compiled.ok) {
          this.errors.push(`${record.endpoint} ${record.protocol}/${record.port}: ${compiled.error}`);
          continue;
        }
        matcher = compiled.matcher;
        cache.set(cacheKey, matcher);
      }
      const set: CompiledRuleSet = { record, anyPeer: record.peers.includes(0), peers: new Set(record.peers), matcher };
      const key = ruleKey(record.endpoint, record.direction, record.protocol);
      const list = this.byKey.get(key);
      if (list) list.push(set);
      else this.byKey.set(key, [set]);
    }
  }

  /** CheckAllowed for a query from `endpoint` to a server of identity `serverIdentity`. */
  check(endpoint: string, protocol: number, port: number, serverIdentity: number, qname: string, direction: 'ingress' | 'egress' = 'egress'): DnsCheckResult {
    const sets = this.byKey.get(ruleKey(endpoint, direction, protocol));
    let any = false;
    const name = canonicalDnsName(qname);
    for (const set of sets ?? []) {
      if (port < set.record.port || port > set.record.endPort) continue;
      any = true;
      if (!set.anyPeer && !set.peers.has(serverIdentity)) continue;
      if (set.matcher.matchesCanonical(name)) return { allowed: true, reason: 'allowed', record: set.record };
    }
    return { allowed: false, reason: any ? 'no-match' : 'no-rules' };
  }
}

function ruleKey(endpoint: string, direction: string, protocol: number): string {
  return `${endpoint}\u0000${direction}\u0000${protocol}`;
}
