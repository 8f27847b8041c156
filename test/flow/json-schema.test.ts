/**
 * Every flow hubcap prints validates against src/flow/flow.schema.json (JSON Schema 2020-12,
 * additionalProperties false): every event kind and verdict the datapath and proxy emit, IPv4 and
 * IPv6, each transport. The schema is checked to have teeth too: it refuses an unknown field, a
 * drop without its reason and a translation that is not one.
 */
import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { FlowContext } from '../../src/flow/context.js';
import { buildFlowResponse, formatFlowJson } from '../../src/flow/flow.js';
import { cases, starWarsDoc } from './fixtures.js';

const schema = JSON.parse(readFileSync(new URL('../../src/flow/flow.schema.json', import.meta.url), 'utf8')) as object;
// ajv's CJS default export under NodeNext typing.
const AjvClass = Ajv2020 as unknown as typeof Ajv2020.default;
// strictRequired off: the if/then branches name properties declared on the parent object.
const ajv = new AjvClass({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
(addFormats as unknown as typeof addFormats.default)(ajv);
const validate = ajv.compile(schema);

function errors(): string {
  return ajv.errorsText(validate.errors, { separator: '\n' });
}

describe('flow JSON schema', () => {
  const ctx = new FlowContext(starWarsDoc());
  const all = cases();

  it.each(Object.entries(all))('%s validates', (_name, ev) => {
    const line = formatFlowJson(ev, ctx);
    const parsed: unknown = JSON.parse(line);
    const ok = validate(parsed);
    expect(ok, errors()).toBe(true);
  });

  it('covers every verdict and event kind the datapath emits', () => {
    const seen = new Set<string>();
    for (const ev of Object.values(all)) {
      const f = buildFlowResponse(ev, ctx).flow;
      seen.add(`${f.event_type.type}/${f.verdict}`);
    }
    for (const combo of ['4/FORWARDED', '4/ERROR', '1/DROPPED', '5/FORWARDED', '5/DROPPED', '5/AUDIT', '5/REDIRECTED', '7/TRANSLATED', '129/FORWARDED', '129/DROPPED']) {
      expect(seen).toContain(combo);
    }
  });

  it('refuses an unknown field', () => {
    const r = buildFlowResponse(all['drop POLICY_DENIED']!, ctx) as unknown as { flow: Record<string, unknown> };
    r.flow.unexpected = 1;
    expect(validate(JSON.parse(JSON.stringify(r)))).toBe(false);
  });

  it('refuses a drop without its reason', () => {
    const r = buildFlowResponse(all['drop POLICY_DENIED']!, ctx) as unknown as { flow: Record<string, unknown> };
    delete r.flow.drop_reason_desc;
    expect(validate(JSON.parse(JSON.stringify(r)))).toBe(false);
  });

  it('refuses a drop reason on a forwarded flow', () => {
    const r = buildFlowResponse(all['trace to-endpoint FORWARDED (TCP SYN)']!, ctx) as unknown as { flow: Record<string, unknown> };
    r.flow.drop_reason = 133;
    expect(validate(JSON.parse(JSON.stringify(r)))).toBe(false);
  });

  it('refuses a SOCK flow that is not TRANSLATED', () => {
    const r = buildFlowResponse(all['TRANSLATED (ClusterIP to backend)']!, ctx) as unknown as { flow: Record<string, unknown> };
    r.flow.verdict = 'FORWARDED';
    expect(validate(JSON.parse(JSON.stringify(r)))).toBe(false);
  });

  it('refuses an address that is not canonical IPv6 text', () => {
    const r = buildFlowResponse(all['trace to-endpoint FORWARDED (IPv6 TCP from world)']!, ctx) as unknown as {
      flow: { IP: { source: string } };
    };
    r.flow.IP.source = '2001:DB8::1';
    expect(validate(JSON.parse(JSON.stringify(r)))).toBe(false);
  });

  it('refuses a time without nine fractional digits', () => {
    const r = buildFlowResponse(all['drop POLICY_DENIED']!, ctx);
    const bad = { ...r, time: '2025-11-22T03:12:36.123Z' };
    expect(validate(JSON.parse(JSON.stringify(bad)))).toBe(false);
  });
});
