/**
 * Small builders for policy tests: YAML text -> RawObject -> PolicyObject, selector and peer
 * shorthands, and an assertion for one-line positioned errors.
 */
import { expect } from 'vitest';
import { HubcapError, InputError } from '../../src/errors.js';
import { readDocuments } from '../../src/k8s/documents.js';
import type { RawObject } from '../../src/k8s/types.js';
import { parsePolicy } from '../../src/policy/parse.js';
import type { EndpointSelector, Peer, PolicyObject, PolicyRule } from '../../src/policy/types.js';

/** Strips the common indentation of a template literal so YAML can be written indented in tests. */
export function yaml(text: string): string {
  const lines = text.replace(/^\n/, '').split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim() !== '').map((l) => l.match(/^ */)![0].length));
  return lines.map((l) => l.slice(indent)).join('\n');
}

/** A policy spec (the lines under `spec:`) with one ingress HTTP rule on TCP/80; `rule` is its YAML. */
export function httpRuleSpec(rule: string): string {
  return yaml(`
    endpointSelector: {}
    ingress:
      - toPorts:
          - ports: [{port: "80", protocol: TCP}]
            rules:
              http:
                - ${rule}
  `);
}

export function raws(text: string, file = 'policy.yaml'): RawObject[] {
  return readDocuments(text, file).objects;
}

export function policy(text: string, file = 'policy.yaml'): PolicyObject {
  const objs = raws(text, file);
  expect(objs).toHaveLength(1);
  return parsePolicy(objs[0]!);
}

export function rules(p: PolicyObject): PolicyRule[] {
  return p.specs.flatMap((s) => s.rules).sort((a, b) => a.index - b.index);
}

/** Canonical selector texts of the endpoint peers of a rule. */
export function peerTexts(rule: PolicyRule): string[] | undefined {
  return rule.peers?.map((p: Peer) => {
    switch (p.type) {
      case 'endpoints':
      case 'nodes':
        return `${p.type}:${p.selector.text}`;
      case 'entity':
        return `entity:${p.entity}`;
      case 'cidr':
        return `cidr`;
      case 'service':
        return `service:${p.namespace}/${p.name ?? p.selector?.text}`;
      case 'fqdn':
        return `fqdn:${p.matchName ?? p.matchPattern}`;
    }
  });
}

export function selText(sel: EndpointSelector): string {
  return sel.text;
}

/** 1-based line and column of the `nth` occurrence of `needle` in `text`. */
export function at(text: string, needle: string, nth = 1): { line: number; col: number } {
  let idx = -1;
  for (let i = 0; i < nth; i++) {
    idx = text.indexOf(needle, idx + 1);
    if (idx < 0) throw new Error(`test bug: ${JSON.stringify(needle)} (#${nth}) not in text`);
  }
  const before = text.slice(0, idx);
  const line = before.split('\n').length;
  const col = idx - before.lastIndexOf('\n');
  return { line, col };
}

/**
 * Runs `fn`, expects a HubcapError whose message is ONE line starting with
 * `file:line:col: fieldPath: ` and containing `reason`.
 */
export function expectPositionedError(
  fn: () => unknown,
  want: { file: string; line: number; col: number; path?: string; reason: string | RegExp; kind?: typeof InputError },
): HubcapError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected an error').toBeInstanceOf(want.kind ?? InputError);
  const err = caught as InputError;
  expect(err).toBeInstanceOf(HubcapError);
  expect(err.message).not.toContain('\n');
  const prefix = `${want.file}:${want.line}:${want.col}: ${want.path ? `${want.path}: ` : ''}`;
  expect(err.message.startsWith(prefix), `message ${JSON.stringify(err.message)} should start with ${JSON.stringify(prefix)}`).toBe(true);
  if (typeof want.reason === 'string') expect(err.message).toContain(want.reason);
  else expect(err.message).toMatch(want.reason);
  return err;
}
