/**
 * Positions for objects read by a fast parser (./fast-parse.ts), found only when needed.
 *
 * An object knows where it starts (the fast parsers give that much, and its `file:line:col` is
 * computed from a line table of the file). When a message or a policy rule needs the position of
 * a field inside it, the object's own text is read again with the `yaml` package, and the field's
 * NodeField twin is found by walking the same path (./yaml-node.ts). So a position is the one the
 * `yaml` Document API gives, whatever parser read the values.
 *
 * The object's text is cut from the file: from its first character to the next thing in the file
 * (a block mapping ends where the line of the next node begins; a flow mapping at its closing
 * bracket), with the start of its first line blanked so columns and indentation are kept. The
 * result is checked: it must parse alone, without errors, to the same value; if not (an exotic
 * layout), the whole file is parsed once with `yaml` and the object found there by offset.
 */
import { LineCounter, isMap, isPair, isScalar, isSeq, parseAllDocuments, type Document, type Node as YamlNode } from 'yaml';
import { InputError, type SourcePosition } from '../errors.js';
import { flowEnd } from './fast-parse.js';
import { rootField, type ErrorMode, type NodeField, type NodeNavigator, type ObjectPositions, type YamlSource } from './yaml-node.js';

const PARSE_OPTIONS = { prettyErrors: false, uniqueKeys: true } as const;

/** One file's text, its line table and (once needed) its whole parse by `yaml`. */
export class SourceText {
  private lines: LineCounter | undefined;
  private whole: Document.Parsed[] | undefined;

  constructor(
    readonly file: string,
    readonly text: string,
  ) {}

  /** The line table, as yaml's lexer would fill it (a line starts after every `\n`). */
  get lineCounter(): LineCounter {
    if (this.lines) return this.lines;
    const lc = new LineCounter();
    lc.addNewLine(0);
    const text = this.text;
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lc.addNewLine(i + 1);
    return (this.lines = lc);
  }

  // Objects are met in file order: their positions come from counting lines forward, so a file
  // whose fields are never positioned needs no line table.
  private cursorLine = 1;
  private cursorLineStart = 0;
  private cursorScanned = 0;

  position(offset: number): SourcePosition {
    if (this.lines || offset < this.cursorScanned) {
      const { line, col } = this.lineCounter.linePos(offset);
      return { file: this.file, line, col };
    }
    const text = this.text;
    for (let i = text.indexOf('\n', this.cursorScanned); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
      this.cursorLine++;
      this.cursorLineStart = i + 1;
    }
    this.cursorScanned = offset;
    return { file: this.file, line: this.cursorLine, col: offset - this.cursorLineStart + 1 };
  }

  /** Offset of the start of the line holding `offset`. */
  lineStart(offset: number): number {
    return this.text.lastIndexOf('\n', offset - 1) + 1;
  }

  source(document?: Document): YamlSource {
    const lc = this.lineCounter;
    const src: YamlSource = { file: this.file, linePos: (o) => lc.linePos(o) };
    if (document) src.document = document;
    return src;
  }

  /** The whole file parsed by `yaml`, as the loader read every file before the fast path. */
  documents(): Document.Parsed[] {
    if (this.whole) return this.whole;
    const docs = parseAllDocuments(this.text, PARSE_OPTIONS);
    const list = Array.isArray(docs) ? docs : [];
    for (const doc of list) {
      const err = doc.errors[0];
      if (err) throw new InputError(this.position(err.pos[0]), `invalid YAML: ${err.message.split('\n')[0]}`);
    }
    return (this.whole = list);
  }
}

/** The mapping node that starts at `offset`, found by descending the nodes that contain it. */
function findMapAt(doc: Document.Parsed, offset: number): YamlNode | undefined {
  let node = doc.contents as YamlNode | null;
  while (node) {
    const r = node.range;
    if (!r || offset < r[0] || offset >= r[2]) return undefined;
    if (r[0] === offset && isMap(node)) return node;
    // The last child starting at or before `offset` is the one that can hold it.
    let next: YamlNode | null = null;
    const children: unknown[] = isMap(node) ? node.items.flatMap((p) => (isPair(p) ? [p.key, p.value] : [])) : isSeq(node) ? node.items : [];
    for (const c of children) {
      const cr = (c as YamlNode | null)?.range;
      if (cr && cr[0] <= offset && !isScalar(c)) next = c as YamlNode;
    }
    node = next;
  }
  return undefined;
}

/** Deep equality of parsed values (Object.is for numbers, so NaN equals NaN). */
function sameValue(a: unknown, b: unknown, skip?: ReadonlySet<string>): boolean {
  if (Object.is(a, b)) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameValue(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => !skip?.has(k));
  const bk = Object.keys(bo).filter((k) => !skip?.has(k));
  if (ak.length !== bk.length) return false;
  for (const k of ak) if (!Object.hasOwn(bo, k) || !sameValue(ao[k], bo[k])) return false;
  return true;
}

const INJECTED = new Set(['kind', 'apiVersion']);

const DOC_MARKER = /^(?:---|\.\.\.)(?:[ \t\r\n]|$)/m;

/**
 * Where one object of a fast-parsed file lies, and its YAML node once asked for. `next` is the
 * offset of whatever follows the object in the file (-1: nothing), `flow` whether the object is
 * a flow mapping (`{...}`, JSON).
 */
export class SpanPositions implements ObjectPositions {
  private resolved: { src: YamlSource; node: YamlNode } | undefined;

  constructor(
    readonly source: SourceText,
    readonly start: number,
    readonly next: number,
    readonly flow: boolean,
    /** The fast parser's value, to check the re-read against. */
    readonly value: unknown,
    /** kind/apiVersion were filled in from a typed list (they are not in the text). */
    readonly injected: boolean,
    readonly nav?: NodeNavigator,
  ) {}

  root(mode: ErrorMode, path: string): NodeField {
    const r = (this.resolved ??= this.resolve());
    return rootField(r.src, r.node, mode, path);
  }

  private resolve(): { src: YamlSource; node: YamlNode } {
    const own = this.parseOwnText();
    if (own) return own;
    for (const doc of this.source.documents()) {
      const node = findMapAt(doc, this.start);
      if (node) return { src: this.source.source(doc), node };
    }
    throw new Error(`internal: no YAML mapping at offset ${this.start} of ${this.source.file}`);
  }

  /** The object's own text parsed alone, if that reads the same value. */
  private parseOwnText(): { src: YamlSource; node: YamlNode } | undefined {
    const { text } = this.source;
    const lineStart = this.source.lineStart(this.start);
    let end: number;
    if (this.flow) {
      end = flowEnd(text, this.start);
      if (end < 0) return undefined;
    } else {
      end = this.next < 0 ? text.length : this.source.lineStart(this.next);
      if (end <= this.start) return undefined;
      // A document marker at column 0 ends the document, hence the object.
      const m = DOC_MARKER.exec(text.slice(this.start, end));
      if (m) end = this.start + m.index;
    }
    const own = ' '.repeat(this.start - lineStart) + text.slice(this.start, end);
    const docs = parseAllDocuments(own, PARSE_OPTIONS);
    if (!Array.isArray(docs) || docs.length !== 1) return undefined;
    const doc = docs[0]!;
    const node = doc.contents as YamlNode | null;
    if (doc.errors.length > 0 || !node || !isMap(node) || node.range?.[0] !== this.start - lineStart) return undefined;
    let js: unknown;
    try {
      js = node.toJS(doc, { maxAliasCount: 1000 });
    } catch {
      return undefined;
    }
    if (!sameValue(js, this.value, this.injected ? INJECTED : undefined)) return undefined;
    // Offsets in `own` are offsets in the file, less lineStart.
    const lc = this.source.lineCounter;
    const src: YamlSource = { file: this.source.file, linePos: (o) => lc.linePos(o + lineStart), document: doc };
    return { src, node };
  }
}
