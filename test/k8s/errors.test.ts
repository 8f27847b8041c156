/**
 * Malformed cluster objects: the fields hubcap uses are type-checked, and every problem is ONE
 * line `file:line:col: field.path: reason` (InputError, code HUBCAP_ERR_INPUT). Fields hubcap
 * does not use (status conditions, managedFields, annotations) are never a problem.
 */
import { describe, expect, test } from 'vitest';
import { InputError } from '../../src/errors.js';
import { loadClusterText } from '../../src/k8s/load.js';
import { at, expectPositionedError } from '../policy/helpers.js';

const FILE = 'cluster.yaml';

function expectInputError(text: string, needle: string, path: string | undefined, reason: string, nth = 1): void {
  const pos = at(text, needle, nth);
  const err = expectPositionedError(() => loadClusterText(text, FILE), { file: FILE, ...pos, reason, ...(path ? { path } : {}) });
  expect(err.code).toBe('HUBCAP_ERR_INPUT');
}

describe('malformed cluster objects', () => {
  test('bad YAML syntax reports the parser position', () => {
    const text = 'apiVersion: v1\nkind: Pod\nmetadata: {name: a, labels: {app: web}\n';
    expectPositionedError(() => loadClusterText(text, FILE), {
      file: FILE,
      line: 4,
      col: 1,
      reason: 'invalid YAML: Flow map in block collection must be sufficiently indented and end with a }',
    });
  });

  test('duplicate keys are an error (strict decoding)', () => {
    const text = 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  name: b\n';
    expectInputError(text, 'name: b', undefined, 'invalid YAML: Map keys must be unique');
  });

  test('a pod IP that is not an address', () => {
    const text = 'apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: x}\nstatus:\n  podIPs:\n    - ip: 10.0.0.256\n';
    expectInputError(text, '10.0.0.256', 'status.podIPs[0].ip', 'not a valid IP address: "10.0.0.256"');
  });

  test('a bad pod IP inside a kind: List names the item in the path', () => {
    const text = 'apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: a}\n  status: {podIP: "fe80::zz"}\n';
    expectInputError(text, '"fe80::zz"', 'items[0].status.podIP', 'not a valid IP address: "fe80::zz"');
  });

  test('a label value that is not a string', () => {
    const text = 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  labels:\n    tier: 3\nstatus: {podIP: 10.0.0.1}\n';
    expectInputError(text, '3', 'metadata.labels.tier', 'must be a string, not a number');
  });

  test('a label key with dots and slashes is quoted in the path', () => {
    const text = 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  labels:\n    app.kubernetes.io/name: true\n';
    expectInputError(text, 'true', 'metadata.labels["app.kubernetes.io/name"]', 'must be a string, not a boolean');
  });

  test('a container port out of range', () => {
    const text = 'apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n    - name: c\n      ports:\n        - {name: http, containerPort: 70000}\n';
    expectInputError(text, '70000', 'spec.containers[0].ports[0].containerPort', '70000 is out of range 1..65535');
  });

  test('a service port of 0', () => {
    const text = 'apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: x}\nspec:\n  ports:\n    - port: 0\n';
    expectInputError(text, '0\n', 'spec.ports[0].port', '0 is out of range 1..65535');
  });

  test('an unknown protocol', () => {
    const text = 'apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 53, protocol: ICMP}]}\n';
    expectInputError(text, 'ICMP', 'spec.ports[0].protocol', 'unsupported protocol "ICMP"');
  });

  test('a node address that is not an address', () => {
    const text = 'apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nstatus:\n  addresses:\n    - {type: InternalIP, address: node-1.lan}\n';
    expectInputError(text, 'node-1.lan', 'status.addresses[0].address', 'not a valid IP address');
  });

  test('a list where a mapping is expected', () => {
    const text = 'apiVersion: v1\nkind: Pod\nmetadata: [a]\n';
    expectInputError(text, '[a]', 'metadata', 'must be a mapping (object), not a list');
  });

  test('a known kind without metadata.name', () => {
    const text = 'apiVersion: v1\nkind: Service\nmetadata: {namespace: x}\n';
    expectInputError(text, '{namespace', 'metadata.name', 'required field is missing');
  });

  test('a document that is not an object', () => {
    const text = '- just\n- a list\n';
    expectInputError(text, '- just', undefined, 'must be a Kubernetes object');
  });

  test('a document without kind', () => {
    const text = 'apiVersion: v1\nmetadata: {name: a}\n';
    expectInputError(text, 'apiVersion', 'kind', 'required field is missing');
  });

  test('a CiliumIdentity whose name is not a number', () => {
    const text = 'apiVersion: cilium.io/v2\nkind: CiliumIdentity\nmetadata: {name: web}\nsecurity-labels: {k8s:app: web}\n';
    expectInputError(text, 'web}', 'metadata.name', 'a CiliumIdentity is named by its number');
  });

  test('status, managedFields and annotations of any shape are accepted', () => {
    const text = `apiVersion: v1
kind: Pod
metadata:
  name: a
  namespace: x
  annotations: {a: "1", b: "x"}
  managedFields:
    - {manager: kubectl, operation: Apply, fieldsV1: {f:spec: {}}}
  ownerReferences: [{kind: ReplicaSet, name: r}]
  futureField: {anything: [1, 2, 3]}
spec:
  tolerations: [{operator: Exists}]
  unknownSpecField: 7
status:
  conditions: [{type: Ready, status: "True"}]
  podIP: 10.0.0.1
  containerStatuses: [{ready: true, restartCount: 0}]
`;
    const c = loadClusterText(text, FILE);
    expect(c.pods).toHaveLength(1);
  });

  test('errors are InputErrors (HubcapError) with position and field path properties', () => {
    const text = 'apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nstatus: {podIP: nope}\n';
    let caught: unknown;
    try {
      loadClusterText(text, FILE);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(InputError);
    expect((caught as InputError).position).toEqual({ file: FILE, line: 4, col: 17 });
    expect((caught as InputError).fieldPath).toBe('status.podIP');
  });
});
