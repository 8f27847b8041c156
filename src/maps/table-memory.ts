/**
 * Memory for the replay's large tables (conntrack rows and key indexes, the connection cache,
 * the summary's connection records, the duplicate table): typed arrays over a
 * SharedArrayBuffer, which nothing else shares.
 *
 * Why not an ArrayBuffer: V8 counts an ArrayBuffer's bytes as external memory, and a table
 * that grows by tens of MiB sets off collections that can free none of it, since the table is
 * live for the whole replay:
 * - a young generation whose ArrayBuffers hold more than twice the semi-space is scavenged
 *   before the next one is allocated (heap.cc Heap::AllocateExternalBackingStore);
 * - external memory 64 MiB past the last full collection starts incremental marking of the
 *   whole heap, finished by a mark-compact (Heap::ReportExternalMemoryPressure).
 * A SharedArrayBuffer's bytes are not counted (BackingStore::PerIsolateAccountingLength is 0
 * for shared stores). Measured on the 1M-packet replay benchmark (bench/datapath/replay.ts):
 * the pressure collections cost 10-40 ms of a ~400 ms native pass and more of a TS pass.
 *
 * Nothing else differs for the code using the arrays: zero-filled, plain loads and stores in
 * optimized code, pointers the addon reads as any typed array's (napi_get_typedarray_info),
 * freed once unreachable. The cost: V8 does not see these bytes, so a dead table's pages are
 * returned at the next full collection other allocation brings about, not sooner. A process
 * that builds many datapaths (the test suite, the benchmark's passes) holds the dead ones a
 * while longer; a replay's own tables are live until it ends anyway.
 */

/** A zero-filled buffer of `bytes` for a table (shared: see the module comment). */
export function tableBuffer(bytes: number): ArrayBufferLike {
  return typeof SharedArrayBuffer === 'function' ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
}

/** A zero-filled Int32Array of `length` elements over a table buffer. */
export function tableInt32(length: number): Int32Array {
  return new Int32Array(tableBuffer(length * 4));
}

/** A zero-filled Int32Array of `length` elements holding a copy of `from` (at most `length` of its elements). */
export function grownInt32(from: Int32Array, length: number): Int32Array {
  const out = tableInt32(length);
  out.set(from.length <= length ? from : from.subarray(0, length));
  return out;
}
