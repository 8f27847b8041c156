/**
 * Typed, positioned access to a parsed object: every value hubcap reads from a cluster object or
 * a policy goes through a `Field`, so a wrong type, a bad value or an unknown key is reported with
 * `file:line:col` of the offending node and its field path (`spec.ingress[0].fromEndpoints`).
 *
 * Two kinds of Field behave alike:
 * - `NodeField` reads a YAML node of the `yaml` package (Document API, with source ranges). It
 *   knows its position at once; it is what the loader used for everything until the fast path.
 * - `ValueField` reads the plain JS value of a fast parser (`JSON.parse`, js-yaml) and has no
 *   position of its own. On the first `position()`/`fail()` it asks its parent for its `NodeField`
 *   twin, down from the object's root, which an `ObjectPositions` (./positions.ts) resolves by
 *   re-reading that one object with the `yaml` package. Every position and message is therefore
 *   the one a NodeField gives for the same text: the NodeField code is the single definition.
 *
 * The field paths follow what `kubectl apply --validate=strict` prints (dotted names, `[i]` for
 * list items); keys that are not plain identifiers (label keys such as
 * `k8s:app.kubernetes.io/name`) are written `matchLabels["k8s:app.kubernetes.io/name"]`.
 *
 * JSON null and a YAML key without a value count as absent, as they do for the Kubernetes API
 * (an omitted optional field and `field: null` decode the same).
 */
import { isAlias, isMap, isScalar, isSeq, type Document, type Node as YamlNode } from 'yaml';
import { InputError, PolicyError, type SourcePosition } from '../errors.js';

/** Where a node came from: the file, its line table and (for aliases) its document. */
export interface YamlSource {
  file: string;
  /** 1-based line and column of an offset into the parsed text (yaml's `LineCounter.linePos`). */
  linePos(offset: number): { line: number; col: number };
  document?: Document.Parsed | Document;
}

/** `input` reports InputError (cluster objects), `policy` reports PolicyError. */
export type ErrorMode = 'input' | 'policy';

export function positionAt(src: YamlSource, offset: number): SourcePosition {
  const { line, col } = src.linePos(offset);
  return { file: src.file, line, col };
}

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** `parent.key`, or `parent["odd/key"]` for keys that are not plain identifiers. */
export function joinPath(parent: string, key: string): string {
  if (PLAIN_KEY.test(key)) return parent === '' ? key : `${parent}.${key}`;
  return `${parent}[${JSON.stringify(key)}]`;
}

type ValueKind = 'object' | 'list' | 'string' | 'number' | 'boolean' | 'null' | 'absent';

/** A value (possibly absent) with its field path, able to read itself as a typed value. */
export abstract class Field {
  constructor(readonly mode: ErrorMode) {}

  /** The field path, as messages print it. */
  abstract get path(): string;

  /** The value kind, as kubectl names it in type errors. */
  abstract get kind(): ValueKind;

  /** Where the field is (its node, or what it would hang from when absent). */
  abstract position(): SourcePosition;

  /** Throws an InputError or PolicyError pointing at this field (reported under `path`). */
  abstract fail(reason: string, path?: string): never;

  abstract map(): FieldMap;

  abstract list(): Field[];

  /** The scalar value (string, number, boolean) or undefined when absent/null. */
  abstract scalar(): string | number | boolean | undefined;

  /** True when the field is given with a non-null value. */
  get present(): boolean {
    const k = this.kind;
    return k !== 'absent' && k !== 'null';
  }

  protected typeError(expected: string): never {
    if (this.kind === 'absent') return this.fail('required field is missing');
    const got = this.kind === 'object' ? 'a mapping' : this.kind === 'null' ? 'null' : `a ${this.kind}`;
    return this.fail(`must be ${expected}, not ${got}`);
  }

  /** Fails with "required field" when absent or null. */
  required(): this {
    if (!this.present) this.fail('required field is missing');
    return this;
  }

  optMap(): FieldMap | undefined {
    return this.present ? this.map() : undefined;
  }

  optList(): Field[] | undefined {
    return this.present ? this.list() : undefined;
  }

  string(): string {
    const v = this.required().scalar();
    if (typeof v !== 'string') return this.typeError('a string');
    return v;
  }

  optString(): string | undefined {
    return this.present ? this.string() : undefined;
  }

  bool(): boolean {
    const v = this.required().scalar();
    if (typeof v !== 'boolean') return this.typeError('a boolean (true or false)');
    return v;
  }

  optBool(): boolean | undefined {
    return this.present ? this.bool() : undefined;
  }

  /** An integer within [min, max]. */
  int(min: number, max: number): number {
    const v = this.required().scalar();
    if (typeof v !== 'number') return this.typeError('an integer');
    if (!Number.isInteger(v)) this.fail(`must be an integer, not ${v}`);
    if (v < min || v > max) this.fail(`${v} is out of range ${min}..${max}`);
    return v;
  }

  optInt(min: number, max: number): number | undefined {
    return this.present ? this.int(min, max) : undefined;
  }

  /** A list of strings (each item type-checked). */
  stringList(): string[] {
    return this.list().map((f) => f.string());
  }

  optStringList(): string[] | undefined {
    return this.present ? this.stringList() : undefined;
  }

  /** A mapping of string to string (labels, selectors, annotations). */
  stringMap(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const e of this.map().entries) {
      // No Kubernetes key can be `__proto__`; refusing it keeps plain objects safe to fill.
      if (e.key === '__proto__') e.failAtKey('invalid key "__proto__"');
      out[e.key] = e.value.string();
    }
    return out;
  }

  optStringMap(): Record<string, string> | undefined {
    return this.present ? this.stringMap() : undefined;
  }
}

export interface FieldEntry {
  readonly key: string;
  readonly value: Field;
  /** Fails pointing at the key (where "unknown field" errors point), under the value's path. */
  failAtKey(reason: string): never;
}

/** A mapping as an ordered (document order) list of string-keyed fields. */
export abstract class FieldMap {
  constructor(readonly field: Field) {}

  abstract get entries(): readonly FieldEntry[];

  /** The field under `key`; absent fields point at this mapping. */
  abstract get(key: string): Field;

  abstract entry(key: string): FieldEntry | undefined;

  get path(): string {
    return this.field.path;
  }

  has(key: string): boolean {
    return this.entry(key)?.value.present ?? false;
  }

  /**
   * Strict decoding (`kubectl apply --validate=strict`): every key must be one of `allowed`.
   * `rejected` maps a known-but-unsupported key to the reason it is refused.
   */
  allowOnly(allowed: readonly string[], rejected?: Readonly<Record<string, string>>): void {
    for (const e of this.entries) {
      const why = rejected?.[e.key];
      if (why !== undefined) e.failAtKey(why);
      if (!allowed.includes(e.key)) e.failAtKey(`unknown field ${JSON.stringify(e.key)}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// NodeField: a YAML node of the `yaml` package, positioned by its source range.

/** A YAML node (possibly absent), positioned by its range in the parsed text. */
export class NodeField extends Field {
  readonly node: YamlNode | undefined;
  private mapMemo: NodeFieldMap | undefined;
  private listMemo: NodeField[] | undefined;

  constructor(
    readonly src: YamlSource,
    node: YamlNode | null | undefined,
    readonly path: string,
    /** Offset to point at when the node is absent (the parent's start or the key). */
    readonly anchor: number,
    mode: ErrorMode,
  ) {
    super(mode);
    let n = node ?? undefined;
    // Aliases (`*name`) read as the node they point to.
    if (n && isAlias(n) && src.document) {
      const target = n.resolve(src.document as Document);
      n = (target as YamlNode | undefined) ?? undefined;
    }
    this.node = n;
  }

  get kind(): ValueKind {
    const n = this.node;
    if (!n) return 'absent';
    if (isMap(n)) return 'object';
    if (isSeq(n)) return 'list';
    if (isScalar(n)) {
      const v = n.value;
      if (v === null || v === undefined) return 'null';
      if (typeof v === 'string') return 'string';
      if (typeof v === 'number' || typeof v === 'bigint') return 'number';
      if (typeof v === 'boolean') return 'boolean';
      // Dates and other tagged scalars print as strings for the purposes of messages.
      return 'string';
    }
    return 'null';
  }

  get offset(): number {
    const r = this.node?.range;
    return r ? r[0] : this.anchor;
  }

  position(): SourcePosition {
    return positionAt(this.src, this.offset);
  }

  fail(reason: string, path: string = this.path): never {
    return this.failAt(reason, path, this.offset);
  }

  /** Fails at `offset` (a key's start, say) rather than at this node. */
  failAt(reason: string, path: string, offset: number): never {
    const pos = positionAt(this.src, offset);
    if (this.mode === 'policy') throw new PolicyError(pos, reason, path || undefined);
    throw new InputError(pos, reason, path || undefined);
  }

  map(): NodeFieldMap {
    const n = this.node;
    if (!n || !isMap(n)) return this.typeError('a mapping (object)');
    return (this.mapMemo ??= new NodeFieldMap(this, n));
  }

  list(): NodeField[] {
    const n = this.node;
    if (!n || !isSeq(n)) return this.typeError('a list');
    return (this.listMemo ??= n.items.map((item, i) => {
      const itemNode = item as YamlNode | null;
      return new NodeField(this.src, itemNode, `${this.path}[${i}]`, itemNode?.range?.[0] ?? this.offset, this.mode);
    }));
  }

  override optList(): NodeField[] | undefined {
    return this.present ? this.list() : undefined;
  }

  scalar(): string | number | boolean | undefined {
    const n = this.node;
    if (!n || !isScalar(n)) return this.present ? this.typeError('a single value') : undefined;
    const v = n.value;
    if (v === null || v === undefined) return undefined;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
    if (typeof v === 'bigint') return Number(v);
    if (v instanceof Date) return n.source ?? v.toISOString();
    return String(v);
  }
}

export interface NodeFieldEntry extends FieldEntry {
  readonly value: NodeField;
  /** Offset of the key, where "unknown field" errors point. */
  readonly keyOffset: number;
}

/** A YAML mapping as an ordered list of string-keyed fields. */
export class NodeFieldMap extends FieldMap {
  readonly entries: NodeFieldEntry[] = [];
  private readonly byKey = new Map<string, NodeFieldEntry>();

  constructor(
    override readonly field: NodeField,
    node: YamlNode,
  ) {
    super(field);
    if (!isMap(node)) throw new Error('FieldMap needs a YAML map');
    for (const pair of node.items) {
      const keyNode = pair.key as YamlNode | null;
      const keyOffset = keyNode?.range?.[0] ?? field.offset;
      let key: string;
      if (keyNode && isScalar(keyNode) && (typeof keyNode.value === 'string' || typeof keyNode.value === 'number' || typeof keyNode.value === 'boolean')) {
        key = String(keyNode.value);
      } else {
        field.failAt('keys must be plain strings', field.path, keyOffset);
      }
      const valueNode = pair.value as YamlNode | null;
      const value = new NodeField(field.src, valueNode, joinPath(field.path, key), valueNode?.range?.[0] ?? keyOffset, field.mode);
      const entry: NodeFieldEntry = {
        key,
        keyOffset,
        value,
        failAtKey: (reason: string): never => field.failAt(reason, value.path, keyOffset),
      };
      this.entries.push(entry);
      this.byKey.set(key, entry);
    }
  }

  get(key: string): NodeField {
    const e = this.byKey.get(key);
    if (e) return e.value;
    return new NodeField(this.field.src, undefined, joinPath(this.field.path, key), this.field.offset, this.field.mode);
  }

  entry(key: string): NodeFieldEntry | undefined {
    return this.byKey.get(key);
  }
}

/** A NodeField for a whole object node (a document or a List item). */
export function rootField(src: YamlSource, node: YamlNode, mode: ErrorMode, path = ''): NodeField {
  return new NodeField(src, node, path, node.range?.[0] ?? 0, mode);
}

// ---------------------------------------------------------------------------------------------
// ValueField: a plain JS value, positioned on demand through its NodeField twin.

/** Resolves the NodeField of an object's root, by re-reading the object with the `yaml` package. */
export interface ObjectPositions {
  root(mode: ErrorMode, path: string): NodeField;
  /** The fast parser's node structure, when it kept one (js-yaml events; not JSON.parse). */
  readonly nav?: NodeNavigator | undefined;
}

/**
 * The nodes of one object as the fast parser saw them, numbered with the object's root as 0.
 * Where a mapping or a sequence starts is the same offset for js-yaml and yaml (the first key,
 * the `-`, the bracket), so positions of collections (policy rules, Endpoints subsets) need no
 * twin; scalars, absent fields and errors go through the twin.
 */
export interface NodeNavigator {
  /** The node under key or index `seg` of node `node`; -1 when not found. */
  child(node: number, seg: string | number): number;
  /** Position of a mapping or sequence node; undefined for other nodes. */
  collectionPosition(node: number): SourcePosition | undefined;
}

/** How a ValueField finds its twin: the object's root, or a key / an index of its parent. */
type Origin = { positions: ObjectPositions } | { parent: ValueField; key: string } | { parent: ValueField; index: number };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Object keys that JS orders before all others (array indexes), hiding document order. */
function isIndexKey(key: string): boolean {
  const c = key.charCodeAt(0);
  return c >= 48 && c <= 57 && /^(?:0|[1-9][0-9]{0,9})$/.test(key) && Number(key) < 4294967295;
}

/**
 * A value of a fast parser with its field path. Values are what JSON.parse and the js-yaml core
 * schema produce: null, strings, finite or special numbers, booleans, arrays and plain objects.
 * Anything else (not produced today) is read through the twin, which knows its YAML node.
 */
export class ValueField extends Field {
  private twinMemo: NodeField | undefined;
  private mapMemo: ValueFieldMap | undefined;
  private listMemo: ValueField[] | undefined;
  private nodeMemo: number | undefined;
  private pathMemo: string | undefined;
  private readonly nav: NodeNavigator | undefined;

  constructor(
    /** The value; `undefined` when the field is absent. */
    readonly value: unknown,
    mode: ErrorMode,
    private readonly origin: Origin,
    /** The root's path (`items[3]` for a List item). */
    rootPath?: string,
  ) {
    super(mode);
    this.nav = 'positions' in origin ? origin.positions.nav : origin.parent.nav;
    this.pathMemo = rootPath;
  }

  /** Built when first asked (messages, notes): most fields that are read never need it. */
  get path(): string {
    if (this.pathMemo !== undefined) return this.pathMemo;
    const o = this.origin;
    let p: string;
    if ('positions' in o) p = '';
    else if ('key' in o) p = joinPath(o.parent.path, o.key);
    else p = `${o.parent.path}[${o.index}]`;
    return (this.pathMemo = p);
  }

  /** This field's node for the navigator; -1 when unknown. */
  private navNode(): number {
    if (this.nodeMemo !== undefined) return this.nodeMemo;
    const o = this.origin;
    let n = -1;
    if ('positions' in o) n = 0;
    else {
      const p = o.parent.navNode();
      if (p >= 0) n = this.nav!.child(p, 'key' in o ? o.key : o.index);
    }
    return (this.nodeMemo = n);
  }

  /** The positioned twin of this field (resolved once, on first need). */
  twin(): NodeField {
    if (this.twinMemo) return this.twinMemo;
    const o = this.origin;
    let t: NodeField;
    if ('positions' in o) t = o.positions.root(this.mode, this.path);
    else if ('key' in o) t = o.parent.twin().map().get(o.key);
    else t = o.parent.twin().list()[o.index]!;
    return (this.twinMemo = t);
  }

  get kind(): ValueKind {
    const v = this.value;
    switch (typeof v) {
      case 'undefined':
        return 'absent';
      case 'object':
        // A flow mapping's key without a value (`{a: 1, b}`) has no value node: yaml calls it
        // absent, `b: ~` and `b:` null. Both are null here; the twin knows which.
        if (v === null) return this.twin().kind;
        if (Array.isArray(v)) return 'list';
        if (isPlainObject(v)) return 'object';
        return this.twin().kind;
      case 'string':
        return 'string';
      case 'number':
      case 'bigint':
        return 'number';
      case 'boolean':
        return 'boolean';
      default:
        return this.twin().kind;
    }
  }

  /** Without the twin: null and absent are both "not present". */
  override get present(): boolean {
    const v = this.value;
    if (v === undefined || v === null) return false;
    return typeof v !== 'object' || Array.isArray(v) || isPlainObject(v) || this.twin().present;
  }

  position(): SourcePosition {
    const v = this.value;
    if (this.nav && (Array.isArray(v) || isPlainObject(v))) {
      const n = this.navNode();
      const pos = n >= 0 ? this.nav.collectionPosition(n) : undefined;
      if (pos) return pos;
    }
    return this.twin().position();
  }

  fail(reason: string, path: string = this.path): never {
    return this.twin().fail(reason, path);
  }

  map(): ValueFieldMap {
    if (this.mapMemo) return this.mapMemo;
    const v = this.value;
    if (!isPlainObject(v)) return this.typeError('a mapping (object)');
    return (this.mapMemo = new ValueFieldMap(this, v));
  }

  list(): ValueField[] {
    if (this.listMemo) return this.listMemo;
    const v = this.value;
    if (!Array.isArray(v)) return this.typeError('a list');
    const out: ValueField[] = new Array<ValueField>(v.length);
    for (let i = 0; i < v.length; i++) out[i] = new ValueField(v[i], this.mode, { parent: this, index: i });
    return (this.listMemo = out);
  }

  scalar(): string | number | boolean | undefined {
    const v = this.value;
    switch (typeof v) {
      case 'undefined':
        return undefined;
      case 'string':
      case 'number':
      case 'boolean':
        return v;
      case 'bigint':
        return Number(v);
      case 'object':
        if (v === null) return undefined;
        if (Array.isArray(v) || isPlainObject(v)) return this.typeError('a single value');
        return this.twin().scalar();
      default:
        return this.twin().scalar();
    }
  }
}

class ValueFieldEntry implements FieldEntry {
  constructor(
    private readonly map: ValueFieldMap,
    readonly key: string,
    readonly value: ValueField,
  ) {}

  failAtKey(reason: string): never {
    const twin = this.map.field.twin().map().entry(this.key);
    if (!twin) throw new Error(`internal: key ${JSON.stringify(this.key)} of ${this.map.path || 'the object'} is not in its YAML node`);
    return twin.failAtKey(reason);
  }
}

/** A plain object as string-keyed fields, built only for the keys that are read. */
export class ValueFieldMap extends FieldMap {
  private entriesMemo: ValueFieldEntry[] | undefined;
  private readonly byKey = new Map<string, ValueFieldEntry>();

  constructor(
    override readonly field: ValueField,
    private readonly obj: Record<string, unknown>,
  ) {
    super(field);
  }

  private make(key: string): ValueFieldEntry {
    let e = this.byKey.get(key);
    if (!e) {
      e = new ValueFieldEntry(this, key, new ValueField(this.obj[key], this.field.mode, { parent: this.field, key }));
      this.byKey.set(key, e);
    }
    return e;
  }

  get entries(): readonly FieldEntry[] {
    if (this.entriesMemo) return this.entriesMemo;
    let keys = Object.keys(this.obj);
    // JS lists index-like keys ("80") first; the document order is the YAML node's.
    if (keys.length > 1 && keys.some(isIndexKey)) keys = this.field.twin().map().entries.map((e) => e.key);
    return (this.entriesMemo = keys.map((k) => this.make(k)));
  }

  get(key: string): ValueField {
    if (Object.hasOwn(this.obj, key)) return this.make(key).value;
    return new ValueField(undefined, this.field.mode, { parent: this.field, key });
  }

  entry(key: string): FieldEntry | undefined {
    return Object.hasOwn(this.obj, key) ? this.make(key) : undefined;
  }

  override has(key: string): boolean {
    const v = this.obj[key];
    return Object.hasOwn(this.obj, key) && v !== null && v !== undefined;
  }
}

/** A ValueField for a whole object of a fast parser. */
export function valueRootField(value: unknown, positions: ObjectPositions, mode: ErrorMode, path = ''): ValueField {
  return new ValueField(value, mode, { positions }, path);
}
