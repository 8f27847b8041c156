/**
 * A final event packed as native/fastpath/summary_testing.cc reads it (PackedEvent), for the
 * native summary's differential tests (fast-summary, fast-summary-new).
 */
import { EventKind, type FlowEvent, ObservationPoint, Verdict } from '../../src/datapath/events.js';

/** FlowSummary.outcome: the verdict a final event counts under. */
export function outcome(ev: FlowEvent): number {
  if (ev.kind === EventKind.DROP) return Verdict.DROPPED;
  if (ev.audited) return Verdict.AUDIT;
  if (ev.verdict === Verdict.FORWARDED && ev.observationPoint === ObservationPoint.TO_PROXY) return Verdict.REDIRECTED;
  return ev.verdict & 7;
}

/** summary_testing.cc PackedEvent: `ev` into `out` (21 words). */
export function packFinal(ev: FlowEvent, out: Float64Array): Float64Array {
  const p = ev.packet;
  out[0] = outcome(ev);
  out[1] = ev.inherited ? 1 : 0;
  out[2] = ev.dropReason;
  out[3] = ev.connection;
  out[4] = ev.srcEndpoint;
  out[5] = ev.dstEndpoint;
  out[6] = ev.srcIdentity;
  out[7] = ev.dstIdentity;
  out[8] = ev.isReply ? 1 : 0;
  out[9] = p.ipVersion;
  out[10] = p.ipProto;
  out[11] = p.sport;
  out[12] = p.dport;
  for (let k = 0; k < 4; k++) {
    out[13 + k] = p.src[k]!;
    out[17 + k] = p.dst[k]!;
  }
  return out;
}
