/**
 * YAML or JSON text -> Kubernetes objects, as `kubectl apply -f` splits a file: every document of
 * a multi-document stream, and every item of a `kind: List` (what `kubectl get -o yaml` prints)
 * or of a typed list such as `PodList` (what the API returns, whose items carry no kind).
 *
 * JSON is read by the same parser (JSON is YAML 1.2), so positions work for both. Documents use
 * the YAML 1.2 core schema: `yes`/`no` stay strings (kubectl's YAML 1.1 reader would make them
 * booleans; quote such values either way). Duplicate keys are an error, as with
 * `--validate=strict`.
 */
import { LineCounter, isMap, isSeq, parseAllDocuments, type Document, type Node as YamlNode } from 'yaml';
import { InputError } from '../errors.js';
import type { RawObject } from './types.js';
import { positionAt, rootField, type Field, type YamlSource } from './yaml-node.js';

export interface ReadResult {
  /** Objects whose kind `wanted` accepted, in document order. */
  objects: RawObject[];
  /** Kinds of the objects left out, one entry per object. */
  skippedKinds: string[];
}

/** A list kind: `List`, or `<Kind>List` carrying `items` (`PodList`, `CiliumNetworkPolicyList`). */
function isListKind(kind: string, node: YamlNode): boolean {
  if (kind === 'List') return true;
  if (!kind.endsWith('List') || kind.length <= 4 || !isMap(node)) return false;
  const items = node.get('items', true) as YamlNode | undefined;
  return items !== undefined && (isSeq(items) || (items as { value?: unknown }).value === null);
}

/**
 * Splits `text` into objects. `wanted(kind)` decides which objects are built in full (their JS
 * value computed); the others are only counted by kind.
 */
export function readDocuments(text: string, file: string, wanted: (kind: string) => boolean = () => true): ReadResult {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const result: ReadResult = { objects: [], skippedKinds: [] };
  for (const doc of docs) {
    const src: YamlSource = { file, lineCounter, document: doc };
    const err = doc.errors[0];
    if (err) {
      const pos = positionAt(src, err.pos[0]);
      throw new InputError(pos, `invalid YAML: ${err.message.split('\n')[0]}`);
    }
    const contents = doc.contents as YamlNode | null;
    if (contents === null || contents === undefined) continue;
    // A document holding only `null` (e.g. `--- ~`) is empty too.
    if (!isMap(contents) && (contents as { value?: unknown }).value === null) continue;
    collect(contents, src, doc, '', undefined, wanted, result);
  }
  return result;
}

function collect(
  node: YamlNode,
  src: YamlSource,
  doc: Document,
  path: string,
  inherited: { kind: string; apiVersion: string } | undefined,
  wanted: (kind: string) => boolean,
  out: ReadResult,
): void {
  const root = rootField(src, node, 'input', path);
  if (!isMap(root.node as YamlNode)) {
    root.fail('must be a Kubernetes object (a mapping with apiVersion and kind)');
  }
  const m = root.map();
  const kindField = m.get('kind');
  const apiField = m.get('apiVersion');
  // Items of a typed list (PodList) carry no kind/apiVersion of their own.
  const kind = kindField.present || !inherited ? kindField.string() : inherited.kind;
  const apiVersion = apiField.present || !inherited ? apiField.string() : inherited.apiVersion;
  if (kind === '') kindField.fail('must not be empty');

  if (isListKind(kind, node)) {
    const items = m.get('items').optList() ?? [];
    const itemDefaults = kind === 'List' ? undefined : { kind: kind.slice(0, -4), apiVersion };
    for (const item of items) {
      if (!item.node) continue;
      collect(item.node, src, doc, item.path, itemDefaults, wanted, out);
    }
    return;
  }

  if (!wanted(kind)) {
    out.skippedKinds.push(kind);
    return;
  }
  const meta = m.get('metadata').optMap();
  const name = meta?.get('name').optString() ?? '';
  const namespace = meta?.get('namespace').optString();
  let value: Record<string, unknown>;
  try {
    // maxAliasCount guards against alias bombs ("billion laughs").
    value = node.toJS(doc, { maxAliasCount: 1000 }) as Record<string, unknown>;
  } catch (err) {
    return root.fail(`cannot expand this object: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (inherited && !kindField.present) {
    value.kind = kind;
    value.apiVersion = apiVersion;
  }
  const obj: RawObject = {
    apiVersion,
    kind,
    name,
    value,
    node,
    file: src.file,
    lineCounter: src.lineCounter,
    position: root.position(),
    document: doc,
  };
  if (path !== '') obj.path = path;
  if (namespace !== undefined && namespace !== '') obj.namespace = namespace;
  out.objects.push(obj);
}

/** The root Field of a loaded object, for typed reading with positions. */
export function objectField(raw: RawObject, mode: 'input' | 'policy'): Field {
  const src: YamlSource = { file: raw.file, lineCounter: raw.lineCounter };
  if (raw.document) src.document = raw.document;
  return rootField(src, raw.node, mode, raw.path ?? '');
}
