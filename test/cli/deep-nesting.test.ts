/**
 * A policy or expectations file nested thousands of levels deep, as fuzzing wrote one, is bad
 * input: one line naming the file, line and column, exit 2. It used to abort the process (V8's
 * "RegExpCompiler Allocation failed" out of yaml's recursive composer: a native stack trace and
 * SIGABRT) or print an internal error.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { runHubcap } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'hubcap-deep-'));
const STARWARS = ['--cluster', 'examples/starwars/cluster', '--policy', 'examples/starwars/policies', '-q'];

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe('deeply nested input files', () => {
  test('a JSON policy with L7 rules nested 1000 levels deep', () => {
    const rules = `${'[{"a":'.repeat(1000)}1${'}]'.repeat(1000)}`;
    const policy = write(
      'deep-policy.json',
      `{"apiVersion":"cilium.io/v2","kind":"CiliumNetworkPolicy","metadata":{"name":"x","namespace":"default"},"spec":{"endpointSelector":{},"egress":[{"toPorts":[{"rules":${rules}}]}]}}`,
    );
    const r = runHubcap(['replay', 'pcaps/starwars-deathstar.pcap', '--cluster', 'examples/starwars/cluster', '--policy', policy, '-q', '-o', 'summary']);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^hubcap: ${policy}:1:\\d+: nesting deeper than 256 levels$`))]);
    expect(r.status).toBe(2);
  });

  test('an expectations file nested 2000 levels deep', () => {
    const expectFile = write('deep-expect.yaml', `- from: ${'['.repeat(2000)}${']'.repeat(2000)}\n`);
    const r = runHubcap(['replay', 'pcaps/starwars-deathstar.pcap', ...STARWARS, '--expect', expectFile, '-o', 'summary']);
    // The list is level 1, the item's mapping level 2: the 255th '[' is level 257.
    expect(r.stderr.trim()).toBe(`hubcap: ${expectFile}:1:${9 + 254}: nesting deeper than 256 levels`);
    expect(r.status).toBe(2);
  });
});
