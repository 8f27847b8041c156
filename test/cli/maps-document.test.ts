/**
 * `replay --maps` reads a document users may edit or truncate: every field the datapath reads
 * is checked, so a wrong type or an impossible value is one line naming the file, the line and
 * column of the value and its JSON path, with exit 2 (design.md §3), never an internal error.
 * Found by fuzzing the CLI with mutated `maps dump` output.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { runHubcap } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'hubcap-maps-doc-'));
const dump = runHubcap(['maps', '--cluster', 'examples/starwars/cluster', '--policy', 'examples/starwars/policies-l7', 'dump', '-q']);
const CAPTURE = 'pcaps/starwars-deathstar.pcap';

type Doc = Record<string, any>;

/** Writes the dump with `edit` applied, pretty-printed as `maps dump` writes it. */
function edited(name: string, edit: (d: Doc) => void): string {
  const d = JSON.parse(dump.stdout) as Doc;
  edit(d);
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(d, null, 1));
  return file;
}

describe('replay --maps with a damaged document', () => {
  test('the unedited dump loads', () => {
    expect(dump.status).toBe(0);
    const r = runHubcap(['replay', CAPTURE, '--maps', edited('ok.json', () => {}), '-o', 'summary', '-q']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  test.each([
    ['a port written as a string', 'port-string.json', (d: Doc) => (d.policyMaps[0].entries[0].port = '80'), /policyMaps\[0\]\.entries\[0\]\.port: must be a whole number 0\.\.65535/],
    ['endpoint addresses missing', 'no-addresses.json', (d: Doc) => (d.endpoints[0].addresses = null), /endpoints\[0\]\.addresses: must be a list/],
    ['a rule index past the rules list', 'derived.json', (d: Doc) => (d.policyMaps[0].entries[0].derivedFrom = [999]), /policyMaps\[0\]\.entries\[0\]\.derivedFrom\[0\]: must be a whole number 0\.\./],
    ['an ipcache prefix that is no prefix', 'prefix.json', (d: Doc) => (d.ipcache.shared[0].prefix = '10.0.0.0/33'), /ipcache\.shared\[0\]\.prefix: "10\.0\.0\.0\/33" is not an IP prefix/],
    ['an absurd ipcache capacity', 'capacity.json', (d: Doc) => (d.ipcache.capacity = 1e12), /ipcache\.capacity: must be a whole number 1\.\.268435456/],
    ['an L7 header rule that is not a string', 'header.json', (d: Doc) => (d.l7[0].rules[0].headers = [{ a: 1 }]), /l7\[0\]\.rules\[0\]\.headers\[0\]: must be a string/],
    ['a service without a protocol', 'service.json', (d: Doc) => delete d.services[0].protocol, /services\[0\]\.protocol: must be one of TCP, UDP, SCTP/],
  ])('%s', (_name, file, edit, reason) => {
    const path = edited(file, edit);
    const r = runHubcap(['replay', CAPTURE, '--maps', path, '-o', 'json', '-q']);
    expect(r.status).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^hubcap: ${path.replace(/[.]/g, '\\.')}:\\d+:\\d+: maps document: `));
    expect(lines[0]).toMatch(reason);
    expect(r.stdout).toBe('');
  });

  test('the position is the line and column of the bad value', () => {
    const path = edited('where.json', (d) => (d.services[0].port = -1));
    const r = runHubcap(['replay', CAPTURE, '--maps', path, '-q']);
    const text = JSON.stringify({ ...(JSON.parse(dump.stdout) as Doc), services: [{ ...(JSON.parse(dump.stdout) as Doc).services[0], port: -1 }] }, null, 1);
    const lines = text.split('\n');
    // The services list is the only place "port": -1 appears.
    const line = lines.findIndex((l) => l.includes('"port": -1')) + 1;
    const col = lines[line - 1]!.indexOf('-1') + 1;
    expect(r.stderr.trim()).toBe(`hubcap: ${path}:${line}:${col}: maps document: services[0].port: must be a whole number 0..65535`);
  });
});
