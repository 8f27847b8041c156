/**
 * Collections nested absurdly deep (a fuzzed policy with `rules: [[[[...]]]]` a thousand levels
 * down) are one positioned InputError, whichever reader would have read the file. Before the
 * limit, yaml's composer recursed until V8 aborted the process while compiling a regular
 * expression with no stack left ("RegExpCompiler Allocation failed"), and JSON deeper than a few
 * thousand levels overflowed the fast path's key count (an internal error, exit 70).
 */
import { describe, expect, test } from 'vitest';
import { MAX_NESTING } from '../../src/k8s/documents.js';
import { loadClusterText } from '../../src/k8s/load.js';
import { at, expectPositionedError } from '../policy/helpers.js';

const FILE = 'cluster.yaml';

/** A Namespace whose label value is `depth` nested flow sequences (root map, metadata, labels: 3 levels above). */
function namespaceWithNestedLabel(depth: number): string {
  return `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: deep\n  labels:\n    app: ${'['.repeat(depth)}${']'.repeat(depth)}\n`;
}

describe('nesting depth of cluster and policy files', () => {
  test.each([
    ['YAML flow sequences', (d: number) => namespaceWithNestedLabel(d)],
    ['JSON objects and arrays', (d: number) => `{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "deep", "labels": {"app": ${'['.repeat(d)}${']'.repeat(d)}}}}`],
  ])('%s deeper than the limit name the first collection past it', (_name, make) => {
    const text = make(MAX_NESTING);
    // Three collections enclose the label value, so its (MAX_NESTING - 2)th '[' is one too deep.
    const pos = at(text, '['.repeat(3), MAX_NESTING - 2);
    expectPositionedError(() => loadClusterText(text, FILE), { file: FILE, ...pos, reason: `nesting deeper than ${MAX_NESTING} levels` });
  });

  test('block mappings count as levels too', () => {
    let text = 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: deep\n  labels:\n';
    for (let i = 0; i < MAX_NESTING; i++) text += `${'  '.repeat(i + 2)}k${i}:\n`;
    const pos = at(text, `k${MAX_NESTING - 2}:`);
    expectPositionedError(() => loadClusterText(text, FILE), { file: FILE, ...pos, reason: `nesting deeper than ${MAX_NESTING} levels` });
  });

  test('thousands of levels are the same one error, not a crash', () => {
    for (const depth of [2000, 10000]) {
      expectPositionedError(() => loadClusterText(namespaceWithNestedLabel(depth), FILE), {
        file: FILE,
        line: 6,
        col: 10 + MAX_NESTING - 3,
        reason: `nesting deeper than ${MAX_NESTING} levels`,
      });
      const json = `{"kind": "Namespace", "apiVersion": "v1", "metadata": ${'{"a": '.repeat(depth)}1${'}'.repeat(depth)}}`;
      expectPositionedError(() => loadClusterText(json, FILE), { file: FILE, ...at(json, '{"a": ', MAX_NESTING), reason: `nesting deeper than ${MAX_NESTING} levels` });
    }
  });

  test('nesting up to the limit is read (and then checked as usual)', () => {
    // The label value is a list, not a string: the usual field error, not a nesting error.
    expect(() => loadClusterText(namespaceWithNestedLabel(MAX_NESTING - 3), FILE)).toThrow(/metadata\.labels\.app/);
  });
});
