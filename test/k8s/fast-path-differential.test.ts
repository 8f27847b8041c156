/**
 * The fast path and the `yaml` Document API read every text the same: the same objects, values,
 * positions, cluster model, notes and parsed policies (rule positions included), or the same
 * one-line error. Inputs: the seed-talk documents mutated at random (as YAML and as JSON), and
 * random objects printed in every style the two YAML libraries write (block, flow, quoted,
 * folded, CRLF, comments), lightly mutated.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { dump } from 'js-yaml';
import { parse, stringify } from 'yaml';
import { describe, expect, test } from 'vitest';
import { isHubcapError } from '../../src/errors.js';
import { readDocuments } from '../../src/k8s/documents.js';
import { CLUSTER_KINDS, POLICY_KINDS, buildClusterObjects } from '../../src/k8s/load.js';
import { parsePolicy } from '../../src/policy/parse.js';

const KNOWN = new Set<string>([...CLUSTER_KINDS, ...POLICY_KINDS]);
const ROOT = join(import.meta.dirname, '..', '..', 'examples', 'seed-talk');
const YAML_SAMPLES = [
  ...readdirSync(join(ROOT, 'policies')).map((f) => readFileSync(join(ROOT, 'policies', f), 'utf8')),
  ...readdirSync(join(ROOT, 'cluster')).map((f) => readFileSync(join(ROOT, 'cluster', f), 'utf8')),
];
const JSON_SAMPLES = YAML_SAMPLES.map((t) => JSON.stringify(parse(t), null, 4));

/** Everything a reader's result leads to, as comparable text; or the error message. */
function outcome(text: string, file: string, parser: 'auto' | 'yaml', positionedAll: boolean): string {
  try {
    const r = readDocuments(text, file, (k) => KNOWN.has(k), { parser, positioned: () => positionedAll });
    const objects = r.objects.map((o) => [o.kind, o.apiVersion, o.name, o.namespace, o.path, o.position, o.value]);
    const c = buildClusterObjects(r.objects, r.skippedKinds);
    const policies = c.policies.map((p) => {
      try {
        return parsePolicy(p);
      } catch (err) {
        if (!isHubcapError(err)) throw err;
        return err.message;
      }
    });
    const model = { ...c, namespaces: [...c.namespaces], policies };
    // JSON cannot hold NaN, Infinity or -0; spell them.
    return JSON.stringify({ objects, model }, (_k, v: unknown) => (typeof v === 'number' && (!Number.isFinite(v) || Object.is(v, -0)) ? `num:${v}` : v));
  } catch (err) {
    if (!isHubcapError(err)) throw err;
    return `error: ${err.message}`;
  }
}

function sameOutcome(text: string, json: boolean, positionedAll: boolean): void {
  const file = json ? 'f.json' : 'f.yaml';
  expect(outcome(text, file, 'auto', positionedAll)).toBe(outcome(text, file, 'yaml', positionedAll));
}

const TOKENS = ['', ' ', '\n', '- ', ': ', '{', '}', '[', ']', '"', "'", '&a ', '*a', '~', 'null', '0', '-1', '65536', 'true', '{}', '[]', 'k8s:', '  ', '\t', '#', '---\n', '...\n', '\r\n', '\r', 'yes', '0o17', '1e3', '!!str ', '%YAML 1.1\n', '? ', '|\n', '>-\n', '|2\n', '"\\u0041"', "'it''s'", '\\', ',', '\\\n', ' #'];

function mutate(text: string, edits: Array<[number, number, string]>): string {
  let out = text;
  for (const [pos, len, token] of edits) {
    const at = pos % (out.length + 1);
    out = out.slice(0, at) + token + out.slice(at + len);
  }
  return out;
}

const edits = (max: number) => fc.array(fc.tuple(fc.nat(), fc.nat({ max: 12 }), fc.constantFrom(...TOKENS)), { minLength: 1, maxLength: max });

describe('fast path and yaml reader agree', () => {
  test('the unmutated samples, YAML and JSON', () => {
    for (const s of YAML_SAMPLES) for (const all of [true, false]) sameOutcome(s, false, all);
    for (const s of JSON_SAMPLES) for (const all of [true, false]) sameOutcome(s, true, all);
  });

  test('mutated seed-talk YAML', () => {
    fc.assert(
      fc.property(fc.constantFrom(...YAML_SAMPLES), edits(4), fc.boolean(), (s, e, all) => sameOutcome(mutate(s, e), false, all)),
      { numRuns: 250, seed: 20261122 },
    );
  });

  test('mutated seed-talk JSON', () => {
    fc.assert(
      fc.property(fc.constantFrom(...JSON_SAMPLES), edits(3), fc.boolean(), (s, e, all) => sameOutcome(mutate(s, e), true, all)),
      { numRuns: 150, seed: 20261123 },
    );
  });

  test('plain scalars resolve alike (null, booleans, integers, floats, strings)', () => {
    const words = fc.constantFrom('null', 'Null', 'NULL', 'nULL', '~', 'true', 'True', 'TRUE', 'tRUE', 'false', 'False', 'FALSE', 'yes', 'No', 'on', 'y', '.inf', '-.Inf', '+.INF', '.nan', '.NaN', '.NAN', '-.nan', 'inf');
    const numeric = fc.stringMatching(/^[-+]?(?:0[xob])?[0-9a-fA-F._eE+-]{0,9}$/).filter((t) => t !== '' && !/^[-+]$/.test(t));
    const plain = fc.oneof(words, numeric, fc.stringMatching(/^[.~a-zA-Z0-9][.~a-zA-Z0-9_:/-]{0,7}$/));
    fc.assert(
      fc.property(plain, plain, fc.boolean(), (key, value, all) => {
        const text = `apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n    ${key.startsWith('-') ? `"${key}"` : key}: ${value}\nx: [${value}, {k: ${value}}]\n`;
        sameOutcome(text, false, all);
      }),
      { numRuns: 1500, seed: 20261125 },
    );
  });

  test('random objects printed in every style, lightly mutated', () => {
    const tricky = fc.constantFrom('yes', 'on', '~', 'Null', 'True', '0o17', '017', '0x1F', '1_000', '+1', '-0', '.inf', '.NaN', '1e3', '1.', '.5', '2001-12-14', '=', '<<', '12345678901234567890', '1e400', '10.0.0.1', 'fe80::1', '- a', 'a: b', 'a #b', ' lead', 'trail ', 'tab\there', 'multi\nline', 'multi\n\nblank', 'ünï', '"q"', "'s'", '\\', '', '@x', '%x', '!x', '&x', '*x', '|', '?', ',', '[', '{');
    const str = fc.oneof(tricky, fc.string({ maxLength: 6 }), fc.stringMatching(/^[a-z][a-z0-9.-]{0,8}$/));
    const scalar = fc.oneof(str, fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
    const value = fc.letrec((tie) => ({
      v: fc.oneof({ depthSize: 'small' }, scalar, fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(str, tie('v'), { maxKeys: 3 })),
    })).v;
    const objects = fc
      .record({
        name: fc.oneof(str, fc.constant('p1')),
        labels: fc.dictionary(str, scalar, { maxKeys: 3 }),
        extra: fc.dictionary(str, value, { maxKeys: 2 }),
        ip: fc.oneof(fc.constant('10.0.0.1'), str),
        port: fc.oneof(fc.integer({ min: -1, max: 70000 }), str),
        selector: fc.dictionary(str, scalar, { maxKeys: 2 }),
        policyPort: fc.oneof(str, fc.integer({ min: 0, max: 70000 })),
        list: fc.boolean(),
      })
      .map((o) => {
        const pod = {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: o.name, namespace: 'ns', labels: o.labels, ...o.extra },
          spec: { containers: [{ name: 'c', ports: [{ name: 'http', containerPort: o.port }] }] },
          status: { podIPs: [{ ip: o.ip }] },
        };
        const cnp = {
          apiVersion: 'cilium.io/v2',
          kind: 'CiliumNetworkPolicy',
          metadata: { name: 'x', namespace: 'ns' },
          spec: { endpointSelector: { matchLabels: o.selector }, ingress: [{ fromEndpoints: [{}], toPorts: [{ ports: [{ port: o.policyPort, protocol: 'TCP' }] }] }] },
        };
        return o.list ? [{ apiVersion: 'v1', kind: 'List', items: [pod, cnp] }] : [pod, cnp];
      });
    const style = fc.record({
      lib: fc.constantFrom('yaml', 'js-yaml', 'json'),
      str: fc.constantFrom('PLAIN', 'QUOTE_DOUBLE', 'QUOTE_SINGLE', 'BLOCK_LITERAL', 'BLOCK_FOLDED'),
      coll: fc.constantFrom('block', 'flow', 'any'),
      indent: fc.integer({ min: 1, max: 4 }),
      indentSeq: fc.boolean(),
      lineWidth: fc.constantFrom(0, 8, 20, 80),
      crlf: fc.boolean(),
      comments: fc.boolean(),
    });
    const printed = fc.tuple(objects, style).map(([docs, o]) => {
      let text: string;
      if (o.lib === 'json') text = JSON.stringify(docs[0], null, o.indent);
      else if (o.lib === 'yaml') {
        const opts = { defaultStringType: o.str, defaultKeyType: 'PLAIN', collectionStyle: o.coll, indent: o.indent, indentSeq: o.indentSeq, lineWidth: o.lineWidth, minContentWidth: 0 } as const;
        text = docs.map((d) => stringify(d, opts)).join('---\n');
      } else {
        const opts = { indent: o.indent, lineWidth: o.lineWidth || -1, flowLevel: o.coll === 'flow' ? 0 : o.coll === 'any' ? 3 : -1 };
        text = docs.map((d) => dump(d, opts)).join('---\n');
      }
      if (o.comments) text = text.replace(/\n/g, (m, i: number) => (i % 3 === 0 ? '  # c\n' : m));
      if (o.crlf) text = text.replace(/\n/g, '\r\n');
      return { text, json: o.lib === 'json' };
    });
    fc.assert(
      fc.property(printed, fc.array(fc.tuple(fc.nat(), fc.nat({ max: 6 }), fc.constantFrom(...TOKENS)), { maxLength: 2 }), fc.boolean(), (p, e, all) =>
        sameOutcome(mutate(p.text, e), p.json, all),
      ),
      { numRuns: 300, seed: 20261124 },
    );
  });
});
