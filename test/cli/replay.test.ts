/**
 * `hubcap replay` as a user runs it: real captures through the compiled maps; the same flows from
 * a `maps dump`; every -o json line valid against the published schema; expectations failing
 * with exit 1; bad input as one line with exit 2 (design.md §3 exit statuses).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, test } from 'vitest';
import { runHubcap } from '../helpers/cli.js';

const STARWARS = ['--cluster', 'examples/starwars/cluster', '--policy', 'examples/starwars/policies', '-q'];
const SEED = ['--cluster', 'examples/seed-talk/cluster', '--policy', 'examples/seed-talk/policies', '-q'];
const dir = mkdtempSync(join(tmpdir(), 'hubcap-replay-'));

const AjvClass = Ajv2020 as unknown as typeof Ajv2020.default;
const ajv = new AjvClass({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
(addFormats as unknown as typeof addFormats.default)(ajv);
const validate = ajv.compile(JSON.parse(readFileSync('src/flow/flow.schema.json', 'utf8')) as object);

describe('hubcap replay', () => {
  test('maps dump then replay --maps gives the same flows as compiling YAML', () => {
    const dump = runHubcap(['maps', ...SEED, 'dump']);
    expect(dump.status).toBe(0);
    const mapsFile = join(dir, 'maps.json');
    writeFileSync(mapsFile, dump.stdout);
    const fromYaml = runHubcap(['replay', 'pcaps/seed-talk.pcap', ...SEED, '-o', 'json']);
    const fromMaps = runHubcap(['replay', 'pcaps/seed-talk.pcap', '--maps', mapsFile, '-q', '-o', 'json']);
    expect(fromYaml.status).toBe(0);
    expect(fromMaps.status).toBe(0);
    expect(fromMaps.stdout.length).toBeGreaterThan(1000);
    expect(fromMaps.stdout).toBe(fromYaml.stdout);
  });

  test.each([
    ['pcaps/seed-talk.pcap', SEED],
    ['pcaps/starwars-node-sll2.pcap', STARWARS],
    ['pcaps/starwars-service.pcap', STARWARS],
  ])('every -o json line of %s validates against src/flow/flow.schema.json', (capture, args) => {
    const r = runHubcap(['replay', capture, ...args, '-o', 'json']);
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThan(10);
    for (const line of lines) {
      const ok = validate(JSON.parse(line));
      expect(ok, `${ajv.errorsText(validate.errors)}\n${line}`).toBe(true);
    }
  });

  test('filters: --verdict DROPPED shows only drops, -t policy-verdict only verdicts', () => {
    const drops = runHubcap(['replay', 'pcaps/starwars-deathstar.pcap', ...STARWARS, '--verdict', 'DROPPED']).stdout.trim().split('\n');
    expect(drops.length).toBeGreaterThan(0);
    // Drop events say DROPPED; policy verdicts of drops say DENIED, as Hubble prints them.
    expect(drops.every((l) => l.includes('DROPPED') || l.includes('INGRESS DENIED') || l.includes('EGRESS DENIED'))).toBe(true);
    const verdicts = runHubcap(['replay', 'pcaps/starwars-deathstar.pcap', ...STARWARS, '-t', 'policy-verdict']).stdout.trim().split('\n');
    expect(verdicts.every((l) => l.includes('policy-verdict:'))).toBe(true);
  });

  test('a duplicated tcpdump -i any capture gives the same drops as the single copy', () => {
    const dropped = (capture: string): string | undefined =>
      runHubcap(['replay', capture, ...STARWARS, '-o', 'summary']).stdout.split('\n').find((l) => l.startsWith('DROPPED'));
    // The node capture sees every pod packet twice (veth and routed copy); merged, the same
    // 16 packets of 2 connections drop as on the deathstar's own interface.
    expect(dropped('pcaps/starwars-node-sll2.pcap')).toBe(dropped('pcaps/starwars-deathstar.pcap'));
    expect(dropped('pcaps/starwars-deathstar.pcap')).toMatch(/^DROPPED\s+16\s+2$/);
  });

  test('a failed expectation is a readable report and exit 1', () => {
    const expectFile = join(dir, 'wrong.yaml');
    writeFileSync(
      expectFile,
      ['- name: xwing lands (wrong on purpose)', '  from: {pod: default/xwing}', '  to: {pod: default/deathstar-b4b8ccfb5-5hmds}', '  port: 80', '  expect: allowed', ''].join('\n'),
    );
    const r = runHubcap(['replay', 'pcaps/starwars-deathstar.pcap', ...STARWARS, '-o', 'summary', '--expect', expectFile]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/FAIL .*wrong\.yaml:1: xwing lands \(wrong on purpose\)/);
    expect(r.stderr).toMatch(/default\/xwing:\d+ -> default\/deathstar-b4b8ccfb5-5hmds:80 TCP: dropped \(reason 133\)/);
  });

  test('an expectation that matches no traffic fails', () => {
    const expectFile = join(dir, 'nothing.yaml');
    writeFileSync(expectFile, '- from: {pod: default/tiefighter}\n  to: {pod: default/xwing}\n  port: 443\n  expect: dropped\n');
    const r = runHubcap(['replay', 'pcaps/starwars-deathstar.pcap', ...STARWARS, '-o', 'summary', '--expect', expectFile]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/no matching connection in the capture/);
  });
});

describe('hubcap replay: bad input is one line and exit 2', () => {
  const write = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  test.each([
    ['an unknown pod in --expect', () => ['--expect', write('unknown-pod.yaml', '- from: {pod: default/nobody}\n  to: {entity: world}\n  expect: dropped\n')], /unknown-pod\.yaml:1:\d+: \[0\]\.from\.pod: unknown pod "default\/nobody"/],
    ['a selector matching no pod', () => ['--expect', write('no-match.yaml', '- from: {selector: {namespace: default, matchLabels: {app: ghost}}}\n  to: {entity: world}\n  expect: dropped\n')], /matches no pod/],
    ['an unknown expectation outcome', () => ['--expect', write('bad-outcome.yaml', '- from: {pod: default/xwing}\n  to: {entity: world}\n  expect: maybe\n')], /bad-outcome\.yaml:3:\d+: \[0\]\.expect: must be one of/],
    ['a bad --dedup-window', () => ['--dedup-window', 'soon'], /--dedup-window must be a duration/],
    ['a conntrack table above hubcap\'s largest', () => ['--bpf-ct-global-tcp-max', '16777216'], /--bpf-ct-global-tcp-max must be a whole number between 1 and 4194304, got "16777216"/],
    ['an unknown output format', () => ['-o', 'xml'], /-o must be one of/],
  ])('%s', (_name, extra, pattern) => {
    const r = runHubcap(['replay', 'pcaps/starwars-deathstar.pcap', ...STARWARS, ...extra()]);
    expect(r.status).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(pattern);
  });

  test('an unreadable or corrupt capture', () => {
    const missing = runHubcap(['replay', join(dir, 'missing.pcap'), ...STARWARS]);
    expect(missing.status).toBe(2);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    const corrupt = runHubcap(['replay', write('corrupt.pcap', 'this is not a capture at all'), ...STARWARS]);
    expect(corrupt.status).toBe(2);
    expect(corrupt.stderr.trim()).toMatch(/corrupt\.pcap: byte 0: /);
  });

  test('an invalid policy', () => {
    const bad = write('bad-policy.yaml', 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: x, namespace: default}\nspec:\n  endpointSelector: {}\n  ingress:\n  - fromEntities: [everything]\n');
    const r = runHubcap(['replay', 'pcaps/starwars-deathstar.pcap', '--cluster', 'examples/starwars/cluster', '--policy', bad]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toMatch(/bad-policy\.yaml:7:\d+: spec\.ingress\[0\]\.fromEntities\[0\]/);
  });

  test.each([
    ['--enable-policy', 'always'],
    ['--no-host-firewall'],
    ['--bpf-policy-map-max', '100'],
    ['--envoy-re2-max-program-size', '1000'],
  ])('%s beside --maps is refused, not ignored: the document was compiled with its own setting', (...flag) => {
    const mapsFile = write('sw-maps.json', runHubcap(['maps', '--cluster', 'examples/starwars/cluster', '--policy', 'examples/starwars/policies', 'dump']).stdout);
    const r = runHubcap(['replay', 'pcaps/starwars-deathstar.pcap', '--maps', mapsFile, ...flag]);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim()).toBe(`hubcap: ${flag[0]} shapes the compiled maps, and with --maps the document's own setting holds: give it to \`hubcap maps dump\` instead`);
    expect(r.status).toBe(2);
  });

  test('a filter beside -o summary is refused, not ignored: the summary counts every event', () => {
    const r = runHubcap(['replay', 'pcaps/starwars-deathstar.pcap', '--cluster', 'examples/starwars/cluster', '--policy', 'examples/starwars/policies', '-o', 'summary', '--verdict', 'DROPPED']);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim()).toBe('hubcap: filters choose the flows printed, and -o summary prints none (the summary counts every event): use a flow format, with --summary to add it');
    expect(r.status).toBe(2);
    // With a flow format the filter applies to the flows, and --summary still counts everything.
    const both = runHubcap(['replay', 'pcaps/starwars-deathstar.pcap', '--cluster', 'examples/starwars/cluster', '--policy', 'examples/starwars/policies', '-q', '--verdict', 'DROPPED', '--summary']);
    expect(both.status, both.stderr).toBe(0);
    const flows = both.stdout.split('\n').filter((l) => /^[A-Z][a-z]{2} \d+ \d\d:\d\d:/.test(l)); // compact lines start with their time
    expect(flows.length).toBeGreaterThan(0);
    expect(flows.every((l) => / (DROPPED|DENIED) /.test(l))).toBe(true);
    expect(both.stdout).toMatch(/^FORWARDED +40 +7$/m);
  });

  test('a file that is not a maps dump', () => {
    const r = runHubcap(['replay', 'pcaps/starwars-deathstar.pcap', '--maps', write('not-maps.json', '{"hello": 1}')]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toMatch(/not-maps\.json:1:1: not a maps document/);
  });
});
