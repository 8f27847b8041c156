/**
 * L7 rules of a `toPorts` entry: `rules: {http | kafka | dns | l7proto + l7}`.
 *
 * Mirrors: pkg/policy/api/l4.go (L7Rules), http.go (PortRuleHTTP, HeaderMatch), fqdn.go and
 * the CRD patterns for DNS names, kafka.go (PortRuleKafka.Sanitize), rule_validation.go
 * (L7Rules.Validate: one protocol per rules block, `l7` needs `l7proto`).
 *
 * HTTP `method`, `path` and `host` are RE2 regular expressions (Envoy matches them with RE2,
 * whole value), so they must compile under RE2: no backreferences, no lookaround.
 */
import RE2 from 're2';
import type { Field, FieldMap } from '../k8s/yaml-node.js';
import { re2ProgramSize } from './re2-size.js';
import type { DnsRule, HttpRule, KafkaRule, L7Rules } from './types.js';

/** What the L7 parser needs of its port rule's context (ports.ts PortContext). */
export interface L7Context {
  /** Envoy's re2.max_program_size.error_level (re2-size.ts). */
  re2MaxProgramSize: number;
  /** Records a caveat (PolicyContext.note). */
  note(message: string): void;
}

/**
 * The CRD's patterns for FQDN selectors and DNS rules (pkg/policy/api/fqdn.go), run with RE2 as
 * the API server runs them (Go regexp): their nested quantifiers `(x+[.]?)+` take time
 * exponential in the name for a backtracking RegExp (a 30-character name ending in `!` ran for
 * minutes).
 */
const MATCH_NAME = new RE2('^([-a-zA-Z0-9_]+[.]?)+$');
const MATCH_PATTERN = new RE2('^([-a-zA-Z0-9_*]+[.]?)+$');
const KAFKA_TOPIC = /^[a-zA-Z0-9._-]+$/;

function regex(f: Field, ctx: L7Context): string | undefined {
  const text = f.optString();
  if (text === undefined) return undefined;
  try {
    new RE2(text);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    f.fail(`not a valid RE2 regular expression ${JSON.stringify(text)}: ${why}`);
  }
  // Valid for the API server and for RE2, yet too large for Envoy's default limit (re2-size.ts).
  const size = re2ProgramSize(text);
  const limit = ctx.re2MaxProgramSize;
  if (size !== undefined && size > limit) {
    const why =
      size === Infinity
        ? 'RE2 cannot compile it within its default memory budget'
        : `RE2 program size ${size} > ${limit} (Envoy's re2.max_program_size.error_level, --envoy-re2-max-program-size)`;
    ctx.note(
      `${f.path}: ${why}: Envoy rejects this policy's update for the endpoint, so Cilium leaves its L7 policy unapplied ` +
        '(cilium/cilium#41314); hubcap enforces the rule as written. Simplify the regex or raise the limit (Helm envoy.staticRuntimeConfig)',
    );
  }
  return text;
}

function parseHttp(f: Field, ctx: L7Context): HttpRule {
  const m = f.map();
  m.allowOnly(['method', 'path', 'host', 'headers', 'headerMatches']);
  const rule: HttpRule = {};
  // PortRuleHTTP.Sanitize (pkg/policy/api/http.go) compiles the path first, then the method, so
  // a rule with both invalid is reported at its path. Cilium leaves the host to Envoy, which
  // rejects the listener when RE2 cannot compile it; hubcap reports it here, after both.
  const path = regex(m.get('path'), ctx);
  const method = regex(m.get('method'), ctx);
  const host = regex(m.get('host'), ctx);
  if (method !== undefined) rule.method = method;
  if (path !== undefined) rule.path = path;
  if (host !== undefined) rule.host = host;
  const headers = m.get('headers').optStringList();
  if (headers) rule.headers = headers;
  const matches = m.get('headerMatches').optList();
  if (matches) {
    rule.headerMatches = matches.map((hf) => {
      const hm = hf.map();
      hm.allowOnly(['name', 'value', 'mismatch'], {
        secret: 'headerMatches secret needs a Kubernetes Secret, which hubcap does not read; use value',
      });
      const name = hm.get('name').required().string();
      if (name === '') hm.get('name').fail('must not be empty');
      const out: NonNullable<HttpRule['headerMatches']>[number] = { name };
      const value = hm.get('value').optString();
      if (value !== undefined) out.value = value;
      const mmField: Field = hm.get('mismatch');
      const mismatch = mmField.optString();
      if (mismatch !== undefined) {
        if (mismatch !== 'LOG' && mismatch !== 'ADD' && mismatch !== 'DELETE' && mismatch !== 'REPLACE') {
          mmField.fail(`unsupported mismatch action ${JSON.stringify(mismatch)} (LOG, ADD, DELETE or REPLACE)`);
        }
        out.mismatch = mismatch;
      }
      return out;
    });
  }
  return rule;
}

/** A DNS name for `matchName` (exact) or `matchPattern` (with `*`), as the CRD checks them. */
export function checkDnsName(f: Field, text: string, pattern: boolean): void {
  if (text.length > 255) f.fail(`must be at most 255 characters (${text.length})`);
  const re = pattern ? MATCH_PATTERN : MATCH_NAME;
  if (!re.test(text)) {
    f.fail(
      pattern
        ? `invalid DNS pattern ${JSON.stringify(text)}: use letters, digits, '-', '_', '*' and '.'`
        : `invalid DNS name ${JSON.stringify(text)}: use letters, digits, '-', '_' and '.'`,
    );
  }
}

/** `{matchName}` or `{matchPattern}`: exactly one (the CRD's oneOf). Shared by toFQDNs and rules.dns. */
export function parseDnsSelector(f: Field): DnsRule {
  const m = f.map();
  m.allowOnly(['matchName', 'matchPattern']);
  const hasName = m.has('matchName');
  const hasPattern = m.has('matchPattern');
  if (hasName === hasPattern) f.fail('exactly one of matchName and matchPattern must be set');
  if (hasName) {
    const nf = m.get('matchName');
    const name = nf.string();
    checkDnsName(nf, name, false);
    return { matchName: name };
  }
  const pf = m.get('matchPattern');
  const pattern = pf.string();
  checkDnsName(pf, pattern, true);
  return { matchPattern: pattern };
}

function parseKafka(f: Field): KafkaRule {
  const m = f.map();
  m.allowOnly(['role', 'apiKey', 'apiVersion', 'clientID', 'topic']);
  const rule: KafkaRule = {};
  const roleField: Field = m.get('role');
  const role = roleField.optString();
  if (role !== undefined && role !== '') {
    if (role !== 'produce' && role !== 'consume') roleField.fail(`unsupported role ${JSON.stringify(role)} (produce or consume)`);
    rule.role = role;
  }
  const apiKey = m.get('apiKey').optString();
  if (apiKey !== undefined && apiKey !== '') {
    if (rule.role !== undefined) m.get('apiKey').fail('role and apiKey cannot be set together');
    rule.apiKey = apiKey;
  }
  const verField: Field = m.get('apiVersion');
  const apiVersion = verField.optString();
  if (apiVersion !== undefined && apiVersion !== '') {
    if (!/^\d+$/.test(apiVersion) || Number(apiVersion) > 32767) verField.fail(`apiVersion must be a non-negative 16-bit number, not ${JSON.stringify(apiVersion)}`);
    rule.apiVersion = apiVersion;
  }
  const clientID = m.get('clientID').optString();
  if (clientID !== undefined && clientID !== '') rule.clientID = clientID;
  const topicField: Field = m.get('topic');
  const topic = topicField.optString();
  if (topic !== undefined && topic !== '') {
    if (topic.length > 255) topicField.fail(`must be at most 255 characters (${topic.length})`);
    if (!KAFKA_TOPIC.test(topic)) topicField.fail(`invalid Kafka topic ${JSON.stringify(topic)}: use letters, digits, '.', '_' and '-'`);
    rule.topic = topic;
  }
  return rule;
}

export interface L7Parse {
  rules: L7Rules;
  /** Which protocol the block holds: exactly one (rule_validation.go: "multiple L7 protocol rule types"). */
  protocol: 'http' | 'kafka' | 'dns' | 'l7proto' | undefined;
  /** The field of the protocol's list, for follow-up errors. */
  field: Field;
}

/** `rules: {...}` of a toPorts entry. */
export function parseL7(f: Field, ctx: L7Context): L7Parse {
  const m: FieldMap = f.map();
  m.allowOnly(['http', 'kafka', 'dns', 'l7proto', 'l7']);
  const present = (['http', 'kafka', 'dns', 'l7proto'] as const).filter((k) => m.get(k).present);
  if (present.length > 1) {
    m.get(present[1]!).fail(`multiple L7 protocol rule types in one rules block (${present.join(' and ')}); use one toPorts entry per protocol`);
  }
  const rules: L7Rules = {};
  const http = m.get('http').optList();
  if (http) rules.http = http.map((h) => parseHttp(h, ctx));
  const kafka = m.get('kafka').optList();
  if (kafka) rules.kafka = kafka.map(parseKafka);
  const dns = m.get('dns').optList();
  if (dns) rules.dns = dns.map(parseDnsSelector);
  const l7proto = m.get('l7proto').optString();
  const l7 = m.get('l7').optList();
  if (l7 && l7proto === undefined) m.get('l7').fail("'l7' may only be specified when a 'l7proto' is also specified");
  if (l7proto !== undefined) {
    rules.l7proto = l7proto;
    rules.l7 = (l7 ?? []).map((e) => e.stringMap());
  }
  const protocol = present[0];
  return { rules, protocol, field: protocol ? m.get(protocol) : f };
}
