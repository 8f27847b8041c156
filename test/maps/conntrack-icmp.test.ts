/**
 * ICMP in conntrack, against bpf/lib/conntrack.h:
 *  - `ct_extract_ports4/6`: an echo request carries its identifier in `tuple->dport`, a reply in
 *    `tuple->sport`; Cilium's tuple holds ports swapped against the packet (`l4_load_ports`
 *    loads the packet's source port into `dport`), so in packet terms a request is
 *    (sport = id, dport = 0) and its reply is exactly the reverse;
 *  - errors (ICMPv4 3, 11, 12; ICMPv6 1..4) get TUPLE_F_RELATED and ports 0, and are found
 *    through the ICMP entry `ct_create4/6` writes for the connection's address pair: CT_RELATED
 *    through its reverse, CT_ESTABLISHED through its forward tuple, nothing for errors from a
 *    third address (a router);
 *  - other ICMP types (source quench, redirect, timestamp, ...) are tracked with ports 0.
 * Packets are built with the decoder's builders and decoded, so the tuples come from real
 * DecodedPacket fields (including the quoted icmpInner* fields).
 */
import { describe, expect, it } from 'vitest';
import { Conntrack, CtDir, CtTuple, isCtProto, isCtRelatedIcmp } from '../../src/maps/conntrack.js';
import type { DecodedPacket } from '../../src/decode/packet.js';
import { decode, ethernet, icmp4, icmp6, ipv4, ipv6, tcp, udp } from '../helpers/decode-build.js';
import { ACK, ICMP, ICMPV6, SYN, TCP, UDP, checkInvariants, find, open, tup } from './conntrack-helpers.js';

const T0 = 1_700_000_000;
const XWING = '10.0.1.30';
const DEATHSTAR = '10.0.1.10';
const ROUTER = '10.0.1.1';

function v4(src: string, dst: string, proto: number, l4: Uint8Array): DecodedPacket {
  return decode(ethernet(0x0800, ipv4({ src, dst, proto }, l4)));
}
function v6(src: string, dst: string, nextHeader: number, l4: Uint8Array): DecodedPacket {
  return decode(ethernet(0x86dd, ipv6({ src, dst, nextHeader }, l4)));
}
const tupleOf = (p: DecodedPacket) => new CtTuple().setFromPacket(p);

describe('ICMP echo pairing (ct_extract_ports4/6)', () => {
  it('IPv4: the request carries the id as source port, the reply is its reverse', () => {
    const req = tupleOf(v4(XWING, DEATHSTAR, ICMP, icmp4({ type: 8, id: 0x4242, seq: 1 })));
    expect([req.sport, req.dport, req.proto, req.related]).toEqual([0x4242, 0, ICMP, false]);
    const rep = tupleOf(v4(DEATHSTAR, XWING, ICMP, icmp4({ type: 0, id: 0x4242, seq: 1 })));
    expect([rep.sport, rep.dport]).toEqual([0, 0x4242]);

    const ct = new Conntrack();
    const e = open(ct, req, T0, 0);
    expect(ct.anySize).toBe(2); // the echo connection and its RELATED pair entry
    expect(find(ct, rep, T0)).toEqual([e, CtDir.REPLY]);
    // The next request (seq 2, same id) is the same connection.
    expect(find(ct, tupleOf(v4(XWING, DEATHSTAR, ICMP, icmp4({ type: 8, id: 0x4242, seq: 2 }))), T0)).toEqual([e, CtDir.FORWARD]);
    // Another ping process (another id) is another connection; so is a reply with another id.
    expect(ct.lookup(tupleOf(v4(XWING, DEATHSTAR, ICMP, icmp4({ type: 8, id: 0x4243, seq: 1 }))), T0)).toBeNull();
    expect(ct.lookup(tupleOf(v4(DEATHSTAR, XWING, ICMP, icmp4({ type: 0, id: 0x4243, seq: 1 }))), T0)).toBeNull();
    // A "reply" travelling the request's way is not a reply.
    expect(ct.lookup(tupleOf(v4(XWING, DEATHSTAR, ICMP, icmp4({ type: 0, id: 0x4242, seq: 1 }))), T0)).toBeNull();
    checkInvariants(ct);
  });

  it('IPv6: echo request 128 and reply 129 pair the same way', () => {
    const a = 'fd00:10:0:1::30';
    const b = 'fd00:10:0:1::10';
    const req = tupleOf(v6(a, b, ICMPV6, icmp6({ type: 128, id: 7, seq: 1 })));
    const rep = tupleOf(v6(b, a, ICMPV6, icmp6({ type: 129, id: 7, seq: 1 })));
    expect([req.family, req.sport, req.dport, rep.sport, rep.dport]).toEqual([6, 7, 0, 0, 7]);
    const ct = new Conntrack();
    const e = open(ct, req, T0, 0);
    expect(find(ct, rep, T0)).toEqual([e, CtDir.REPLY]);
    // ICMPv4 type numbers mean nothing in ICMPv6: type 8 is not an echo there.
    expect(tupleOf(v6(a, b, ICMPV6, icmp6({ type: 8, id: 7 }))).sport).toBe(0);
  });

  it('non-echo, non-error ICMP is tracked by address pair with ports 0', () => {
    const quench = tupleOf(v4(DEATHSTAR, XWING, ICMP, icmp4({ type: 4 }, ipv4({ src: XWING, dst: DEATHSTAR, proto: UDP }, udp({ sport: 1, dport: 2 })))));
    expect([quench.related, quench.sport, quench.dport]).toEqual([false, 0, 0]);
    const ct = new Conntrack();
    const e = open(ct, tupleOf(v4(XWING, DEATHSTAR, ICMP, icmp4({ type: 13 }))), T0, 0); // timestamp
    expect(find(ct, tupleOf(v4(DEATHSTAR, XWING, ICMP, icmp4({ type: 14 }))), T0)).toEqual([e, CtDir.REPLY]);
  });

  it('knows which protocols ct_extract_ports handles and which ICMP types are errors', () => {
    expect([TCP, UDP, ICMP].map((p) => isCtProto(4, p))).toEqual([true, true, true]);
    expect([isCtProto(4, ICMPV6), isCtProto(6, ICMP), isCtProto(6, ICMPV6), isCtProto(4, 47), isCtProto(4, 132), isCtProto(4, 132, true)]).toEqual([
      false,
      false,
      true,
      false,
      false,
      true,
    ]);
    expect([0, 3, 4, 5, 8, 11, 12].filter((t) => isCtRelatedIcmp(4, t))).toEqual([3, 11, 12]);
    expect([1, 2, 3, 4, 128, 133, 135].filter((t) => isCtRelatedIcmp(6, t))).toEqual([1, 2, 3, 4]);
  });
});

describe('ICMP errors: RELATED through the address pair and the quoted tuple', () => {
  /** xwing -> deathstar:80 SYN, answered: the connection the errors below relate to. */
  function tcpConnection(ct: Conntrack) {
    const syn = tupleOf(v4(XWING, DEATHSTAR, TCP, tcp({ sport: 41000, dport: 80, flags: SYN })));
    const e = open(ct, syn, T0);
    ct.touch(e, CtDir.REPLY, SYN | ACK, 60, T0);
    return e;
  }
  const quotedSyn = () => ipv4({ src: XWING, dst: DEATHSTAR, proto: TCP }, tcp({ sport: 41000, dport: 80, flags: SYN }));

  it('an error from the peer back to the originator is RELATED (REPLY) and names the quoted connection', () => {
    const ct = new Conntrack();
    const e = tcpConnection(ct);
    const p = v4(DEATHSTAR, XWING, ICMP, icmp4({ type: 3, code: 3 }, quotedSyn()));
    expect(p.hasIcmpInner).toBe(true);
    const t = tupleOf(p);
    expect([t.related, t.hasInner, t.sport, t.dport]).toEqual([true, true, 0, 0]);
    expect(t.inner.equals(tup(XWING, 41000, DEATHSTAR, 80))).toBe(true);
    const before = e.expiresSec;
    expect(find(ct, t, T0 + 5)).toEqual([e, CtDir.REPLY]);
    expect(ct.lastRelated).toBe(true);
    // The RELATED entry was refreshed, not the connection (do not touch the connection).
    expect(e.expiresSec).toBe(before);
    // hubcap's precise relation agrees.
    expect(ct.lookupRelated(t.inner, T0 + 5)).toBe(e);
    expect([ct.lastDir, ct.lastRelated]).toEqual([CtDir.REPLY, true]);
  });

  it('an error travelling the connection forward is found through the forward tuple (CT_ESTABLISHED)', () => {
    const ct = new Conntrack();
    const e = tcpConnection(ct);
    // xwing tells deathstar its SYN-ACK was a problem: quotes deathstar -> xwing.
    const quoted = ipv4({ src: DEATHSTAR, dst: XWING, proto: TCP }, tcp({ sport: 80, dport: 41000, flags: SYN | ACK }));
    const t = tupleOf(v4(XWING, DEATHSTAR, ICMP, icmp4({ type: 12 }, quoted)));
    expect(find(ct, t, T0)).toEqual([e, CtDir.FORWARD]);
    expect(ct.lastRelated).toBe(true);
    expect(ct.lookupRelated(t.inner, T0)).toBe(e);
    expect(ct.lastDir).toBe(CtDir.FORWARD);
  });

  it('an error from a third address (a router) is not related in Cilium; the quoted tuple still names it', () => {
    const ct = new Conntrack();
    const e = tcpConnection(ct);
    const t = tupleOf(v4(ROUTER, XWING, ICMP, icmp4({ type: 11 }, quotedSyn())));
    expect(t.related).toBe(true);
    expect(ct.lookup(t, T0)).toBeNull();
    expect(ct.lastRelated).toBe(false);
    expect(ct.lookupRelated(t.inner, T0)).toBe(e);
    expect(ct.lastDir).toBe(CtDir.REPLY);
  });

  it('with several connections between the pair, the quoted one is returned', () => {
    const ct = new Conntrack();
    const first = tcpConnection(ct);
    const other = open(ct, tupleOf(v4(XWING, DEATHSTAR, TCP, tcp({ sport: 41001, dport: 443, flags: SYN }))), T0 + 1);
    const t = tupleOf(v4(DEATHSTAR, XWING, ICMP, icmp4({ type: 3, code: 3 }, quotedSyn())));
    expect(ct.lookup(t, T0 + 2)).toBe(first);
    // Without a usable quote the pair's last connection answers.
    t.hasInner = false;
    expect(ct.lookup(t, T0 + 2)).toBe(other);
    expect(ct.relatedSize).toBe(1);
    checkInvariants(ct);
  });

  it('an error quoting an echo request relates to the ping (quoted echo ids are swapped back)', () => {
    const ct = new Conntrack();
    const ping = open(ct, tupleOf(v4(XWING, DEATHSTAR, ICMP, icmp4({ type: 8, id: 99, seq: 1 }))), T0, 0);
    const quoted = ipv4({ src: XWING, dst: DEATHSTAR, proto: ICMP }, icmp4({ type: 8, id: 99, seq: 1 }));
    const p = v4(DEATHSTAR, XWING, ICMP, icmp4({ type: 12 }, quoted));
    expect(p.icmpInnerDport).toBe(99); // the decoder's convention: Cilium's tuple field name
    const t = tupleOf(p);
    expect([t.inner.sport, t.inner.dport]).toEqual([99, 0]);
    expect(ct.lookupRelated(t.inner, T0)).toBe(ping);
    expect(ct.lastDir).toBe(CtDir.REPLY);
    expect(ct.lookup(t, T0)).toBe(ping);
  });

  it('IPv6: packet too big from the peer relates to the TCP connection', () => {
    const a = 'fd00:10:0:1::20';
    const b = 'fd00:10:0:1::10';
    const ct = new Conntrack();
    const e = open(ct, tupleOf(v6(a, b, TCP, tcp({ sport: 40000, dport: 80, flags: SYN }))), T0);
    const quoted = ipv6({ src: a, dst: b, nextHeader: TCP }, tcp({ sport: 40000, dport: 80, flags: ACK }));
    const t = tupleOf(v6(b, a, ICMPV6, icmp6({ type: 2 }, quoted)));
    expect([t.related, t.hasInner]).toEqual([true, true]);
    expect(find(ct, t, T0)).toEqual([e, CtDir.REPLY]);
    expect(ct.lookupRelated(t.inner, T0)).toBe(e);
  });

  it('the RELATED entry lives 60 s from its connection creation unless errors refresh it', () => {
    const ct = new Conntrack();
    const e = tcpConnection(ct);
    ct.touch(e, CtDir.FORWARD, ACK, 52, T0 + 1); // established: 21600 s
    const t = tupleOf(v4(DEATHSTAR, XWING, ICMP, icmp4({ type: 3, code: 3 }, quotedSyn())));
    expect(ct.lookup(t, T0 + 50)).toBe(e); // refreshed to T0 + 110
    expect(ct.lookup(t, T0 + 109)).toBe(e); // refreshed to T0 + 169
    expect(ct.lookup(t, T0 + 170)).toBeNull();
    expect(ct.lookup(tup(XWING, 41000, DEATHSTAR, 80), T0 + 170)).toBe(e);
    expect(ct.relatedSize).toBe(0);
    checkInvariants(ct);
  });

  it('an unrelated error that is allowed creates a RELATED entry later errors of the pair find', () => {
    const ct = new Conntrack();
    const t = tupleOf(v4(ROUTER, XWING, ICMP, icmp4({ type: 11 }, quotedSyn())));
    expect(ct.lookup(t, T0)).toBeNull();
    const e = open(ct, t, T0, 0);
    expect(e.id).toBe(1);
    expect(find(ct, t, T0 + 1)).toEqual([e, CtDir.FORWARD]);
    expect(ct.lastRelated).toBe(true);
    checkInvariants(ct);
  });
});
