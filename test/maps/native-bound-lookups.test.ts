/**
 * The addon's bound single-lookup functions (native/bindings.h BindFunction): ipcache
 * `bindLookup4/6([local])` and policy `bindLookup()`. They hold raw pointers to the maps' native
 * cores in their callback data, so what must hold is lifetime: a bound function keeps the maps it
 * reads alive after every other reference to them is gone (run under ASan by native/sanitize.sh,
 * a use after free is a report there, and stale answers here). Also: a `local` that is not an
 * Ipcache is refused, and arguments read as the methods read them (missing ones are 0).
 */
import { describe, expect, test } from 'vitest';
import { NativeIpcache, NativeIpcacheView, NativePolicyMapSet } from '../../src/maps/native.js';
import { fullGc } from '../helpers/gc-count.js';
import { nativeOrFail } from './native-helpers.js';

const native = nativeOrFail();
const POD = 0x0a000105; // 10.0.1.5

/** Maps made and dropped inside one call, so only the returned functions can still reach them. */
function boundOverDroppedMaps(): { find4: (addr: number) => number; view4: (addr: number) => number; view6: (...w: number[]) => number } {
  const shared = new NativeIpcache(1024, native);
  const local = new NativeIpcache(1024, native);
  shared.upsert(4, [0, 0, 0xffff, 0x0a000000], 8, 2); // 10.0.0.0/8 -> 2
  local.upsert(4, [0, 0, 0xffff, POD], 32, 3001); // the node's own pod
  shared.upsert(6, [0xfd000000, 0, 0, 0], 8, 7);
  return {
    find4: shared.handle.bindLookup4(),
    view4: shared.handle.bindLookup4(local.handle),
    view6: shared.handle.bindLookup6(local.handle),
  };
}

/**
 * Collects garbage and lets the wrapped maps' finalizers run (Node runs N-API finalizers after
 * the collection, from the event loop), then allocates native maps where freed cores were.
 */
async function collectAndChurn(): Promise<void> {
  for (let round = 0; round < 3; round++) {
    fullGc();
    await new Promise((resolve) => setImmediate(resolve));
    for (let i = 0; i < 50; i++) {
      const m = new NativeIpcache(4096, native);
      for (let a = 0; a < 64; a++) m.upsert(4, [0, 0, 0xffff, POD + a], 32, 9000 + a);
    }
  }
  fullGc();
  await new Promise((resolve) => setImmediate(resolve));
}

describe('bound single lookups', () => {
  test('an ipcache function keeps its maps alive once nothing else refers to them', async () => {
    const f = boundOverDroppedMaps();
    await collectAndChurn();
    expect(f.find4(POD)).toBe(2); // the shared map alone: the /8
    expect(f.view4(POD)).toBe(3001); // the view: the local /32 is longer
    expect(f.view4(0x0b000001)).toBe(-1);
    expect(f.view6(0xfd000000, 0, 0, 1)).toBe(7);
  });

  test('a policy set function keeps its set (and the scratch it writes) alive', async () => {
    const bound = (() => {
      const set = new NativePolicyMapSet(native);
      const map = set.createMap(64);
      map.set({ identity: 3001, direction: 0, protocol: 6, port: 80, prefixLen: 24, deny: false, proxyPort: 0, proxyPortPriority: 0, authType: 0, hasExplicitAuthType: false, cookie: 11 });
      return { lookup: set.lookupOne, scratch: set.scratch, id: map.id };
    })();
    await collectAndChurn();
    expect(bound.lookup(bound.id, 3001, 0, 6, 80, 0)).toBe(0); // allowed
    expect(bound.scratch[1]).toBe(11); // the matched entry's cookie
    expect(bound.scratch[4]).toBe(0); // an entry matched
    expect(bound.lookup(bound.id, 3001, 0, 6, 81, 0)).toBeLessThan(0); // default deny
    expect(bound.scratch[4]).toBe(0xffffffff);
  });

  test('a local map that is not an Ipcache is refused', () => {
    const shared = new NativeIpcache(16, native);
    const set = new NativePolicyMapSet(native);
    expect(() => shared.handle.bindLookup4({} as never)).toThrow(TypeError);
    expect(() => shared.handle.bindLookup6(set.handle as never)).toThrow(/local must be an Ipcache/);
  });

  test('missing or non-number arguments read as 0, as the methods read them', () => {
    const shared = new NativeIpcache(16, native);
    shared.upsert(4, [0, 0, 0xffff, 0], 32, 42); // 0.0.0.0/32
    const find4 = shared.handle.bindLookup4() as unknown as (...a: unknown[]) => number;
    expect(find4()).toBe(42);
    expect(find4('x')).toBe(42);
    expect(find4(1)).toBe(-1);
  });

  test('the views the datapath uses answer through the bound functions', () => {
    const shared = new NativeIpcache(64, native);
    const local = new NativeIpcache(64, native);
    shared.upsert(4, [0, 0, 0xffff, 0x0a000100], 24, 2);
    local.upsert(4, [0, 0, 0xffff, 0x0a000100], 24, 5); // equal prefix: local wins the tie
    const view = new NativeIpcacheView(shared, local);
    expect(view.lookup4(POD)).toBe(5);
    expect(view.lookup(4, [0, 0, 0xffff, POD])).toBe(5);
    expect(shared.lookup(4, [0, 0, 0xffff, POD])).toBe(2);
  });
});
