/**
 * The native loader and `--backend ts|native` selection (design.md §3: native by default when
 * the addon is built, one clear line when falling back). The addon itself must be built here:
 * a missing addon fails (CI builds it with `npm ci`).
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import { NativeError, UsageError } from '../../src/errors.js';
import { NATIVE_ABI_VERSION, NATIVE_ADDON_ENV, defaultAddonPath, loadNativeFrom, selectBackend } from '../../src/maps/native.js';
import { nativeOrFail } from './native-helpers.js';

describe('the built addon', () => {
  test('loads from build/Release with the ABI version this code expects', () => {
    const m = nativeOrFail();
    expect(m.abiVersion).toBe(NATIVE_ABI_VERSION);
    expect(typeof m.bytesAllocated()).toBe('number');
  });

  test('the default is the native backend, with no note', () => {
    nativeOrFail();
    expect(selectBackend()).toEqual({ backend: 'native' });
    expect(selectBackend('native')).toEqual({ backend: 'native' });
  });

  test('ts is always available', () => {
    expect(selectBackend('ts')).toEqual({ backend: 'ts' });
  });

  test('any other name is a usage error', () => {
    expect(() => selectBackend('wasm')).toThrow(UsageError);
    expect(() => selectBackend('wasm')).toThrow('--backend must be ts or native, got wasm');
  });
});

describe('a missing addon', () => {
  const saved = process.env[NATIVE_ADDON_ENV];
  afterEach(() => {
    if (saved === undefined) delete process.env[NATIVE_ADDON_ENV];
    else process.env[NATIVE_ADDON_ENV] = saved;
    vi.resetModules();
  });

  test('loadNativeFrom says why, naming the file and how to build it', () => {
    const r = loadNativeFrom('/nonexistent/hubcap.node');
    expect(r.module).toBeUndefined();
    expect(r.reason).toContain('/nonexistent/hubcap.node is not built');
    expect(r.reason).toContain('npm install');
  });

  test('a file that is not an addon is refused with the loader\'s message', () => {
    const r = loadNativeFrom(import.meta.filename);
    expect(r.module).toBeUndefined();
    expect(r.reason).toMatch(/^loading .* failed: /);
  });

  test('the default falls back to ts with one line; an explicit native is an error', async () => {
    process.env[NATIVE_ADDON_ENV] = '/nonexistent/hubcap.node';
    vi.resetModules();
    const fresh = await import('../../src/maps/native.js');
    expect(fresh.loadNative()).toBeUndefined();
    const choice = fresh.selectBackend();
    expect(choice.backend).toBe('ts');
    expect(choice.note).toMatch(/^hubcap: native backend unavailable \(.*\/nonexistent\/hubcap\.node is not built.*\); using the TypeScript backend$/);
    expect(choice.note).not.toContain('\n');
    // A fresh module graph has its own error classes: compare the stable code.
    let code: unknown;
    try {
      fresh.selectBackend('native');
    } catch (err) {
      code = (err as { code?: unknown }).code;
    }
    expect(code).toBe(new NativeError('x').code);
    expect(() => fresh.requireNative()).toThrow(/native addon unavailable/);
  });

  test('the default path is build/Release/hubcap.node of the package', () => {
    expect(defaultAddonPath()).toMatch(/\/build\/Release\/hubcap\.node$/);
  });
});
