/**
 * Typed, positioned access to a YAML node: every value hubcap reads from a cluster object or a
 * policy goes through a `Field`, so a wrong type, a bad value or an unknown key is reported with
 * `file:line:col` of the offending node and its field path (`spec.ingress[0].fromEndpoints`).
 *
 * The field paths follow what `kubectl apply --validate=strict` prints (dotted names, `[i]` for
 * list items); keys that are not plain identifiers (label keys such as
 * `k8s:app.kubernetes.io/name`) are written `matchLabels["k8s:app.kubernetes.io/name"]`.
 *
 * JSON null and a YAML key without a value count as absent, as they do for the Kubernetes API
 * (an omitted optional field and `field: null` decode the same).
 */
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node as YamlNode } from 'yaml';
import { InputError, PolicyError, type SourcePosition } from '../errors.js';

/** Where a node came from: the file, its line table and (for aliases) its document. */
export interface YamlSource {
  file: string;
  lineCounter: LineCounter;
  document?: Document.Parsed | Document;
}

/** `input` reports InputError (cluster objects), `policy` reports PolicyError. */
export type ErrorMode = 'input' | 'policy';

export function positionAt(src: YamlSource, offset: number): SourcePosition {
  const { line, col } = src.lineCounter.linePos(offset);
  return { file: src.file, line, col };
}

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** `parent.key`, or `parent["odd/key"]` for keys that are not plain identifiers. */
export function joinPath(parent: string, key: string): string {
  if (PLAIN_KEY.test(key)) return parent === '' ? key : `${parent}.${key}`;
  return `${parent}[${JSON.stringify(key)}]`;
}

type ValueKind = 'object' | 'list' | 'string' | 'number' | 'boolean' | 'null' | 'absent';

/** A YAML node (possibly absent) with its field path, able to read itself as a typed value. */
export class Field {
  readonly node: YamlNode | undefined;

  constructor(
    readonly src: YamlSource,
    node: YamlNode | null | undefined,
    readonly path: string,
    /** Offset to point at when the node is absent (the parent's start or the key). */
    readonly anchor: number,
    readonly mode: ErrorMode,
  ) {
    let n = node ?? undefined;
    // Aliases (`*name`) read as the node they point to; the position stays the alias's own.
    if (n && isAlias(n) && src.document) {
      const target = n.resolve(src.document as Document);
      n = (target as YamlNode | undefined) ?? undefined;
    }
    this.node = n;
  }

  /** The value kind, as kubectl names it in type errors. */
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

  /** True when the field is given with a non-null value. */
  get present(): boolean {
    const k = this.kind;
    return k !== 'absent' && k !== 'null';
  }

  get offset(): number {
    const r = this.node?.range;
    return r ? r[0] : this.anchor;
  }

  position(): SourcePosition {
    return positionAt(this.src, this.offset);
  }

  /** Throws an InputError or PolicyError pointing at this field. */
  fail(reason: string, path: string = this.path, offset: number = this.offset): never {
    const pos = positionAt(this.src, offset);
    if (this.mode === 'policy') throw new PolicyError(pos, reason, path || undefined);
    throw new InputError(pos, reason, path || undefined);
  }

  private typeError(expected: string): never {
    if (this.kind === 'absent') return this.fail('required field is missing');
    const got = this.kind === 'object' ? 'a mapping' : this.kind === 'null' ? 'null' : `a ${this.kind}`;
    return this.fail(`must be ${expected}, not ${got}`);
  }

  /** Fails with "required field" when absent or null. */
  required(): this {
    if (!this.present) this.fail('required field is missing');
    return this;
  }

  map(): FieldMap {
    const n = this.node;
    if (!n || !isMap(n)) return this.typeError('a mapping (object)');
    return new FieldMap(this, n);
  }

  optMap(): FieldMap | undefined {
    return this.present ? this.map() : undefined;
  }

  list(): Field[] {
    const n = this.node;
    if (!n || !isSeq(n)) return this.typeError('a list');
    return n.items.map((item, i) => {
      const itemNode = item as YamlNode | null;
      return new Field(this.src, itemNode, `${this.path}[${i}]`, itemNode?.range?.[0] ?? this.offset, this.mode);
    });
  }

  optList(): Field[] | undefined {
    return this.present ? this.list() : undefined;
  }

  /** The scalar value (string, number, boolean) or undefined when absent/null. */
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
      if (e.key === '__proto__') this.fail('invalid key "__proto__"', e.value.path, e.keyOffset);
      out[e.key] = e.value.string();
    }
    return out;
  }

  optStringMap(): Record<string, string> | undefined {
    return this.present ? this.stringMap() : undefined;
  }
}

export interface FieldEntry {
  key: string;
  /** Offset of the key, where "unknown field" errors point. */
  keyOffset: number;
  value: Field;
}

/** A YAML mapping as an ordered list of string-keyed fields. */
export class FieldMap {
  readonly entries: FieldEntry[] = [];
  private readonly byKey = new Map<string, FieldEntry>();

  constructor(
    readonly field: Field,
    node: YamlNode,
  ) {
    if (!isMap(node)) throw new Error('FieldMap needs a YAML map');
    for (const pair of node.items) {
      const keyNode = pair.key as YamlNode | null;
      const keyOffset = keyNode?.range?.[0] ?? field.offset;
      let key: string;
      if (keyNode && isScalar(keyNode) && (typeof keyNode.value === 'string' || typeof keyNode.value === 'number' || typeof keyNode.value === 'boolean')) {
        key = String(keyNode.value);
      } else {
        field.fail('keys must be plain strings', field.path, keyOffset);
      }
      const valueNode = pair.value as YamlNode | null;
      const entry: FieldEntry = {
        key,
        keyOffset,
        value: new Field(field.src, valueNode, joinPath(field.path, key), valueNode?.range?.[0] ?? keyOffset, field.mode),
      };
      this.entries.push(entry);
      this.byKey.set(key, entry);
    }
  }

  get path(): string {
    return this.field.path;
  }

  has(key: string): boolean {
    return this.byKey.get(key)?.value.present ?? false;
  }

  /** The field under `key`; absent fields point at this mapping. */
  get(key: string): Field {
    const e = this.byKey.get(key);
    if (e) return e.value;
    return new Field(this.field.src, undefined, joinPath(this.field.path, key), this.field.offset, this.field.mode);
  }

  entry(key: string): FieldEntry | undefined {
    return this.byKey.get(key);
  }

  /**
   * Strict decoding (`kubectl apply --validate=strict`): every key must be one of `allowed`.
   * `rejected` maps a known-but-unsupported key to the reason it is refused.
   */
  allowOnly(allowed: readonly string[], rejected?: Readonly<Record<string, string>>): void {
    for (const e of this.entries) {
      const why = rejected?.[e.key];
      if (why !== undefined) this.field.fail(why, e.value.path, e.keyOffset);
      if (!allowed.includes(e.key)) this.field.fail(`unknown field ${JSON.stringify(e.key)}`, e.value.path, e.keyOffset);
    }
  }
}

/** A Field for a whole object node (a document or a List item). */
export function rootField(src: YamlSource, node: YamlNode, mode: ErrorMode, path = ''): Field {
  return new Field(src, node, path, node.range?.[0] ?? 0, mode);
}
