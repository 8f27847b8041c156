/**
 * The loader's fast path (JSON.parse, js-yaml) against its reference, the `yaml` Document API:
 * which texts take it, that values read the same (YAML 1.2 core schema), and that positions
 * found on demand are exactly the reference's, even deep in a large file.
 */
import fc from 'fast-check';
import { LineCounter, parseAllDocuments } from 'yaml';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { isHubcapError } from '../../src/errors.js';
import { readDocuments } from '../../src/k8s/documents.js';
import { loadClusterText } from '../../src/k8s/load.js';
import { SourceText, SpanPositions } from '../../src/k8s/positions.js';
import type { RawObject } from '../../src/k8s/types.js';
import { parsePolicy } from '../../src/policy/parse.js';
import { at, expectPositionedError } from '../policy/helpers.js';

/** Both readers' results (or errors), with what is compared spelled out. */
function read(text: string, file: string, parser: 'auto' | 'yaml'): unknown {
  try {
    return readDocuments(text, file, () => true, { parser }).objects.map((o) => ({
      kind: o.kind,
      apiVersion: o.apiVersion,
      name: o.name,
      namespace: o.namespace,
      path: o.path,
      position: o.position,
      value: o.value,
    }));
  } catch (err) {
    if (!isHubcapError(err)) throw err;
    return err.message;
  }
}

/** True when the object was read by the fast path (no YAML node kept). */
const fast = (o: RawObject): boolean => o.positions !== undefined && o.node === undefined;

const POD = (ip: string): string => `apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: a}\nstatus: {podIP: ${ip}}\n`;

afterEach(() => {
  vi.restoreAllMocks();
});

describe('which texts take the fast path', () => {
  test('cluster kinds in YAML and in JSON', () => {
    const yamlObjs = readDocuments(POD('10.0.0.1'), 'p.yaml').objects;
    const jsonObjs = readDocuments(JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } }), 'p.json').objects;
    expect(yamlObjs.every(fast)).toBe(true);
    expect(jsonObjs.every(fast)).toBe(true);
  });

  test('JSON-looking text without the .json extension takes JSON.parse too', () => {
    const objs = readDocuments('\n  {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}', 'p.yaml').objects;
    expect(objs.every(fast)).toBe(true);
    expect(objs[0]!.position).toEqual({ file: 'p.yaml', line: 2, col: 3 });
  });

  test.each([
    ['anchors and aliases (yaml limits their expansion)', 'apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: &l {a: b}, annotations: *l}\n'],
    ['explicit tags', 'apiVersion: v1\nkind: Pod\nmetadata: {name: !!str p}\n'],
    ['a %YAML 1.1 directive (yaml switches to the 1.1 schema: yes is true)', '%YAML 1.1\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {a: yes}}\n'],
    ['a bare CR (a line break for js-yaml, not for yaml)', 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\r\nx: "a\rb"\n'],
    ['JSON with a repeated key (JSON.parse keeps the last one)', '{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "kind": "Pod"}'],
    ['an escaped line break before a blank line (js-yaml and yaml read it apart)', 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nx: "a\\\n\n  b"\n'],
    ['a block scalar with an indentation indicator', 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nx: |2\n    \n  a\n'],
    ['a comment at column 0 inside a flow mapping (yaml refuses it, js-yaml does not)', 'apiVersion: v1\nkind: Pod\nmetadata: {name: p\n# c\n}\n'],
    ['content after a quoted sequence entry (a new key for js-yaml, an error for yaml)', 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nx:\n- "a"b: 1\n'],
    ['a tab in the leading blanks of a line', 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  \t\n'],
    ['content after a document end marker', 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n... x: 1\n'],
    ['a number key equal to a string key (two keys for yaml, one for JS)', 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nx: {1: a, "1": b}\n'],
  ])('left to yaml: %s', (_name, text) => {
    const file = text.startsWith('{') ? 'p.json' : 'p.yaml';
    const got = read(text, file, 'auto');
    expect(got).toEqual(read(text, file, 'yaml'));
    if (Array.isArray(got)) expect(readDocuments(text, file).objects.some(fast)).toBe(false);
  });

  test('a document the fast path cannot turn into objects is read by yaml, whose error is reported', () => {
    const text = `${POD('10.0.0.1')}---\n- not an object\n`;
    expect(read(text, 'p.yaml', 'auto')).toBe(read(text, 'p.yaml', 'yaml'));
    const { line, col } = at(text, '- not');
    expect(read(text, 'p.yaml', 'auto')).toMatch(new RegExp(`^p\\.yaml:${line}:${col}: must be a Kubernetes object`));
  });
});

describe('values read as yaml reads them (YAML 1.2 core schema)', () => {
  test.each([
    ['yes', 'yes'],
    ['no', 'no'],
    ['on', 'on'],
    ['off', 'off'],
    ['y', 'y'],
    ['~', null],
    ['Null', null],
    ['True', true],
    ['FALSE', false],
    ['0o17', 15],
    ['017', 17],
    ['0x1F', 31],
    ['0b101', '0b101'],
    ['1_000', '1_000'],
    ['+12', 12],
    ['1e3', 1000],
    ['.5', 0.5],
    ['-.inf', -Infinity],
    ['2001-12-14', '2001-12-14'],
    ['2026-10-01T08:00:00Z', '2026-10-01T08:00:00Z'],
    ['10.0.0.1', '10.0.0.1'],
    ['=', '='],
    ['<<', '<<'],
  ])('%s', (scalar, want) => {
    const text = `apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nx: ${scalar}\n`;
    const objs = readDocuments(text, 'p.yaml').objects;
    expect(objs.every(fast)).toBe(true);
    expect(objs[0]!.value.x).toEqual(want);
    expect(read(text, 'p.yaml', 'auto')).toEqual(read(text, 'p.yaml', 'yaml'));
  });

  test('duplicate keys are refused with yaml\'s message, in YAML and in JSON', () => {
    const y = 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  name: b\n';
    const j = '{\n  "apiVersion": "v1",\n  "kind": "Pod",\n  "metadata": {"name": "a", "name": "b"}\n}\n';
    expectPositionedError(() => loadClusterText(y, 'd.yaml'), { file: 'd.yaml', ...at(y, 'name: b'), reason: 'invalid YAML: Map keys must be unique' });
    expectPositionedError(() => loadClusterText(j, 'd.json'), { file: 'd.json', ...at(j, '"name": "b"'), reason: 'invalid YAML: Map keys must be unique' });
  });
});

describe('positions found on demand', () => {
  test('line and column of an offset, counted forward or from the table, are yaml\'s LineCounter\'s', () => {
    const text = fc.array(fc.constantFrom('a', ' ', '#', ':', '\n', '\r\n', 'é', '\t'), { maxLength: 60 }).map((a) => a.join(''));
    fc.assert(
      fc.property(text, fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), (t, raw) => {
        const reference = new LineCounter();
        parseAllDocuments(t, { lineCounter: reference });
        const source = new SourceText('f', t);
        // Increasing offsets are counted forward; a smaller one falls back to the table.
        const offsets = [...raw.map((o) => o % (t.length + 1)).sort((a, b) => a - b), 0];
        for (const o of offsets) expect(source.position(o)).toEqual({ file: 'f', ...reference.linePos(o) });
      }),
      { numRuns: 300, seed: 7 },
    );
  });

  /** A kubectl-style List of `count` pods; pod `bad` gets an address that is not one. */
  function bigList(count: number, bad: number): string {
    const parts = ['apiVersion: v1', 'items:'];
    for (let i = 0; i < count; i++) {
      const ip = i === bad ? '10.0.300.1' : `10.${16 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
      parts.push(
        '- apiVersion: v1',
        '  kind: Pod',
        '  metadata:',
        `    name: web-${i}`,
        '    namespace: team-a',
        '    labels: {app: web, pod-template-hash: 7db6d8ff4d}',
        '    creationTimestamp: "2026-10-01T08:00:00Z"',
        '  spec:',
        '    containers:',
        '    - name: main',
        '      image: registry.example.com/app:1.2.3',
        '      ports:',
        '      - {name: http, containerPort: 8080, protocol: TCP}',
        '    nodeName: node-001',
        '  status:',
        '    phase: Running',
        '    conditions:',
        '    - {type: Ready, status: "True", lastProbeTime: null}',
        `    podIP: ${ip}`,
        '    podIPs:',
        `    - ip: ${ip}`,
      );
    }
    parts.push('kind: List', 'metadata: {resourceVersion: ""}', '');
    return parts.join('\n');
  }

  test('a bad pod IP in the 4,000th pod of a large file: exact line:col, from that pod alone', () => {
    const text = bigList(4200, 3999);
    const whole = vi.spyOn(SourceText.prototype, 'documents');
    const twin = vi.spyOn(SpanPositions.prototype, 'root');
    const err = expectPositionedError(() => loadClusterText(text, 'big.yaml'), {
      file: 'big.yaml',
      ...at(text, '10.0.300.1', 2),
      path: 'items[3999].status.podIPs[0].ip',
      reason: 'not a valid IP address: "10.0.300.1"',
    });
    expect(err.message.startsWith(`big.yaml:${4 + 3999 * 21 + 19}:11: `)).toBe(true);
    // The position came from re-reading the 4,000th pod, not the whole 4 MB file.
    expect(twin).toHaveBeenCalledTimes(1);
    expect(whole).not.toHaveBeenCalled();
  });

  test('the same pod list as kubectl get -o json prints it: exact line:col of the bad field', () => {
    const items = Array.from({ length: 300 }, (_, i) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `web-${i}`, namespace: 'team-a', labels: { app: 'web' } },
      spec: { containers: [{ name: 'main', ports: [{ name: 'http', containerPort: i === 250 ? 70000 : 8080 }] }] },
      status: { phase: 'Running', podIPs: [{ ip: `10.0.${i >> 8}.${i & 255}` }] },
    }));
    const text = JSON.stringify({ apiVersion: 'v1', items, kind: 'List', metadata: { resourceVersion: '' } }, null, 4);
    expect(readDocuments(text, 'pods.json').objects.every(fast)).toBe(true);
    expectPositionedError(() => loadClusterText(text, 'pods.json'), {
      file: 'pods.json',
      ...at(text, '70000'),
      path: 'items[250].spec.containers[0].ports[0].containerPort',
      reason: '70000 is out of range 1..65535',
    });
    expect(read(text, 'pods.json', 'auto')).toEqual(read(text, 'pods.json', 'yaml'));
  });

  test('object positions: every item of a List, every document, YAML and JSON', () => {
    const text = bigList(40, -1);
    expect(read(text, 'l.yaml', 'auto')).toEqual(read(text, 'l.yaml', 'yaml'));
    const multi = `# lead\n---\n${POD('10.0.0.1')}---\n\n  # c\n${POD('10.0.0.2').replace('kind: Pod', 'kind: Pod  # c')}...\n---\n{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "q"}}\n`;
    expect(read(multi, 'm.yaml', 'auto')).toEqual(read(multi, 'm.yaml', 'yaml'));
  });

  test('a key without a value in a flow mapping is absent, as yaml says, not null', () => {
    const text = 'apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {app}}\n';
    expect(read(text, 'p.yaml', 'auto')).toEqual(read(text, 'p.yaml', 'yaml'));
    expectPositionedError(() => loadClusterText(text, 'p.yaml'), { file: 'p.yaml', ...at(text, 'app}'), path: 'metadata.labels.app', reason: 'required field is missing' });
  });

  test('unknown fields are reported in document order, also for keys JS orders first ("80")', () => {
    const text = 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p, namespace: a}\nspec:\n  endpointSelector: {}\n  zeta: 1\n  80: x\n';
    const raw = readDocuments(text, 'p.yaml').objects[0]!;
    expect(fast(raw)).toBe(true);
    expectPositionedError(() => parsePolicy(raw), { file: 'p.yaml', ...at(text, 'zeta'), path: 'spec.zeta', reason: 'unknown field "zeta"' });
  });

  test('policy rules keep the positions of their mappings, from js-yaml nodes and from JSON alike', () => {
    const text = [
      'apiVersion: cilium.io/v2',
      'kind: CiliumNetworkPolicy',
      'metadata: {name: p, namespace: a}',
      'spec:',
      '  endpointSelector: {matchLabels: {app: web}}',
      '  ingress:',
      '  - fromEndpoints: [{}]',
      '    toPorts:',
      '    - ports: [{port: "80", protocol: TCP}]',
      '  -   # a comment before the mapping',
      '    fromEntities: [world]',
      '',
    ].join('\n');
    const viaFast = parsePolicy(readDocuments(text, 'p.yaml').objects[0]!);
    const viaYaml = parsePolicy(readDocuments(text, 'p.yaml', () => true, { parser: 'yaml' }).objects[0]!);
    expect(viaFast).toEqual(viaYaml);
    expect(viaFast.specs[0]!.rules.map((r) => r.position)).toEqual([
      { file: 'p.yaml', ...at(text, 'fromEndpoints') },
      { file: 'p.yaml', ...at(text, 'fromEntities') },
    ]);
    const json = JSON.stringify(readDocuments(text, 'p.yaml').objects[0]!.value, null, 2);
    const jsonFast = parsePolicy(readDocuments(json, 'p.json').objects[0]!);
    expect(jsonFast).toEqual(parsePolicy(readDocuments(json, 'p.json', () => true, { parser: 'yaml' }).objects[0]!));
  });
});
