/**
 * Conntrack lookups and timers, against bpf/lib/conntrack.h:
 *  - `__ct_lookup4/6` SCOPE_BIDIR: the reverse tuple is tried first (REPLY), then the tuple;
 *  - `ct_update_timeout`: TCP 21600 s once a non-SYN packet was seen, 60 s before; non-TCP 60 s;
 *  - ACTION_CLOSE: FIN/RST close their direction, RST before both SYNs closes both; both closing
 *    -> CT_CLOSE_TIMEOUT 10 s and no more refreshes; ACTION_CREATE (SYN) on a closing entry
 *    reopens (the lookup answers CT_NEW);
 *  - `ct_create4`: the creating packet is accounted and records a SYN whatever its flags.
 */
import { describe, expect, it } from 'vitest';
import {
  CT_CLOSE_TIMEOUT,
  CT_CONNECTION_LIFETIME_NONTCP,
  CT_CONNECTION_LIFETIME_TCP,
  CT_SYN_TIMEOUT,
  Conntrack,
  CtDir,
  CtTuple,
} from '../../src/maps/conntrack.js';
import { ACK, FIN, PSH, RST, SYN, UDP, checkInvariants, find, open, reversed, tup, words } from './conntrack-helpers.js';

const T0 = 1_700_000_000.123456789;

describe('lookup: forward and reply (SCOPE_BIDIR)', () => {
  it('finds a connection in both directions and nothing else', () => {
    const ct = new Conntrack();
    const t = tup('10.0.1.20', 40000, '10.0.1.10', 80);
    const e = open(ct, t, T0);
    expect(e.id).toBe(1);
    expect(find(ct, t, T0)).toEqual([e, CtDir.FORWARD]);
    expect(find(ct, reversed(t), T0)).toEqual([e, CtDir.REPLY]);
    // Any field off: another connection.
    expect(ct.lookup(tup('10.0.1.20', 40001, '10.0.1.10', 80), T0)).toBeNull();
    expect(ct.lookup(tup('10.0.1.20', 40000, '10.0.1.10', 81), T0)).toBeNull();
    expect(ct.lookup(tup('10.0.1.21', 40000, '10.0.1.10', 80), T0)).toBeNull();
    expect(ct.lookup(tup('10.0.1.20', 40000, '10.0.1.11', 80), T0)).toBeNull();
    expect(ct.lookup(tup('10.0.1.20', 40000, '10.0.1.10', 80, UDP), T0)).toBeNull();
    // A reply with the ports not swapped is not a reply.
    expect(ct.lookup(tup('10.0.1.10', 40000, '10.0.1.20', 80), T0)).toBeNull();
    checkInvariants(ct);
  });

  it('gives connection numbers in creation order', () => {
    const ct = new Conntrack();
    const ids = [1, 2, 3].map((i) => open(ct, tup('10.0.0.1', 1000 + i, '10.0.0.2', 80), T0).id);
    expect(ids).toEqual([1, 2, 3]);
  });

  it('prefers REPLY when a packet matches one entry forward and another in reverse', () => {
    // conntrack.h: "RELATED or REPLY state takes precedence over ESTABLISHED"; two entries can
    // exist for mirror-image tuples when both were created (e.g. after a reopen).
    const ct = new Conntrack();
    const a = tup('10.0.0.1', 5000, '10.0.0.2', 5000, UDP);
    const ea = open(ct, a, T0, 0);
    const eb = open(ct, reversed(a), T0, 0);
    expect(ea).not.toBe(eb);
    expect(find(ct, a, T0)).toEqual([eb, CtDir.REPLY]);
    expect(find(ct, reversed(a), T0)).toEqual([ea, CtDir.REPLY]);
    checkInvariants(ct);
  });

  it('keeps IPv6 tuples apart from IPv4 ones, IPv4-mapped addresses included', () => {
    const ct = new Conntrack();
    const v6 = tup('fd00:10:0:1::20', 40000, 'fd00:10:0:1::10', 80);
    const e6 = open(ct, v6, T0);
    expect(find(ct, v6, T0)).toEqual([e6, CtDir.FORWARD]);
    expect(find(ct, reversed(v6), T0)).toEqual([e6, CtDir.REPLY]);
    expect(ct.lookup(tup('fd00:10:0:1::20', 40000, 'fd00:10:0:1::11', 80), T0)).toBeNull();
    // Same words as 10.0.1.20 -> 10.0.1.10 but family 6: a different tuple (and table).
    const mapped = new CtTuple().set(6, words('::ffff:10.0.1.20'), words('::ffff:10.0.1.10'), 40000, 80, 6);
    const v4 = tup('10.0.1.20', 40000, '10.0.1.10', 80);
    expect(Array.from(mapped.src)).toEqual(Array.from(v4.src));
    expect(ct.lookup(mapped, T0)).toBeNull();
    const e4 = open(ct, v4, T0);
    expect(ct.lookup(mapped, T0)).toBeNull();
    expect(ct.lookup(v4, T0)).toBe(e4);
    expect(ct.tcpSize).toBe(2);
    checkInvariants(ct);
  });

  it('delete removes the connection and nothing else', () => {
    const ct = new Conntrack();
    const a = open(ct, tup('10.0.0.1', 1, '10.0.0.2', 80), T0);
    const b = open(ct, tup('10.0.0.1', 2, '10.0.0.2', 80), T0);
    ct.delete(a);
    expect(ct.lookup(tup('10.0.0.1', 1, '10.0.0.2', 80), T0)).toBeNull();
    expect(ct.lookup(tup('10.0.0.1', 2, '10.0.0.2', 80), T0)).toBe(b);
    ct.delete(a); // twice is a no-op
    expect(ct.tcpSize).toBe(1);
    checkInvariants(ct);
  });

  it('create replaces an entry with the same forward tuple (map_update_elem)', () => {
    const ct = new Conntrack();
    const t = tup('10.0.0.1', 1, '10.0.0.2', 80);
    const a = open(ct, t, T0);
    const b = open(ct, t, T0 + 1);
    expect(b.id).toBe(a.id + 1);
    expect(a.inTable).toBe(false);
    expect(ct.lookup(t, T0 + 1)).toBe(b);
    expect(ct.tcpSize).toBe(1);
    checkInvariants(ct);
  });

  it('exposes the created tuple and counts packets and bytes per direction', () => {
    const ct = new Conntrack();
    const t = tup('10.0.1.20', 40000, '10.0.1.10', 80);
    const e = open(ct, t, T0, SYN, 74);
    expect(e.tuple.equals(t)).toBe(true);
    expect(e.tuple.family).toBe(4);
    ct.touch(e, CtDir.REPLY, SYN | ACK, 74, T0 + 0.001);
    ct.touch(e, CtDir.FORWARD, ACK, 66, T0 + 0.002);
    expect([e.txPackets, e.txBytes, e.rxPackets, e.rxBytes]).toEqual([2, 140, 1, 74]);
    expect(e.seenReply).toBe(true);
    expect(e.lastSeenSec).toBeCloseTo(T0 + 0.002, 2);
    expect(e.createdSec).toBeCloseTo(T0, 2);
  });
});

describe('timeouts from capture time (ct_update_timeout)', () => {
  it('a SYN-only connection expires CT_SYN_TIMEOUT (60 s) after its last packet', () => {
    const ct = new Conntrack();
    const t = tup('10.0.0.1', 40000, '10.0.0.2', 80);
    const e = open(ct, t, T0);
    expect(e.expiresSec).toBeCloseTo(T0 + CT_SYN_TIMEOUT, 2);
    // A retransmitted SYN 30 s later restarts the 60 s.
    ct.touch(ct.lookup(t, T0 + 30, SYN)!, CtDir.FORWARD, SYN, 60, T0 + 30);
    expect(ct.lookup(t, T0 + 89.9)).toBe(e);
    expect(ct.lookup(t, T0 + 90.001)).toBeNull();
    expect(ct.expired).toBe(1);
    expect(ct.tcpSize).toBe(0);
    checkInvariants(ct);
  });

  it('turns established (21600 s) with the first packet without SYN, in either direction', () => {
    const ct = new Conntrack();
    const t = tup('10.0.0.1', 40000, '10.0.0.2', 80);
    const e = open(ct, t, T0);
    ct.touch(e, CtDir.REPLY, SYN | ACK, 60, T0 + 0.001);
    expect(e.seenNonSyn).toBe(false);
    expect(e.expiresSec).toBeCloseTo(T0 + 0.001 + CT_SYN_TIMEOUT, 2);
    ct.touch(e, CtDir.FORWARD, ACK, 52, T0 + 0.002);
    expect(e.seenNonSyn).toBe(true);
    expect(e.expiresSec).toBeCloseTo(T0 + 0.002 + CT_CONNECTION_LIFETIME_TCP, 2);
    // An hour of silence later the connection is still there.
    expect(ct.lookup(reversed(t), T0 + 3600)).toBe(e);
    expect(ct.lookup(t, T0 + 0.002 + CT_CONNECTION_LIFETIME_TCP + 1)).toBeNull();
  });

  it('FIN from both sides: CT_CLOSE_TIMEOUT (10 s) from the second FIN, later packets do not refresh', () => {
    const ct = new Conntrack();
    const t = tup('10.0.0.1', 40000, '10.0.0.2', 80);
    const e = open(ct, t, T0);
    ct.touch(e, CtDir.REPLY, SYN | ACK, 60, T0);
    ct.touch(e, CtDir.FORWARD, ACK, 52, T0);
    ct.touch(e, CtDir.FORWARD, FIN | ACK, 52, T0 + 1);
    expect([e.txClosing, e.rxClosing, e.closing, e.alive]).toEqual([true, false, true, true]);
    // Half-closed: still the established lifetime.
    expect(e.expiresSec).toBeCloseTo(T0 + 1 + CT_CONNECTION_LIFETIME_TCP, 2);
    ct.touch(e, CtDir.REPLY, FIN | ACK, 52, T0 + 2);
    expect(e.alive).toBe(false);
    expect(e.expiresSec).toBeCloseTo(T0 + 2 + CT_CLOSE_TIMEOUT, 2);
    ct.touch(e, CtDir.FORWARD, ACK, 52, T0 + 5); // the last ACK: counted, no refresh
    expect(e.expiresSec).toBeCloseTo(T0 + 2 + CT_CLOSE_TIMEOUT, 2);
    expect(e.txPackets).toBe(4);
    expect(ct.lookup(t, T0 + 11.9)).toBe(e);
    expect(ct.lookup(t, T0 + 12.1)).toBeNull();
  });

  it('RST before both SYNs were seen closes both directions at once', () => {
    const ct = new Conntrack();
    const t = tup('10.0.0.1', 40000, '10.0.0.2', 81);
    const e = open(ct, t, T0);
    ct.touch(e, CtDir.REPLY, RST | ACK, 40, T0 + 0.001); // connection refused
    expect([e.txClosing, e.rxClosing]).toEqual([true, true]);
    expect(e.expiresSec).toBeCloseTo(T0 + 0.001 + CT_CLOSE_TIMEOUT, 2);
  });

  it('RST after the handshake closes only its own direction (conntrack.h ACTION_CLOSE)', () => {
    const ct = new Conntrack();
    const t = tup('10.0.0.1', 40000, '10.0.0.2', 80);
    const e = open(ct, t, T0);
    ct.touch(e, CtDir.REPLY, SYN | ACK, 60, T0);
    ct.touch(e, CtDir.FORWARD, RST, 40, T0 + 1);
    expect([e.txClosing, e.rxClosing, e.alive]).toEqual([true, false, true]);
  });

  it('non-TCP: 60 s after every packet', () => {
    const ct = new Conntrack();
    const t = tup('10.0.0.1', 53000, '10.0.0.53', 53, UDP);
    const e = open(ct, t, T0, 0);
    expect(e.expiresSec).toBeCloseTo(T0 + CT_CONNECTION_LIFETIME_NONTCP, 2);
    ct.touch(ct.lookup(reversed(t), T0 + 50)!, CtDir.REPLY, 0, 100, T0 + 50);
    expect(ct.lookup(t, T0 + 109)).toBe(e);
    expect(ct.lookup(t, T0 + 110.5)).toBeNull();
  });

  it('a connection first seen mid-stream starts in the SYN timeout (ct_create4 records a SYN)', () => {
    const ct = new Conntrack();
    const t = tup('10.0.0.1', 40000, '10.0.0.2', 80);
    const e = open(ct, t, T0, PSH | ACK, 1000);
    expect(e.txFlagsSeen).toBe(SYN);
    expect(e.seenNonSyn).toBe(false);
    expect(e.expiresSec).toBeCloseTo(T0 + CT_SYN_TIMEOUT, 2);
    expect([e.txPackets, e.txBytes]).toEqual([1, 1000]);
    ct.touch(e, CtDir.REPLY, ACK, 52, T0 + 1);
    expect(e.expiresSec).toBeCloseTo(T0 + 1 + CT_CONNECTION_LIFETIME_TCP, 2);
  });

  it('a SYN on a closing entry reopens: the lookup answers new and create starts over', () => {
    const ct = new Conntrack();
    const t = tup('10.0.0.1', 40000, '10.0.0.2', 80);
    const e = open(ct, t, T0);
    ct.touch(e, CtDir.REPLY, SYN | ACK, 60, T0);
    ct.touch(e, CtDir.FORWARD, FIN | ACK, 52, T0 + 1);
    ct.touch(e, CtDir.REPLY, FIN | ACK, 52, T0 + 1);
    // Without flags (or with a non-SYN) the closing entry is still found.
    expect(ct.lookup(t, T0 + 2, ACK)).toBe(e);
    // The port is reused 2 s later: SYN -> CT_NEW.
    expect(ct.lookup(t, T0 + 3, SYN)).toBeNull();
    expect([e.txClosing, e.rxClosing, e.seenNonSyn]).toEqual([false, false, false]);
    const e2 = open(ct, t, T0 + 3);
    expect(e2.id).toBe(e.id + 1);
    expect(ct.lookup(t, T0 + 3)).toBe(e2);
    // FIN|SYN is ACTION_CLOSE, never a reopen.
    ct.touch(e2, CtDir.FORWARD, FIN, 52, T0 + 4);
    expect(ct.lookup(t, T0 + 4, SYN | FIN)).toBe(e2);
    checkInvariants(ct);
  });

  it('keeps exact times far from the first one (ms fields past the Smi range, 30 days in)', () => {
    const ct = new Conntrack();
    open(ct, tup('10.0.0.9', 9, '10.0.0.2', 80), T0); // sets the epoch
    const later = T0 + 30 * 86_400;
    const t = tup('10.0.0.1', 40000, '10.0.0.2', 80);
    const e = open(ct, t, later);
    expect(e.expiresSec).toBeCloseTo(later + CT_SYN_TIMEOUT, 2);
    expect(ct.lookup(t, later + 59.9)).toBe(e);
    expect(ct.lookup(t, later + 60.1)).toBeNull();
    // And before the epoch (an out-of-order capture): negative times work the same.
    const early = open(ct, tup('10.0.0.3', 3, '10.0.0.2', 80), T0 - 100);
    expect(ct.lookup(tup('10.0.0.3', 3, '10.0.0.2', 80), T0 - 41)).toBe(early);
    expect(ct.lookup(tup('10.0.0.3', 3, '10.0.0.2', 80), T0 - 39.9)).toBeNull();
  });

  it('gc() removes exactly the expired entries', () => {
    const ct = new Conntrack();
    open(ct, tup('10.0.0.1', 1, '10.0.0.2', 80), T0); // SYN only: 60 s
    const udp = open(ct, tup('10.0.0.1', 2, '10.0.0.2', 53, UDP), T0 + 30, 0); // 60 s from T0 + 30
    expect(ct.gc(T0 + 70)).toBe(1);
    expect(ct.tcpSize).toBe(0);
    expect(ct.lookup(tup('10.0.0.1', 2, '10.0.0.2', 53, UDP), T0 + 70)).toBe(udp);
    checkInvariants(ct);
  });
});

describe('monitor aggregation (touch return, __ct_update_timeout)', () => {
  it('reports new flags per direction, then again after CT_REPORT_INTERVAL, and on close', () => {
    const ct = new Conntrack();
    const t = tup('10.0.0.1', 40000, '10.0.0.2', 80);
    const e = ct.create(t, T0);
    expect(ct.touch(e, CtDir.FORWARD, SYN, 60, T0)).toBe(true); // new connection
    expect(ct.touch(e, CtDir.REPLY, SYN | ACK, 60, T0)).toBe(true); // first in this direction
    expect(ct.touch(e, CtDir.FORWARD, ACK, 52, T0 + 1)).toBe(true); // ACK is new for tx
    expect(ct.touch(e, CtDir.FORWARD, ACK, 52, T0 + 2)).toBe(false);
    expect(ct.touch(e, CtDir.FORWARD, ACK, 52, T0 + 6.5)).toBe(true); // > 5 s since the last report
    expect(ct.touch(e, CtDir.FORWARD, ACK, 52, T0 + 7)).toBe(false);
    expect(ct.touch(e, CtDir.FORWARD, FIN | ACK, 52, T0 + 7.5)).toBe(true);
  });
});

describe('clear', () => {
  it('empties the tables and resets counters; ids keep counting', () => {
    const ct = new Conntrack();
    const a = open(ct, tup('10.0.0.1', 1, '10.0.0.2', 80), T0);
    ct.clear();
    expect(ct.size).toBe(0);
    expect(a.inTable).toBe(false);
    expect(ct.lookup(tup('10.0.0.1', 1, '10.0.0.2', 80), T0)).toBeNull();
    const b = open(ct, tup('10.0.0.1', 1, '10.0.0.2', 80), T0);
    expect(b.id).toBe(a.id + 1);
    checkInvariants(ct);
  });
});

describe('options', () => {
  it('refuses bad table sizes', () => {
    expect(() => new Conntrack({ tcpMax: 0 })).toThrow(RangeError);
    expect(() => new Conntrack({ anyMax: 1.5 })).toThrow(RangeError);
    expect(() => new Conntrack({ hashBits: 40 })).toThrow(RangeError);
  });
});
