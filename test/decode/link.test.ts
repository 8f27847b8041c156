/**
 * Link layers: Ethernet with 802.1Q / QinQ tags, Linux cooked v1 and v2, BSD loopback (NULL in
 * either byte order, LOOP), raw IP link types. Each case carries the same UDP datagram, so the
 * check is that every link header leads to the same decoded IP packet.
 */
import { describe, expect, test } from 'vitest';
import { LinkType } from '../../src/capture/frame.js';
import { DecodeError, EtherType, IpProto, PacketKind } from '../../src/decode/packet.js';
import { MAX_VLAN_TAGS } from '../../src/decode/decode.js';
import { decode, dstOf, ethernet, ipv4, ipv6, loopback, sll, sll2, srcOf, udp } from '../helpers/decode-build.js';

const dgram4 = ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: IpProto.UDP }, udp({ sport: 5353, dport: 53 }, [1, 2, 3]));
const dgram6 = ipv6({ src: 'fd00::1', dst: 'fd00::2', nextHeader: IpProto.UDP }, udp({ sport: 5353, dport: 53 }, [1, 2, 3]));

function expectDgram4(p: ReturnType<typeof decode>): void {
  expect(p.error).toBe(DecodeError.NONE);
  expect(p.ipVersion).toBe(4);
  expect(srcOf(p)).toBe('10.0.0.1');
  expect(dstOf(p)).toBe('10.0.0.2');
  expect(p.kind).toBe(PacketKind.UDP);
  expect([p.sport, p.dport]).toEqual([5353, 53]);
  expect(p.payloadLength).toBe(3);
}

function expectDgram6(p: ReturnType<typeof decode>): void {
  expect(p.error).toBe(DecodeError.NONE);
  expect(p.ipVersion).toBe(6);
  expect(srcOf(p)).toBe('fd00::1');
  expect(dstOf(p)).toBe('fd00::2');
  expect(p.kind).toBe(PacketKind.UDP);
  expect([p.sport, p.dport]).toEqual([5353, 53]);
}

describe('Ethernet', () => {
  test('untagged IPv4 and IPv6', () => {
    const p4 = decode(ethernet(EtherType.IPV4, dgram4));
    expectDgram4(p4);
    expect(p4.linkType).toBe(LinkType.ETHERNET);
    expect(p4.etherType).toBe(EtherType.IPV4);
    expect(p4.vlan0).toBe(-1);
    expect(p4.l3Offset).toBe(14);
    expectDgram6(decode(ethernet(EtherType.IPV6, dgram6)));
  });

  test('Ethernet minimum-size padding is not taken as payload', () => {
    const frame = [...ethernet(EtherType.IPV4, dgram4), ...new Array<number>(20).fill(0)];
    const p = decode(frame);
    expectDgram4(p);
    expect(p.payloadWireLength).toBe(3);
  });

  test.each([
    ['802.1Q', [{ id: 100 }], 100, -1],
    ['QinQ 802.1ad outer, 802.1Q inner', [{ tpid: EtherType.QINQ, id: 3000 }, { id: 42 }], 3000, 42],
    ['old QinQ 0x9100', [{ tpid: EtherType.QINQ_OLD, id: 7 }, { id: 4095 }], 7, 4095],
    ['three tags record the first two', [{ tpid: EtherType.QINQ, id: 1 }, { id: 2 }, { id: 3 }], 1, 2],
  ])('VLAN tags: %s', (_name, vlans, outer, inner) => {
    const p = decode(ethernet(EtherType.IPV4, dgram4, { vlans }));
    expectDgram4(p);
    expect(p.vlan0).toBe(outer);
    expect(p.vlan1).toBe(inner);
    expect(p.l3Offset).toBe(14 + 4 * vlans.length);
  });

  test('the priority bits are not part of the VLAN id', () => {
    const p = decode(ethernet(EtherType.IPV4, dgram4, { vlans: [{ id: 5, pcp: 7 }] }));
    expect(p.vlan0).toBe(5);
  });

  test(`more than ${MAX_VLAN_TAGS} tags is TOO_MANY_HEADERS`, () => {
    const vlans = Array.from({ length: MAX_VLAN_TAGS + 1 }, (_, i) => ({ id: i + 1 }));
    const p = decode(ethernet(EtherType.IPV4, dgram4, { vlans }));
    expect(p.error).toBe(DecodeError.TOO_MANY_HEADERS);
    expect(p.vlan0).toBe(1);
    const ok = decode(ethernet(EtherType.IPV4, dgram4, { vlans: vlans.slice(0, MAX_VLAN_TAGS) }));
    expectDgram4(ok);
  });

  test('a cut VLAN tag is TRUNCATED_L2', () => {
    const bytes = ethernet(EtherType.IPV4, dgram4, { vlans: [{ id: 9 }] });
    const p = decode(bytes, LinkType.ETHERNET, { caplen: 16 });
    expect(p.error).toBe(DecodeError.TRUNCATED_L2);
  });

  test('a header shorter than 14 bytes is TRUNCATED_L2', () => {
    const p = decode(ethernet(EtherType.IPV4, dgram4), LinkType.ETHERNET, { caplen: 13 });
    expect(p.error).toBe(DecodeError.TRUNCATED_L2);
    expect(p.ipVersion).toBe(0);
  });

  test('an unknown EtherType is kind OTHER without an error', () => {
    const p = decode(ethernet(0x88cc, [1, 2, 3, 4]));
    expect(p.error).toBe(DecodeError.NONE);
    expect(p.kind).toBe(PacketKind.OTHER);
    expect(p.etherType).toBe(0x88cc);
    expect(p.ipVersion).toBe(0);
  });
});

describe('Linux cooked captures', () => {
  test('SLL v1 (113): packet type and protocol', () => {
    const p = decode(sll(EtherType.IPV4, dgram4, { packetType: 4 }), LinkType.LINUX_SLL);
    expectDgram4(p);
    expect(p.sllPacketType).toBe(4);
    expect(p.l3Offset).toBe(16);
    expectDgram6(decode(sll(EtherType.IPV6, dgram6), LinkType.LINUX_SLL));
  });

  test('SLL v2 (276): interface index and packet type', () => {
    const p = decode(sll2(EtherType.IPV6, dgram6, { ifIndex: 0x01020304, packetType: 0 }), LinkType.LINUX_SLL2);
    expectDgram6(p);
    expect(p.ifIndex).toBe(0x01020304);
    expect(p.sllPacketType).toBe(0);
    expect(p.l3Offset).toBe(20);
    expectDgram4(decode(sll2(EtherType.IPV4, dgram4), LinkType.LINUX_SLL2));
  });

  test('a VLAN tag libpcap re-inserted after the cooked header', () => {
    const tagged = [0x00, 0x64, 0x08, 0x00, ...dgram4];
    const p = decode(sll2(EtherType.VLAN, tagged), LinkType.LINUX_SLL2);
    expectDgram4(p);
    expect(p.vlan0).toBe(100);
  });

  test('pseudo protocols below 0x0600 and netlink are not EtherTypes', () => {
    const llc = decode(sll(0x0004, dgram4), LinkType.LINUX_SLL);
    expect(llc.kind).toBe(PacketKind.OTHER);
    expect(llc.ipVersion).toBe(0);
    const netlink = decode(sll(0x0800, dgram4, { hatype: 824 }), LinkType.LINUX_SLL);
    expect(netlink.ipVersion).toBe(0);
    expect(netlink.error).toBe(DecodeError.NONE);
  });

  test.each([
    ['SLL', LinkType.LINUX_SLL, 15],
    ['SLL2', LinkType.LINUX_SLL2, 19],
  ])('%s header cut is TRUNCATED_L2', (_n, lt, caplen) => {
    const bytes = lt === LinkType.LINUX_SLL ? sll(EtherType.IPV4, dgram4) : sll2(EtherType.IPV4, dgram4);
    expect(decode(bytes, lt, { caplen }).error).toBe(DecodeError.TRUNCATED_L2);
  });
});

describe('BSD loopback', () => {
  test.each([
    ['AF_INET little-endian', 2, true, 4],
    ['AF_INET big-endian', 2, false, 4],
    ['Linux AF_INET6 10', 10, true, 6],
    ['NetBSD/OpenBSD AF_INET6 24', 24, false, 6],
    ['FreeBSD AF_INET6 28', 28, true, 6],
    ['macOS AF_INET6 30', 30, false, 6],
  ])('NULL (0): %s', (_name, family, le, version) => {
    const p = decode(loopback(family, version === 4 ? dgram4 : dgram6, le), LinkType.NULL);
    if (version === 4) expectDgram4(p);
    else expectDgram6(p);
    expect(p.l3Offset).toBe(4);
  });

  test('LOOP (108) is always network byte order', () => {
    expectDgram4(decode(loopback(2, dgram4, false), LinkType.LOOP));
    expectDgram6(decode(loopback(30, dgram6, false), LinkType.LOOP));
    // Read as network order, a little-endian 2 is 0x02000000: not a family hubcap knows.
    const p = decode(loopback(2, dgram4, true), LinkType.LOOP);
    expect(p.ipVersion).toBe(0);
    expect(p.kind).toBe(PacketKind.OTHER);
  });

  test('an unknown family is OTHER; a cut header is TRUNCATED_L2', () => {
    expect(decode(loopback(7, dgram4, true), LinkType.NULL).ipVersion).toBe(0);
    expect(decode(loopback(2, dgram4, true), LinkType.NULL, { caplen: 3 }).error).toBe(DecodeError.TRUNCATED_L2);
  });
});

describe('raw IP', () => {
  test('RAW (101) picks the family from the version nibble', () => {
    expectDgram4(decode(dgram4, LinkType.RAW));
    expectDgram6(decode(dgram6, LinkType.RAW));
    expect(decode([0x50, ...dgram4.slice(1)], LinkType.RAW).error).toBe(DecodeError.BAD_IP_VERSION);
    expect(decode([], LinkType.RAW).error).toBe(DecodeError.TRUNCATED_IP);
  });

  test('IPV4 (228) and IPV6 (229)', () => {
    const p4 = decode(dgram4, LinkType.IPV4);
    expectDgram4(p4);
    expect(p4.l3Offset).toBe(0);
    expectDgram6(decode(dgram6, LinkType.IPV6));
    // The link type fixes the family: an IPv6 packet on an IPv4 link is a bad version.
    expect(decode(dgram6, LinkType.IPV4).error).toBe(DecodeError.BAD_IP_VERSION);
  });

  test('an unknown link type is UNSUPPORTED_LINKTYPE', () => {
    const p = decode(dgram4, 147);
    expect(p.error).toBe(DecodeError.UNSUPPORTED_LINKTYPE);
    expect(p.linkType).toBe(147);
  });

  test('offsets are absolute within the reader chunk', () => {
    const p = decode(ethernet(EtherType.IPV4, dgram4), LinkType.ETHERNET, { offsetInChunk: 100 });
    expectDgram4(p);
    expect(p.l3Offset).toBe(114);
    expect(p.l4Offset).toBe(134);
    expect(p.payloadOffset).toBe(142);
  });
});
