/**
 * The maps document check (src/maps/document-check.ts: the JSON Schema src/maps/maps.schema.json
 * through ajv, then rule indexes and L7 port ranges): every document hubcap itself writes for the
 * bundled examples passes, so the schema is not stricter than `maps dump`; and each kind of fault
 * is reported at its path in words. The CLI's side (file:line:col, exit 2) is
 * test/cli/maps-document.test.ts.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, test } from 'vitest';
import { compileFromFlags } from '../../src/cli/inputs.js';
import { checkMapsDocument, formatDocumentPath } from '../../src/maps/document-check.js';
import type { MapsDocument } from '../../src/maps/document.js';

const EXAMPLES = join(import.meta.dirname, '..', '..', 'examples');

/**
 * Every policy set of the examples (a folder under a `policies*` folder holding policy files)
 * compiled against its example's `cluster`.
 */
function exampleDumps(): Array<[string, MapsDocument]> {
  const out: Array<[string, MapsDocument]> = [];
  const walk = (dir: string, cluster: string | undefined, inPolicies: boolean): void => {
    const names = readdirSync(dir);
    const here = names.includes('cluster') ? join(dir, 'cluster') : cluster;
    const files = names.filter((f) => /\.(ya?ml|json)$/.test(f) && !f.startsWith('expect') && statSync(join(dir, f)).isFile());
    if (inPolicies && here !== undefined && files.length > 0) {
      const doc = compileFromFlags({ cluster: [here], policy: files.map((f) => join(dir, f)) });
      out.push([relative(EXAMPLES, dir), JSON.parse(JSON.stringify(doc)) as MapsDocument]);
    }
    for (const f of names) {
      if (f === 'cluster' || !statSync(join(dir, f)).isDirectory()) continue;
      walk(join(dir, f), here, inPolicies || f.startsWith('policies'));
    }
  };
  walk(EXAMPLES, undefined, false);
  return out;
}

const dumps = exampleDumps();
/** The L7 example: it has every section filled (L7 rule sets, FQDN selectors with uses). */
const l7 = (): MapsDocument & Record<string, any> => structuredClone(dumps.find(([name]) => name === 'l7/policies/fqdn')![1]) as MapsDocument & Record<string, any>;

function problem(doc: unknown): string | undefined {
  const p = checkMapsDocument(doc);
  return p && `${formatDocumentPath(p.path)}: ${p.reason}`;
}

describe('maps document check', () => {
  test('every example compiles to a document that passes', () => {
    expect(dumps.length).toBeGreaterThan(15);
    for (const [name, doc] of dumps) expect(problem(doc), name).toBeUndefined();
  });

  test('an HTTP rule is checked as one (a path that is a number)', () => {
    const [, http] = dumps.find(([, d]) => d.l7.some((r) => r.parser === 'http'))!;
    const d = structuredClone(http) as MapsDocument & Record<string, any>;
    const i = d.l7.findIndex((r) => r.parser === 'http');
    (d.l7[i]!.rules[0] as Record<string, unknown>).path = 7;
    expect(problem(d)).toBe(`l7[${i}].rules[0].path: must be a string`);
  });

  test('the L7 example exercises the L7 and FQDN sections', () => {
    const d = l7();
    expect(d.l7.length).toBeGreaterThan(0);
    expect(d.fqdnSelectors.some((f: any) => (f.uses?.length ?? 0) > 0)).toBe(true);
  });

  test.each([
    ['a prefix length the LPM key cannot have', (d: any) => (d.policyMaps[0].entries[0].prefixLen = 5), 'policyMaps[0].entries[0].prefixLen: must be 0 or 8..24'],
    ['a verdict hubcap does not write', (d: any) => (d.policyMaps[0].entries[0].verdict = 'audit'), 'policyMaps[0].entries[0].verdict: must be one of allow, deny, redirect'],
    ['a node address that is no address', (d: any) => (d.nodes[0].addresses[0] = '10.0.0.300'), 'nodes[0].addresses[0]: "10.0.0.300" is not an IP address'],
    ['a missing options section', (d: any) => delete d.options, 'options: must be an object'],
    ['a node label that is not a string', (d: any) => (d.nodes[0].labels = { a: 1 }), 'nodes[0].labels.a: must be a string'],
    ['an L7 port range that ends before it starts', (d: any) => (d.l7[0].endPort = d.l7[0].port - 1), /^l7\[0\]\.endPort: must be a whole number \d+\.\.65535$/],
    ['an FQDN use naming a rule past the list', (d: any) => (d.fqdnSelectors.find((f: any) => f.uses?.length).uses[0].derivedFrom = [d.rules.length]), /^fqdnSelectors\[\d+\]\.uses\[0\]\.derivedFrom\[0\]: must be a whole number 0\.\.\d+$/],
  ])('%s', (_name, edit, want) => {
    const d = l7();
    edit(d);
    if (typeof want === 'string') expect(problem(d)).toBe(want);
    else expect(problem(d)).toMatch(want);
  });
});
