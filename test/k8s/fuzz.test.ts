/**
 * Robustness of the loader and the policy parser: random text and mutated real inputs (the
 * seed-talk cluster and policies) either load or fail with a HubcapError (one line, with a
 * position); never a TypeError or another crash.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { isHubcapError } from '../../src/errors.js';
import { loadClusterText } from '../../src/k8s/load.js';
import { parsePolicy } from '../../src/policy/parse.js';

const ROOT = join(import.meta.dirname, '..', '..', 'examples', 'seed-talk');
const SAMPLES = [
  ...readdirSync(join(ROOT, 'policies')).map((f) => readFileSync(join(ROOT, 'policies', f), 'utf8')),
  readFileSync(join(ROOT, 'cluster', 'namespaces.yaml'), 'utf8'),
  readFileSync(join(ROOT, 'cluster', 'services.yaml'), 'utf8'),
];

/** Loads and parses; returns 'ok' or the error, and fails the property on anything not ours. */
function run(text: string): 'ok' | 'error' {
  try {
    const c = loadClusterText(text, 'fuzz.yaml');
    for (const raw of c.policies) parsePolicy(raw);
    return 'ok';
  } catch (err) {
    if (!isHubcapError(err)) throw err;
    expect(err.message).not.toContain('\n');
    expect(err.message).toMatch(/^fuzz\.yaml:\d+:\d+: /);
    return 'error';
  }
}

/** Small edits of a real document: delete, duplicate or replace a slice with YAML-ish tokens. */
const TOKENS = ['', ' ', '\n', '- ', ': ', '{', '}', '[', ']', '"', "'", '&a ', '*a', '~', 'null', '0', '-1', '65536', 'true', '{}', '[]', 'k8s:', '  ', '\t', '#', '---\n'];
const mutated = fc
  .tuple(fc.constantFrom(...SAMPLES), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 12 }), fc.constantFrom(...TOKENS)), { minLength: 1, maxLength: 4 }))
  .map(([text, edits]) => {
    let out = text;
    for (const [pos, len, token] of edits) {
      const at = pos % (out.length + 1);
      out = out.slice(0, at) + token + out.slice(at + len);
    }
    return out;
  });

describe('loader and parser never crash', () => {
  test('the unmutated samples load and parse', () => {
    for (const s of SAMPLES) expect(run(s)).toBe('ok');
  });

  test('mutated seed-talk documents', () => {
    fc.assert(fc.property(mutated, (text) => void run(text)), { numRuns: 1000, seed: 20240311 });
  });

  test('random YAML-ish text', () => {
    const yamlish = fc.array(fc.constantFrom(...TOKENS, 'apiVersion: v1\n', 'kind: Pod\n', 'kind: CiliumNetworkPolicy\n', 'metadata:\n', 'spec:\n', 'name: x\n'), { maxLength: 40 }).map((a) => a.join(''));
    fc.assert(fc.property(fc.oneof(yamlish, fc.string()), (text) => void run(text)), { numRuns: 1500, seed: 7 });
  });

  test('an alias bomb is refused, not expanded', () => {
    const bomb = [
      'apiVersion: v1',
      'kind: Pod',
      'a: &a ["x","x","x","x","x","x","x","x","x","x"]',
      'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]',
      'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]',
      'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]',
      'e: [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]',
      'metadata: {name: p}',
      'status: {podIP: 10.0.0.1}',
      '',
    ].join('\n');
    expect(run(bomb)).toBe('error');
  });
});
