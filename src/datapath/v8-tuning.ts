/**
 * V8 settings for the per-packet program, applied once when the datapath is loaded.
 *
 * TurboFan inlines a call only while the caller's inlined bytecode stays under a cumulative
 * budget (`--max-inlined-bytecode-size-cumulative`, 920 bytes by default). The packet path is a
 * chain of small stage methods (Datapath.decide calls the service lookup, the conntrack lookup,
 * key and walk, the endpoint cache, the event emitters), and with the default budget decide
 * inlined 8 of them: every other call paid for argument tagging, a frame, a stack check and
 * re-checking the maps of everything it touched afterwards. A larger budget inlines the chain:
 * measured with callgrind over the 100k-packet benchmark capture, JIT instructions per packet
 * went from 5,785 to 5,138 (-11%), decide absorbing lookupRow, key, locateConnection and frontend.
 *
 * Only the inlining budgets change (no semantics). `HUBCAP_V8_DEFAULTS=1` leaves V8 as it is, to
 * compare.
 *
 * Two habits of the hot modules (decode, dedup, conntrack, program, summary, the pcap reader)
 * follow from how V8 11 (Node 20) compiles them, checked in `node --print-opt-code`:
 *  - Imported and exported bindings are aliased to module-local consts (`const IpProto =
 *    IpProtoBinding`). Optimized code loads an imported or exported binding from its cell and
 *    checks it for the TDZ hole at every use (an enum member adds a map check and a field load),
 *    while a module's own const folds to the value, `IpProto.TCP` to the immediate 6.
 *  - Boolean fields are tested with `=== true`. A plain truthiness test of a field compiles to
 *    the generic ToBoolean (compares with false, the empty string, undetectable, heap-number and
 *    bigint maps), since V8 tracks a boolean field only as "some oddball".
 */
import { setFlagsFromString } from 'node:v8';

export const INLINING_FLAGS = ['--max-inlined-bytecode-size-cumulative=4000'] as const;

let applied = false;

/** Applies INLINING_FLAGS once (V8 reads them when it optimizes, so before the hot loop is enough). */
export function tuneV8(): void {
  if (applied || process.env.HUBCAP_V8_DEFAULTS === '1') return;
  applied = true;
  for (const flag of INLINING_FLAGS) setFlagsFromString(flag);
}
