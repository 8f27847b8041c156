/**
 * Builders and invariant checks for the conntrack tests: tuples from address text, packets from
 * the decoder's builders, and a structural check of the tables after mutations.
 */
import { expect } from 'vitest';
import { Conntrack, CtDir, CtTuple, type CtEntry } from '../../src/maps/conntrack.js';
import { parseIp } from '../../src/net/addr.js';

export const ICMP = 1;
export const TCP = 6;
export const UDP = 17;
export const ICMPV6 = 58;

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;

export function words(text: string): Uint32Array {
  const a = parseIp(text);
  if (!a) throw new Error(`bad address ${text}`);
  return a.words;
}

/** A tuple from address text: `tup('10.0.0.1', 40000, '10.0.0.2', 80)` (TCP by default). */
export function tup(src: string, sport: number, dst: string, dport: number, proto = TCP): CtTuple {
  const family = src.includes(':') ? 6 : 4;
  return new CtTuple().set(family, words(src), words(dst), sport, dport, proto);
}

export function reversed(t: CtTuple): CtTuple {
  return t.reverse(new CtTuple());
}

/** Looks `t` up and returns [entry, direction] for compact assertions. */
export function find(ct: Conntrack, t: CtTuple, now: number, flags = 0): [CtEntry | null, number] {
  const e = ct.lookup(t, now, flags);
  return [e, ct.lastDir];
}

/** Creates the connection of `t` and accounts its opening packet, as the datapath does. */
export function open(ct: Conntrack, t: CtTuple, now: number, flags = SYN, bytes = 60): CtEntry {
  const e = ct.create(t, now);
  ct.touch(e, CtDir.FORWARD, flags, bytes, now);
  return e;
}

/**
 * The tables are consistent: every tracked entry is flagged in a table, reachable once, and the
 * size counters add up.
 */
export function checkInvariants(ct: Conntrack): void {
  const seen = new Set<CtEntry>();
  let tcp = 0;
  let any = 0;
  let related = 0;
  for (const e of ct.entries()) {
    expect(seen.has(e), 'an entry is reachable twice').toBe(false);
    seen.add(e);
    expect(e.inTable).toBe(true);
    if (e.proto === TCP && e.conn === null) tcp++;
    else any++;
    if (e.conn !== null) related++;
  }
  expect(ct.tcpSize).toBe(tcp);
  expect(ct.anySize).toBe(any);
  expect(ct.relatedSize).toBe(related);
  expect(ct.size).toBe(tcp + any);
}
