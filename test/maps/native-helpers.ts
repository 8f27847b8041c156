/**
 * Shared by the native differential tests: the addon is required (CI builds it with
 * `npm ci`; style.md: "there a missing addon is a failure, not a skip"), and comparisons of a
 * TypeScript map with its native twin.
 */
import { expect } from 'vitest';
import { loadNative, nativeUnavailableReason, type NativeModule } from '../../src/maps/native.js';
import type { IpcacheEntry } from '../../src/maps/ipcache.js';
import { PolicyVerdict } from '../../src/maps/policy-map.js';

/** The addon, or an Error that fails the calling test with how to build it. */
export function nativeOrFail(): NativeModule {
  const m = loadNative();
  if (!m) {
    throw new Error(
      `the native addon is required by the differential tests and is unavailable: ${nativeUnavailableReason()}. ` +
        'Build it with `npm install` (or `npx node-gyp rebuild`).',
    );
  }
  return m;
}

/** An entry as plain data (Uint32Array words as numbers), for equality and diffs. */
export function plainEntry(e: IpcacheEntry | undefined): object | undefined {
  if (!e) return undefined;
  return { family: e.family, words: [...e.words], prefixLen: e.prefixLen, identity: e.identity, tunnelEndpoint: e.tunnelEndpoint ?? 0, flags: e.flags ?? 0 };
}

/** The fields of a PolicyVerdict both backends must agree on (slot only as matched or not). */
export function verdictFields(v: PolicyVerdict): object {
  return {
    verdict: v.verdict,
    matchType: v.matchType,
    cookie: v.cookie,
    authType: v.authType,
    prefixLen: v.prefixLen,
    matchedIdentity: v.matchedIdentity,
    proxyPort: v.proxyPort,
    matched: v.slot >= 0,
  };
}

/** Compares cheaply first; expect's deep equality (slow in loops) only for the diff. */
export function sameJson(actual: unknown, expected: unknown, context: string): void {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) expect(actual, context).toEqual(expected);
}

/** Deterministic pseudo-random u32s (xorshift32), for the large fixed-seed cases. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}
