/**
 * The check `replay --maps` makes of a maps document before the datapath reads it: a
 * hand-edited or truncated dump must be bad input (one line: where and why), never a crash.
 *
 * The shape, types and ranges are the JSON Schema src/maps/maps.schema.json (2020-12), checked
 * with ajv; the first violation becomes a path (`policyMaps[1].entries[2].port`) and a reason in
 * words (`must be a whole number 0..65535`). Two facts the schema cannot state are checked after
 * it: rule indexes (`derivedFrom`) fall inside the document's `rules`, and an L7 port range does
 * not end before it starts.
 */
import Ajv2020, { type ErrorObject } from 'ajv/dist/2020.js';
import { parseCidr, parseIp } from '../net/addr.js';
import schemaJson from './maps.schema.json' with { type: 'json' };

/** A field of a maps document that `replay --maps` cannot load: its JSON path, and why. */
export interface MapsDocumentProblem {
  path: Array<string | number>;
  reason: string;
}

interface Schema {
  $ref?: string;
  type?: string;
  enum?: unknown[];
  const?: unknown;
  format?: string;
  minimum?: number;
  maximum?: number;
  not?: Schema;
  properties?: Record<string, Schema>;
}

const SCHEMA = schemaJson as unknown as Schema & { $defs: Record<string, Schema> };

// ajv's CJS default export under NodeNext typing.
const AjvClass = Ajv2020 as unknown as typeof Ajv2020.default;

let validator: ReturnType<InstanceType<typeof AjvClass>['compile']> | undefined;

/** The compiled schema (compiled on first use: only `replay --maps` needs it). */
function validate(doc: unknown): ErrorObject | undefined {
  if (!validator) {
    // strictRequired off: the if/then branches name properties declared on the parent object.
    const ajv = new AjvClass({ allErrors: false, strict: true, strictRequired: false, verbose: true });
    ajv.addFormat('hubcap-ip', (text: string) => parseIp(text) !== undefined);
    ajv.addFormat('hubcap-prefix', (text: string) => parseCidr(text) !== undefined);
    validator = ajv.compile(SCHEMA);
  }
  return validator(doc) ? undefined : (validator.errors ?? [])[0];
}

/** Checks `doc`; returns its first problem, or undefined when `replay --maps` can load it. */
export function checkMapsDocument(doc: unknown): MapsDocumentProblem | undefined {
  const error = validate(doc);
  if (error) return problemOf(error);
  return checkBeyondSchema(doc as SchemaValidDocument);
}

/** `policyMaps[3].entries[7].port` */
export function formatDocumentPath(path: ReadonlyArray<string | number>): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? seg : `.${seg}`;
  return out;
}

function pathOf(pointer: string): Array<string | number> {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((seg) => {
      const s = seg.replace(/~1/g, '/').replace(/~0/g, '~');
      return /^(0|[1-9]\d*)$/.test(s) ? Number(s) : s;
    });
}

function resolve(schema: Schema): Schema {
  let s = schema;
  while (s.$ref !== undefined) s = SCHEMA.$defs[s.$ref.replace('#/$defs/', '')]!;
  return s;
}

/** What a value of `schema` must be, in words. */
function mustBe(schema: Schema, value?: unknown): string {
  const s = resolve(schema);
  if (s.enum) return `must be one of ${s.enum.join(', ')}`;
  if (s.const !== undefined) return `must be ${JSON.stringify(s.const)}`;
  if (s.format !== undefined && typeof value === 'string') return `${JSON.stringify(value)} is not an IP ${s.format === 'hubcap-ip' ? 'address' : 'prefix'}`;
  switch (s.type) {
    case 'integer':
      if (s.not) return `must be 0 or ${s.not.maximum! + 1}..${s.maximum}`;
      return s.maximum === undefined ? `must be a whole number from ${s.minimum}` : `must be a whole number ${s.minimum}..${s.maximum}`;
    case 'string':
      return 'must be a string';
    case 'array':
      return 'must be a list';
    case 'object':
      return 'must be an object';
    case 'boolean':
      return 'must be true or false';
    default:
      return 'is not valid here';
  }
}

function problemOf(error: ErrorObject): MapsDocumentProblem {
  const path = pathOf(error.instancePath);
  if (error.keyword === 'required') {
    const missing = (error.params as { missingProperty: string }).missingProperty;
    const parent = error.parentSchema as Schema;
    return { path: [...path, missing], reason: mustBe(parent.properties?.[missing] ?? {}) };
  }
  if (error.keyword === 'not') return { path, reason: mustBe(error.parentSchema as Schema) };
  return { path, reason: mustBe(error.parentSchema as Schema, error.data) };
}

interface SchemaValidDocument {
  rules: unknown[];
  policyMaps: Array<{ entries: Array<{ derivedFrom: number[] }> }>;
  l7: Array<{ port: number; endPort: number; derivedFrom: number[] }>;
  fqdnSelectors: Array<{ derivedFrom: number[]; uses?: Array<{ derivedFrom: number[]; l7?: { port: number; endPort: number } }> }>;
}

/** Rule indexes inside `rules`; L7 port ranges in order (what the schema cannot state). */
function checkBeyondSchema(d: SchemaValidDocument): MapsDocumentProblem | undefined {
  const rules = d.rules.length;
  const indexes = (list: number[], path: Array<string | number>): MapsDocumentProblem | undefined => {
    for (let i = 0; i < list.length; i++) {
      if (list[i]! >= rules) return { path: [...path, i], reason: `must be a whole number 0..${rules - 1}` };
    }
    return undefined;
  };
  const range = (r: { port: number; endPort: number }, path: Array<string | number>): MapsDocumentProblem | undefined =>
    r.endPort < r.port ? { path: [...path, 'endPort'], reason: `must be a whole number ${r.port}..65535` } : undefined;
  for (let m = 0; m < d.policyMaps.length; m++) {
    const entries = d.policyMaps[m]!.entries;
    for (let e = 0; e < entries.length; e++) {
      const bad = indexes(entries[e]!.derivedFrom, ['policyMaps', m, 'entries', e, 'derivedFrom']);
      if (bad) return bad;
    }
  }
  for (let i = 0; i < d.l7.length; i++) {
    const bad = range(d.l7[i]!, ['l7', i]) ?? indexes(d.l7[i]!.derivedFrom, ['l7', i, 'derivedFrom']);
    if (bad) return bad;
  }
  for (let i = 0; i < d.fqdnSelectors.length; i++) {
    const f = d.fqdnSelectors[i]!;
    const bad = indexes(f.derivedFrom, ['fqdnSelectors', i, 'derivedFrom']);
    if (bad) return bad;
    for (let j = 0; j < (f.uses?.length ?? 0); j++) {
      const u = f.uses![j]!;
      const p = ['fqdnSelectors', i, 'uses', j];
      const b = indexes(u.derivedFrom, [...p, 'derivedFrom']) ?? (u.l7 ? range(u.l7, [...p, 'l7']) : undefined);
      if (b) return b;
    }
  }
  return undefined;
}
