/**
 * The fast parsers behind the loader: `JSON.parse` for JSON and js-yaml's event parser for YAML,
 * each with just enough structure kept (where each object starts) to position messages later.
 *
 * The reference semantics stay those of the `yaml` package as documents.ts used it (YAML 1.2, core
 * schema, unique keys). A fast parse is only taken when it reads the text the same way; otherwise
 * these functions return undefined and the caller reads the file with `yaml` as before:
 * - js-yaml resolves plain scalars with tags that copy yaml's core schema (same patterns, same
 *   conversions), so `yes`/`on` and dates stay strings and `0o17`/`0x1f` are numbers;
 * - anchors, aliases, explicit tags and directives (`%YAML 1.1` switches yaml to the 1.1 schema)
 *   are left to yaml, which also guards alias expansion (`maxAliasCount`);
 * - a bare CR is a line break for js-yaml but not for yaml: such text goes to yaml;
 * - duplicate keys and keys that are not strings, numbers or booleans make js-yaml fail, and
 *   JSON.parse's silent "last duplicate wins" is caught by counting keys in the text;
 * - the layouts that differential fuzzing of the two libraries found read apart (one accepts
 *   what the other refuses, or both read different values) go to yaml: see readsDifferently,
 *   flowReadsAlike, endsItsLine and hasOddLineStarts. They are rare in kubectl's output; a file
 *   that has one is read by yaml: slower, with the same result.
 * test/k8s/fast-path-differential.test.ts keeps comparing the two readers.
 */
import {
  CHOMPING_MODE,
  COLLECTION_STYLE,
  CORE_SCHEMA,
  EVENT_ID,
  NOT_RESOLVED,
  SCALAR_STYLE,
  constructFromEvents,
  defineMappingTag,
  defineScalarTag,
  getScalarValue,
  parseEvents,
  type Event,
  type ScalarEvent,
  type Schema,
} from 'js-yaml';
import type { SourcePosition } from '../errors.js';
import type { NodeNavigator } from './yaml-node.js';

// ---------------------------------------------------------------------------------------------
// js-yaml tags that copy the `yaml` package's core schema (yaml/dist/schema/core, common/null).

const DIGITS = [...'0123456789'];

// Every plain scalar of a dump goes through these; first characters and loops rule out most
// strings before the patterns (yaml's own) are tried.

const nullTag = defineScalarTag<null>('tag:yaml.org,2002:null', {
  implicit: true,
  implicitFirstChars: ['', '~', 'n', 'N'],
  // /^(?:~|[Nn]ull|NULL)?$/
  resolve: (s) => (s === '' || s === '~' || s === 'null' || s === 'Null' || s === 'NULL' ? null : NOT_RESOLVED),
  identify: (v) => v === null,
});

const boolTag = defineScalarTag<boolean>('tag:yaml.org,2002:bool', {
  implicit: true,
  implicitFirstChars: ['t', 'T', 'f', 'F'],
  // /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/
  resolve: (s) => {
    if (s === 'true' || s === 'True' || s === 'TRUE') return true;
    if (s === 'false' || s === 'False' || s === 'FALSE') return false;
    return NOT_RESOLVED;
  },
  identify: (v) => typeof v === 'boolean',
});

const INT_OCT = /^0o[0-7]+$/;
const INT_HEX = /^0x[0-9a-fA-F]+$/;

/** yaml's intOct, int (/^[-+]?[0-9]+$/) and intHex; parseInt as yaml does (no BigInt). */
const intTag = defineScalarTag<number>('tag:yaml.org,2002:int', {
  implicit: true,
  implicitFirstChars: ['-', '+', ...DIGITS],
  resolve: (s) => {
    const n = s.length;
    if (s.charCodeAt(0) === 48 && n > 2) {
      const c1 = s.charCodeAt(1);
      if (c1 === 111 /* o */) return INT_OCT.test(s) ? parseInt(s.substring(2), 8) : NOT_RESOLVED;
      if (c1 === 120 /* x */) return INT_HEX.test(s) ? parseInt(s.substring(2), 16) : NOT_RESOLVED;
    }
    const c0 = s.charCodeAt(0);
    let i = c0 === 43 || c0 === 45 ? 1 : 0;
    if (i === n) return NOT_RESOLVED;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) return NOT_RESOLVED;
    }
    return parseInt(s, 10);
  },
  identify: (v) => Number.isInteger(v),
});

const FLOAT_NAN = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const FLOAT_EXP = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;

/** yaml's floatNaN, floatExp and float. */
const floatTag = defineScalarTag<number>('tag:yaml.org,2002:float', {
  implicit: true,
  implicitFirstChars: ['-', '+', '.', ...DIGITS],
  resolve: (s) => {
    if (FLOAT_NAN.test(s)) {
      return s.slice(-3).toLowerCase() === 'nan' ? NaN : s[0] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
    }
    // Only digits, one dot, e/E and signs can make a number (an address has three dots).
    let dots = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === 46) {
        if (++dots > 1) return NOT_RESOLVED;
      } else if (!((c >= 48 && c <= 57) || c === 101 || c === 69 || c === 43 || c === 45)) {
        return NOT_RESOLVED;
      }
    }
    return FLOAT_EXP.test(s) || FLOAT.test(s) ? parseFloat(s) : NOT_RESOLVED;
  },
  identify: (v) => typeof v === 'number',
});

/**
 * Plain objects keyed by String(key) as yaml's toJS keys them. Keys yaml's Field would refuse
 * (null, collections) and any two keys with the same string form are errors here, so that the
 * text goes to yaml, which decides (a true duplicate is an error there too).
 */
const mapTag = defineMappingTag<Record<string, unknown>>('tag:yaml.org,2002:map', {
  create: () => ({}),
  // js-yaml asks `has` first and refuses a repeated key.
  addPair: (obj, key, value) => {
    if (key === null || (typeof key !== 'string' && typeof key !== 'number' && typeof key !== 'boolean')) return 'key is not a plain string';
    const k = String(key);
    if (k === '__proto__') Object.defineProperty(obj, k, { value, enumerable: true, configurable: true, writable: true });
    else obj[k] = value;
    return '';
  },
  has: (obj, key) => (key === null || typeof key === 'object' ? false : Object.hasOwn(obj, String(key))),
  keys: (obj) => Object.keys(obj),
  get: (obj, key) => obj[String(key)],
  identify: (v) => v !== null && typeof v === 'object' && !Array.isArray(v),
});

const SCHEMA: Schema = CORE_SCHEMA.withTags(nullTag, boolTag, intTag, floatTag, mapTag);

/** A CR not followed by LF: a line break for js-yaml and JSON, but not for yaml. */
function hasBareCr(text: string): boolean {
  return text.includes('\r') && /\r(?!\n)/.test(text);
}

// ---------------------------------------------------------------------------------------------
// YAML through js-yaml's event stream.

export interface FastYaml {
  /** One value per document (null for an empty one), as yaml's toJS would give. */
  docs: unknown[];
  events: Event[];
  /** Event index of each document's root node; -1 for an empty document. */
  roots: number[];
}

const NO_RANGE = -1;

/** Parses `text` with js-yaml, or returns undefined when yaml must read it. */
export function parseYamlFast(text: string): FastYaml | undefined {
  if (hasBareCr(text) || hasOddLineStarts(text)) return undefined;
  let events: Event[];
  try {
    events = parseEvents(text, {});
  } catch {
    return undefined;
  }
  const roots: number[] = [];
  const columnZeroComment = text.includes('\n#');
  // Whether each open collection is a flow one, and how many flow collections are open.
  const open: boolean[] = [];
  let flowDepth = 0;
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    switch (e.type) {
      case EVENT_ID.DOCUMENT:
        if (e.directives.length > 0) return undefined;
        roots.push(events[i + 1]?.type === EVENT_ID.POP ? -1 : i + 1);
        open.push(false);
        break;
      case EVENT_ID.POP:
        if (open.pop()) flowDepth--;
        break;
      case EVENT_ID.ALIAS:
        return undefined;
      case EVENT_ID.SCALAR:
        if (e.anchorStart !== NO_RANGE || e.tagStart !== NO_RANGE) return undefined;
        if (!e.fast && e.style >= 3 && readsDifferently(text, e)) return undefined;
        if (flowDepth === 0 && (e.style === SCALAR_STYLE.SINGLE_QUOTED || e.style === SCALAR_STYLE.DOUBLE_QUOTED) && !endsItsLine(text, e.valueEnd + 1)) return undefined;
        break;
      case EVENT_ID.SEQUENCE:
      case EVENT_ID.MAPPING: {
        if (e.anchorStart !== NO_RANGE || e.tagStart !== NO_RANGE) return undefined;
        const flow = e.style === COLLECTION_STYLE.FLOW;
        if (flow && flowDepth === 0 && !flowReadsAlike(text, e.start, columnZeroComment)) return undefined;
        open.push(flow);
        if (flow) flowDepth++;
        break;
      }
      default:
        break;
    }
  }
  let docs: unknown[];
  try {
    docs = constructFromEvents(events, { source: text, schema: SCHEMA, maxAliases: 0 });
  } catch {
    return undefined;
  }
  if (docs.length !== roots.length) return undefined;
  return { docs, events, roots };
}

/** Bracket-matching end of the flow collection starting at `start` (after its `}` or `]`), or -1. */
export function flowEnd(text: string, start: number): number {
  let depth = 0;
  let prev = 32;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 || c === 39) {
      // A quote opens a quoted scalar only at the start of a token.
      if (prev === 32 || prev === 9 || prev === 10 || prev === 13 || prev === 123 || prev === 91 || prev === 44 || prev === 58) {
        const q = c;
        let j = i + 1;
        for (; j < text.length; j++) {
          const d = text.charCodeAt(j);
          if (q === 34 && d === 92) j++;
          else if (d === q) {
            if (q === 39 && text.charCodeAt(j + 1) === 39) j++;
            else break;
          }
        }
        i = j;
        prev = c;
        continue;
      }
    } else if (c === 35 && (prev === 32 || prev === 9 || prev === 10 || prev === 13)) {
      const nl = text.indexOf('\n', i);
      if (nl < 0) return -1;
      i = nl;
      prev = 10;
      continue;
    } else if (c === 123 || c === 91) {
      depth++;
    } else if (c === 125 || c === 93) {
      if (--depth === 0) return i + 1;
    }
    prev = c;
  }
  return -1;
}

/**
 * Lines whose leading blanks hold a tab (never indentation for yaml, which refuses them where
 * js-yaml reads on), that start with a document end marker followed by content (`... x`: a new
 * document for js-yaml, an error for yaml), or an indented `---` opening the text (a document
 * start for js-yaml, a scalar for yaml).
 */
function hasOddLineStarts(text: string): boolean {
  if (text.includes('\t') && /(?:^|\n) *\t/.test(text)) return true;
  if (/^[ \t]+---(?:[ \t\r\n]|$)/.test(text)) return true;
  return (text.startsWith('...') || text.includes('\n...')) && /^\.\.\.[ \t]+[^ \t\r\n#]/m.test(text);
}

/**
 * In block context, what follows a quoted scalar on its line: nothing, a comment or the `:` of a
 * key. js-yaml takes more after a sequence entry (`- "x"b: 1` as a new key), yaml refuses it.
 */
function endsItsLine(text: string, from: number): boolean {
  let i = from;
  let c = text.charCodeAt(i);
  while (c === 32 || c === 9) c = text.charCodeAt(++i);
  return i >= text.length || c === 10 || c === 13 || c === 58 /* : */ || (c === 35 /* # */ && i > from);
}

/**
 * An outermost flow collection (`{...}`, `[...]` in block context) that js-yaml and yaml read
 * alike. They do not when the rest of its last line holds more than a comment or the `:` of a
 * key (js-yaml takes `- {}\\  b: 1` as a new key, yaml refuses it), nor, for yaml, when a
 * comment starts at column 0 inside it (`{a: b\n# c\n}`).
 */
function flowReadsAlike(text: string, start: number, columnZeroComment: boolean): boolean {
  const end = flowEnd(text, start);
  if (end < 0) return false;
  if (columnZeroComment && text.slice(start, end).includes('\n#')) return false;
  const nl = text.indexOf('\n', end);
  return /^[ \t]*(?:#.*|:.*)?\r?$/.test(text.slice(end, nl < 0 ? text.length : nl));
}

/** The header of a block scalar: indicator, optional indentation digit and chomping, comment. */
const BLOCK_HEADER = /[|>]([0-9+-]*)[ \t]*(?:#.*)?\r?\n?$/;
/** An escaped line break followed by a blank line, in a double-quoted scalar. */
const ESCAPED_BREAK_THEN_BLANK = /\\\r?\n[ \t]*\r?\n/;
/** A line of only blanks (or blanks and a comment), one of them a tab. */
const BLANK_LINE_WITH_TAB = /(?:^|\n) *\t[ \t]*(?:#[^\n]*|\r)?(?:\n|$)/;

/**
 * Scalars js-yaml and yaml are known to read apart (differential fuzzing of the two): a
 * double-quoted scalar whose escaped line break is followed by blank lines, a block scalar with
 * an explicit indentation indicator (`|2`), with a blank line holding a tab (an error for yaml),
 * or keeping its trailing lines (`|+`) at the end of a text that has no final line break.
 */
function readsDifferently(text: string, e: ScalarEvent): boolean {
  if (e.valueStart === NO_RANGE) return false;
  if (e.style === SCALAR_STYLE.DOUBLE_QUOTED) return ESCAPED_BREAK_THEN_BLANK.test(text.slice(e.valueStart, e.valueEnd));
  if (e.style !== SCALAR_STYLE.LITERAL_BLOCK && e.style !== SCALAR_STYLE.FOLDED_BLOCK) return false;
  // Blank and comment lines right after the content belong to the question too (js-yaml leaves
  // them out of the scalar).
  let end = e.valueEnd;
  for (;;) {
    const nl = text.indexOf('\n', end);
    const line = text.slice(end, nl < 0 ? text.length : nl);
    if (!/^[ \t]*(?:#.*)?\r?$/.test(line)) break;
    end = nl < 0 ? text.length : nl + 1;
    if (nl < 0) break;
  }
  if (BLANK_LINE_WITH_TAB.test(text.slice(e.valueStart, end))) return true;
  // Kept trailing lines (`|+`) up to the end of a text without a final line break.
  if (e.chomping === CHOMPING_MODE.KEEP && end >= text.length && !text.endsWith('\n')) return true;
  // The header is the line before the content.
  const headerStart = text.lastIndexOf('\n', e.valueStart - 2) + 1;
  const m = BLOCK_HEADER.exec(text.slice(headerStart, e.valueStart));
  return m === null || /[0-9]/.test(m[1]!);
}

/** Index just past the subtree rooted at event `i`. */
export function subtreeEnd(events: readonly Event[], i: number): number {
  const t = events[i]!.type;
  if (t !== EVENT_ID.MAPPING && t !== EVENT_ID.SEQUENCE) return i + 1;
  let depth = 0;
  for (let j = i; j < events.length; j++) {
    const u = events[j]!.type;
    if (u === EVENT_ID.MAPPING || u === EVENT_ID.SEQUENCE || u === EVENT_ID.DOCUMENT) depth++;
    else if (u === EVENT_ID.POP && --depth === 0) return j + 1;
  }
  return events.length;
}

/** Event indexes of the children of the collection at `i` (keys and values alternate for a mapping). */
export function childrenOf(events: readonly Event[], i: number): number[] {
  const out: number[] = [];
  let j = i + 1;
  while (j < events.length && events[j]!.type !== EVENT_ID.POP) {
    out.push(j);
    j = subtreeEnd(events, j);
  }
  return out;
}

/** The decoded text of a scalar event, or undefined for other events. */
export function scalarText(text: string, events: readonly Event[], i: number): string | undefined {
  const e = events[i]!;
  return e.type === EVENT_ID.SCALAR ? getScalarValue(text, e) : undefined;
}

/** Source offset where the node of event `i` starts; -1 when the event has none (empty scalar, POP). */
export function startOf(e: Event): number {
  switch (e.type) {
    case EVENT_ID.MAPPING:
    case EVENT_ID.SEQUENCE:
      return e.start;
    case EVENT_ID.SCALAR:
      return e.valueStart;
    case EVENT_ID.ALIAS:
      return e.anchorStart;
    default:
      return NO_RANGE;
  }
}

/** The first source offset at or after event index `j` (the text that follows a subtree), or -1. */
export function nextOffset(events: readonly Event[], j: number): number {
  for (let k = j; k < events.length; k++) {
    const o = startOf(events[k]!);
    if (o !== NO_RANGE) return o;
  }
  return NO_RANGE;
}

/** The nodes of one object: a slice of the event stream starting at the object's mapping. */
export class EventNavigator implements NodeNavigator {
  private readonly kids = new Map<number, number[]>();

  constructor(
    /** The text the events' offsets point into. */
    private readonly text: string,
    private readonly events: readonly Event[],
    /** Offset in `text` -> position in the file. */
    private readonly positionOf: (offset: number) => SourcePosition,
  ) {}

  /**
   * The navigator of the flow mapping (JSON object) at text[start, end), parsed by js-yaml only
   * when first asked (JSON.parse keeps no structure); a text js-yaml refuses has no navigator.
   */
  static lazy(text: string, start: number, end: number, positionOf: (offset: number) => SourcePosition): NodeNavigator {
    let nav: EventNavigator | null | undefined;
    const get = (): EventNavigator | null => {
      if (nav !== undefined) return nav;
      const own = text.slice(start, end);
      try {
        // Without the DOCUMENT event, the mapping is node 0.
        nav = new EventNavigator(own, parseEvents(own, {}).slice(1), (o) => positionOf(o + start));
      } catch {
        nav = null;
      }
      return nav;
    };
    return {
      child: (node, seg) => get()?.child(node, seg) ?? -1,
      collectionPosition: (node) => get()?.collectionPosition(node),
    };
  }

  private children(node: number): number[] {
    let k = this.kids.get(node);
    if (!k) this.kids.set(node, (k = childrenOf(this.events, node)));
    return k;
  }

  child(node: number, seg: string | number): number {
    const e = this.events[node];
    if (!e) return -1;
    if (typeof seg === 'number') return e.type === EVENT_ID.SEQUENCE ? (this.children(node)[seg] ?? -1) : -1;
    if (e.type !== EVENT_ID.MAPPING) return -1;
    const kids = this.children(node);
    // A key reads as its text only when scalar: `0x10` would be the key "16" (the twin finds it).
    for (let k = 0; k + 1 < kids.length; k += 2) if (scalarText(this.text, this.events, kids[k]!) === seg) return kids[k + 1]!;
    return -1;
  }

  collectionPosition(node: number): SourcePosition | undefined {
    const e = this.events[node];
    if (!e || (e.type !== EVENT_ID.MAPPING && e.type !== EVENT_ID.SEQUENCE)) return undefined;
    return this.positionOf(e.start);
  }
}

export function isBlockMapping(e: Event): boolean {
  return e.type === EVENT_ID.MAPPING && e.style === COLLECTION_STYLE.BLOCK;
}

export function isMappingEvent(e: Event): boolean {
  return e.type === EVENT_ID.MAPPING;
}

// ---------------------------------------------------------------------------------------------
// JSON.

export interface FastJson {
  value: unknown;
  /** Offset of the root value's first character. */
  rootStart: number;
  /** [start, end) of each object element of the root object's `items` array, when it has one. */
  items: Array<[number, number]> | undefined;
}

/**
 * Parses JSON text; undefined when JSON.parse refuses it or it repeats a key (yaml refuses
 * duplicate keys; JSON.parse keeps the last one). A structural scan counts the keys of the text
 * and finds where the root and the root's `items` elements start and end.
 */
export function parseJsonFast(text: string): FastJson | undefined {
  if (hasBareCr(text)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const scan = scanJson(text);
  // countKeys recurses: deeper text is left to the `yaml` reader, which reports it (documents.ts).
  if (scan === undefined || scan.maxDepth > JSON_MAX_DEPTH || scan.keys !== countKeys(value)) return undefined;
  const rootStart = text.search(/[^ \t\n\r]/);
  return { value, rootStart, items: scan.items };
}

function countKeys(v: unknown): number {
  if (v === null || typeof v !== 'object') return 0;
  let n = 0;
  if (Array.isArray(v)) {
    for (const x of v) n += countKeys(x);
    return n;
  }
  const o = v as Record<string, unknown>;
  for (const k in o) n += 1 + countKeys(o[k]);
  return n;
}

/** Deeper JSON goes to the `yaml` reader, as deeper YAML does (js-yaml's maxDepth, 100). */
const JSON_MAX_DEPTH = 100;

/** The characters that structure JSON; everything else (blanks, commas, numbers, literals) is skipped. */
const JSON_STRUCTURE = /[{}[\]:"]/g;

/**
 * Walks text that JSON.parse accepted, from structural character to structural character
 * (`RegExp.test` moves `lastIndex` without allocating): every `:` outside a string is one key;
 * the `{` elements of the root's `items` array are the objects of a List.
 */
function scanJson(text: string): { keys: number; maxDepth: number; items: Array<[number, number]> | undefined } | undefined {
  const re = JSON_STRUCTURE;
  re.lastIndex = 0;
  let depth = 0;
  let maxDepth = 0;
  let keys = 0;
  let strStart = -1;
  let strEnd = -1;
  /** A depth-1 key "items" was just read; its value decides. */
  let itemsKey = false;
  let inItems = false;
  let items: Array<[number, number]> | undefined;
  let itemStart = -1;
  while (re.test(text)) {
    const i = re.lastIndex - 1;
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      let j = i + 1;
      for (;;) {
        j = text.indexOf('"', j);
        if (j < 0) return undefined;
        let b = j - 1;
        while (text.charCodeAt(b) === 92 /* \ */) b--;
        if ((j - 1 - b) % 2 === 0) break;
        j++;
      }
      strStart = i;
      strEnd = j + 1;
      re.lastIndex = strEnd;
    } else if (c === 58 /* : */) {
      keys++;
      // The value of a depth-1 "items" key: only an array, the next token, holds the objects.
      if (depth === 1 && strEnd - strStart === 7 && text.startsWith('"items"', strStart)) {
        let k = i + 1;
        for (let d = text.charCodeAt(k); d === 32 || d === 10 || d === 13 || d === 9; d = text.charCodeAt(++k));
        itemsKey = text.charCodeAt(k) === 91;
      }
    } else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (itemsKey && c === 91) {
        inItems = true;
        items = [];
      }
      itemsKey = false;
      if (inItems && depth === 2 && c === 123) itemStart = i;
      if (++depth > maxDepth) maxDepth = depth;
    } else if (c === 125 /* } */ || c === 93 /* ] */) {
      depth--;
      itemsKey = false;
      if (inItems) {
        if (depth === 2 && itemStart >= 0) {
          items!.push([itemStart, i + 1]);
          itemStart = -1;
        } else if (depth === 1) {
          inItems = false;
        }
      }
    }
  }
  return { keys, maxDepth, items };
}
