/**
 * YAML or JSON text -> Kubernetes objects, as `kubectl apply -f` splits a file: every document of
 * a multi-document stream, and every item of a `kind: List` (what `kubectl get -o yaml` prints)
 * or of a typed list such as `PodList` (what the API returns, whose items carry no kind).
 *
 * Two readers, one result:
 * - the fast path (./fast-parse.ts): `JSON.parse` for JSON, js-yaml for YAML, about 8x faster
 *   than yaml's Document API on large kubectl dumps. Objects are plain values whose positions
 *   are found only when needed (./positions.ts), so messages are exactly those of the second;
 * - the `yaml` package's Document API, with a node and a position for everything. It reads what
 *   the fast path declines (anchors, tags, directives, JSON with repeated keys) and any text the
 *   fast path cannot turn into objects without an error, so every error is its error.
 *
 * Documents use the YAML 1.2 core schema: `yes`/`no` stay strings (kubectl's YAML 1.1 reader
 * would make them booleans; quote such values either way). JSON is YAML 1.2, read the same way.
 * Duplicate keys are an error, as with `--validate=strict`.
 */
import { EVENT_ID, type Event } from 'js-yaml';
import { LineCounter, Parser, isMap, isSeq, parseAllDocuments, type CST, type Document, type Node as YamlNode } from 'yaml';
import { InputError } from '../errors.js';
import type { RawObject } from './types.js';
import { EventNavigator, childrenOf, isBlockMapping, isMappingEvent, nextOffset, parseJsonFast, parseYamlFast, scalarText, startOf, subtreeEnd, type FastYaml } from './fast-parse.js';
import { SourceText, SpanPositions } from './positions.js';
import { joinPath, positionAt, rootField, valueRootField, type Field, type NodeNavigator, type YamlSource } from './yaml-node.js';

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

export interface ReadOptions {
  /** `yaml` reads with the Document API only (the reference the fast path is compared with). */
  parser?: 'auto' | 'yaml';
  /**
   * Kinds whose mappings and sequences will be positioned (policies: each rule carries its
   * `file:line`; Endpoints: each subset). The fast path keeps their nodes as its parser saw them;
   * other objects are re-read with `yaml` when a position is needed (errors). Default: all.
   */
  positioned?: (kind: string) => boolean;
}

/**
 * Splits `text` into objects. `wanted(kind)` decides which objects are built in full (their JS
 * value computed); the others are only counted by kind.
 */
export function readDocuments(text: string, file: string, wanted: (kind: string) => boolean = () => true, options: ReadOptions = {}): ReadResult {
  if (options.parser !== 'yaml') {
    const fast = readFast(text, file, wanted, options.positioned ?? (() => true));
    if (fast) return fast;
  }
  return readWithYaml(text, file, wanted);
}

// ---------------------------------------------------------------------------------------------
// The `yaml` Document API.

/**
 * Deepest nesting of collections a document may have. yaml's composer recurses once per level,
 * and V8 aborts the whole process (not a catchable RangeError) when a regular expression is first
 * compiled with the stack nearly used up, which a few thousand levels of `[[[...]]]` reach. Real
 * Kubernetes objects stay far below this (js-yaml, the fast path, stops at 100).
 */
export const MAX_NESTING = 256;

/**
 * Offset of the first collection nested deeper than MAX_NESTING, or -1. Walks yaml's CST (its
 * lexer and parser keep explicit stacks, so this never recurses) before the composer runs.
 */
export function tooDeepAt(text: string, lineCounter?: LineCounter): number {
  const todo: Array<[CST.Token, number]> = [];
  for (const token of new Parser(lineCounter?.addNewLine).parse(text)) {
    if (token.type === 'document' && token.value) todo.push([token.value, 1]);
    while (todo.length > 0) {
      const [t, depth] = todo.pop()!;
      if (t.type !== 'block-map' && t.type !== 'block-seq' && t.type !== 'flow-collection') continue;
      if (depth > MAX_NESTING) return t.offset;
      for (const item of t.items) {
        if ('key' in item && item.key) todo.push([item.key, depth + 1]);
        if (item.value) todo.push([item.value, depth + 1]);
      }
    }
  }
  return -1;
}

function readWithYaml(text: string, file: string, wanted: (kind: string) => boolean): ReadResult {
  const lineCounter = new LineCounter();
  const lines = new LineCounter();
  const deep = tooDeepAt(text, lines);
  if (deep >= 0) {
    const { line, col } = lines.linePos(deep);
    throw new InputError({ file, line, col }, `nesting deeper than ${MAX_NESTING} levels`);
  }
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const result: ReadResult = { objects: [], skippedKinds: [] };
  for (const doc of docs) {
    const src: YamlSource = { file, linePos: (o) => lineCounter.linePos(o), document: doc };
    const err = doc.errors[0];
    if (err) {
      const pos = positionAt(src, err.pos[0]);
      throw new InputError(pos, `invalid YAML: ${err.message.split('\n')[0]}`);
    }
    const contents = doc.contents as YamlNode | null;
    if (contents === null || contents === undefined) continue;
    // A document holding only `null` (e.g. `--- ~`) is empty too.
    if (!isMap(contents) && (contents as { value?: unknown }).value === null) continue;
    collect(contents, src, lineCounter, doc, '', undefined, wanted, result);
  }
  return result;
}

function collect(
  node: YamlNode,
  src: YamlSource,
  lineCounter: LineCounter,
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
      collect(item.node, src, lineCounter, doc, item.path, itemDefaults, wanted, out);
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
    lineCounter,
    position: root.position(),
    document: doc,
  };
  if (path !== '') obj.path = path;
  if (namespace !== undefined && namespace !== '') obj.namespace = namespace;
  out.objects.push(obj);
}

// ---------------------------------------------------------------------------------------------
// The fast path: plain values, positions on demand.

/** Where an object lies in the text, and where the items of a List object lie. */
interface Locator {
  start: number;
  /** Offset of what follows the object (-1: nothing); used to cut a block mapping's text. */
  next(): number;
  flow: boolean;
  /** Locators of the elements of the object's `items`; undefined when they cannot be told. */
  items(): Locator[] | undefined;
  /** The object's nodes as the fast parser saw them. */
  nav(source: SourceText): NodeNavigator;
}

/** The object whose mapping event is events[i], its subtree ending before events[end] (-1: not yet known). */
function yamlLocator(text: string, events: readonly Event[], i: number, end: number): Locator | undefined {
  const e = events[i]!;
  if (!isMappingEvent(e)) return undefined;
  const endIndex = (): number => (end >= 0 ? end : (end = subtreeEnd(events, i)));
  return {
    start: startOf(e),
    next: () => nextOffset(events, endIndex()),
    flow: !isBlockMapping(e),
    // A copy of the object's events: the file's whole stream is not kept alive by one object.
    nav: (source) => new EventNavigator(text, events.slice(i, endIndex()), (o) => source.position(o)),
    items: () => {
      // Keys and values alternate; stop at `items` without walking the subtrees after it.
      for (let k = i + 1; k < events.length && events[k]!.type !== EVENT_ID.POP; ) {
        const valueIndex = subtreeEnd(events, k);
        if (scalarText(text, events, k) !== 'items') {
          k = subtreeEnd(events, valueIndex);
          continue;
        }
        const v = valueIndex;
        if (events[v]!.type !== EVENT_ID.SEQUENCE) return [];
        const elems = childrenOf(events, v);
        const out: Locator[] = [];
        for (let j = 0; j < elems.length; j++) {
          const loc = yamlLocator(text, events, elems[j]!, j + 1 < elems.length ? elems[j + 1]! : subtreeEnd(events, elems[j]!));
          if (!loc) return undefined;
          out.push(loc);
        }
        return out;
      }
      return undefined;
    },
  };
}

function jsonLocator(text: string, start: number, end: number, items?: Array<[number, number]>): Locator {
  return {
    start,
    next: () => -1,
    flow: true,
    nav: (source) => EventNavigator.lazy(text, start, end, (o) => source.position(o)),
    items: () => items?.map(([s, e]) => jsonLocator(text, s, e)),
  };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Reads a file with the fast parsers; undefined when the `yaml` reader must do it. */
function readFast(text: string, file: string, wanted: (kind: string) => boolean, positioned: (kind: string) => boolean): ReadResult | undefined {
  const source = new SourceText(file, text);
  const out: ReadResult = { objects: [], skippedKinds: [] };
  const ctx: FastContext = { source, wanted, positioned, out };
  if (/\.json$/i.test(file) || /^\s*[[{]/.test(text)) {
    const json = parseJsonFast(text);
    if (json) {
      if (json.value === null) return out;
      return collectFast(json.value, jsonLocator(text, json.rootStart, text.length, json.items), '', undefined, ctx) ? out : undefined;
    }
  }
  const yaml: FastYaml | undefined = parseYamlFast(text);
  if (!yaml) return undefined;
  const { docs, events, roots } = yaml;
  for (let d = 0; d < docs.length; d++) {
    const value = docs[d];
    // An empty document, or one holding only `null` (`--- ~`).
    if (value === null || value === undefined) continue;
    const r = roots[d]!;
    if (r < 0) return undefined;
    const loc = yamlLocator(text, events, r, -1);
    if (!loc || !collectFast(value, loc, '', undefined, ctx)) return undefined;
  }
  return out;
}

interface FastContext {
  source: SourceText;
  wanted: (kind: string) => boolean;
  positioned: (kind: string) => boolean;
  out: ReadResult;
}

/**
 * The fast twin of `collect`: the same objects from plain values. Returns false where `collect`
 * would throw (or where the text is laid out in a way the locators cannot follow), so that the
 * `yaml` reader reads the file and reports the error.
 */
function collectFast(value: unknown, loc: Locator, path: string, inherited: { kind: string; apiVersion: string } | undefined, ctx: FastContext): boolean {
  if (!isPlainObject(value)) return false;
  const kindValue = value.kind;
  const apiValue = value.apiVersion;
  const kindPresent = kindValue !== undefined && kindValue !== null;
  const apiPresent = apiValue !== undefined && apiValue !== null;
  let kind: string;
  let apiVersion: string;
  if (kindPresent || !inherited) {
    if (typeof kindValue !== 'string') return false;
    kind = kindValue;
  } else {
    kind = inherited.kind;
  }
  if (apiPresent || !inherited) {
    if (typeof apiValue !== 'string') return false;
    apiVersion = apiValue;
  } else {
    apiVersion = inherited.apiVersion;
  }
  if (kind === '') return false;

  const items = value.items;
  if (kind === 'List' || (kind.endsWith('List') && kind.length > 4 && Object.hasOwn(value, 'items') && (items === null || Array.isArray(items)))) {
    if (items === undefined || items === null) return true;
    if (!Array.isArray(items)) return false;
    if (items.length === 0) return true;
    const locs = loc.items();
    if (!locs || locs.length !== items.length) return false;
    const itemDefaults = kind === 'List' ? undefined : { kind: kind.slice(0, -4), apiVersion };
    const itemsPath = joinPath(path, 'items');
    for (let i = 0; i < items.length; i++) {
      if (!collectFast(items[i], locs[i]!, `${itemsPath}[${i}]`, itemDefaults, ctx)) return false;
    }
    return true;
  }

  const { source, out } = ctx;
  if (!ctx.wanted(kind)) {
    out.skippedKinds.push(kind);
    return true;
  }
  let name = '';
  let namespace: string | undefined;
  const meta = value.metadata;
  if (meta !== undefined && meta !== null) {
    if (!isPlainObject(meta)) return false;
    const n = meta.name;
    if (n !== undefined && n !== null) {
      if (typeof n !== 'string') return false;
      name = n;
    }
    const ns = meta.namespace;
    if (ns !== undefined && ns !== null) {
      if (typeof ns !== 'string') return false;
      namespace = ns;
    }
  }
  const injected = inherited !== undefined && !kindPresent;
  if (injected) {
    value.kind = kind;
    value.apiVersion = apiVersion;
  }
  const obj: RawObject = {
    apiVersion,
    kind,
    name,
    value,
    file: source.file,
    position: source.position(loc.start),
    // Objects whose collections will all be positioned keep their nodes; others use the twin.
    positions: new SpanPositions(source, loc.start, loc.next(), loc.flow, value, injected, ctx.positioned(kind) ? loc.nav(source) : undefined),
  };
  if (path !== '') obj.path = path;
  if (namespace !== undefined && namespace !== '') obj.namespace = namespace;
  out.objects.push(obj);
  return true;
}

/** The root Field of a loaded object, for typed reading with positions. */
export function objectField(raw: RawObject, mode: 'input' | 'policy'): Field {
  if (raw.positions) return valueRootField(raw.value, raw.positions, mode, raw.path ?? '');
  if (!raw.node || !raw.lineCounter) throw new Error('internal: a RawObject needs positions or a YAML node');
  const lineCounter = raw.lineCounter;
  const src: YamlSource = { file: raw.file, linePos: (o) => lineCounter.linePos(o) };
  if (raw.document) src.document = raw.document;
  return rootField(src, raw.node, mode, raw.path ?? '');
}
