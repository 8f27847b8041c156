/**
 * ICMPv4 / ICMPv6: type, code, echo id and seq; errors carry the quoted packet's tuple in the
 * icmpInner* fields (so conntrack can find the RELATED entry). ARP: sender and target protocol
 * addresses in src / dst.
 */
import { describe, expect, test } from 'vitest';
import { LinkType } from '../../src/capture/frame.js';
import { DecodeError, EtherType, IpProto, PacketKind, TcpFlag } from '../../src/decode/packet.js';
import { formatIp } from '../../src/net/addr.js';
import { arp, decode, dstOf, ethernet, extHeader, fragmentHeader, icmp4, icmp6, ipv4, ipv6, srcOf, tcp, udp } from '../helpers/decode-build.js';

const RAW = LinkType.RAW;

describe('ICMPv4', () => {
  test.each([
    ['echo request', 8],
    ['echo reply', 0],
  ])('%s: id and seq', (_n, type) => {
    const p = decode(ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: IpProto.ICMP }, icmp4({ type, id: 1292, seq: 7 }, new Array<number>(56).fill(0))), RAW);
    expect(p.error).toBe(DecodeError.NONE);
    expect(p.kind).toBe(PacketKind.ICMP);
    expect(p.icmpType).toBe(type);
    expect(p.icmpCode).toBe(0);
    expect(p.icmpId).toBe(1292);
    expect(p.icmpSeq).toBe(7);
    expect(p.hasPorts).toBe(false);
    expect(p.l4Length).toBe(64);
  });

  test.each([
    ['port unreachable', 3, 3],
    ['fragmentation needed', 3, 4],
    ['time exceeded', 11, 0],
    ['parameter problem', 12, 0],
    ['redirect', 5, 1],
    ['source quench', 4, 0],
  ])('error %s quotes the offending UDP tuple', (_n, type, code) => {
    const quoted = ipv4({ src: '10.0.0.2', dst: '10.96.0.10', proto: IpProto.UDP }, udp({ sport: 41000, dport: 53 }, []));
    const p = decode(ipv4({ src: '10.96.0.10', dst: '10.0.0.2', proto: IpProto.ICMP }, icmp4({ type, code }, quoted)), RAW);
    expect(p.error).toBe(DecodeError.NONE);
    expect([p.icmpType, p.icmpCode]).toEqual([type, code]);
    expect(p.icmpId).toBe(-1);
    expect(p.hasIcmpInner).toBe(true);
    expect(p.icmpInnerProto).toBe(IpProto.UDP);
    expect(formatIp(p.icmpInnerSrc, 4)).toBe('10.0.0.2');
    expect(formatIp(p.icmpInnerDst, 4)).toBe('10.96.0.10');
    expect([p.icmpInnerSport, p.icmpInnerDport]).toEqual([41000, 53]);
    // The outer addresses stay the ICMP packet's own.
    expect(srcOf(p)).toBe('10.96.0.10');
  });

  test('a quoted TCP header with only its first 8 bytes (RFC 792 minimum)', () => {
    const seg = tcp({ sport: 51000, dport: 443, flags: TcpFlag.SYN }).slice(0, 8);
    const quoted = ipv4({ src: '10.0.0.2', dst: '1.1.1.1', proto: IpProto.TCP, totalLength: 60 }, seg);
    const p = decode(ipv4({ src: '10.0.0.254', dst: '10.0.0.2', proto: IpProto.ICMP }, icmp4({ type: 11 }, quoted)), RAW);
    expect(p.icmpInnerProto).toBe(IpProto.TCP);
    expect([p.icmpInnerSport, p.icmpInnerDport]).toEqual([51000, 443]);
  });

  test('a quoted echo request puts the identifier where Cilium ct_extract_ports4 does (dport)', () => {
    const quoted = ipv4({ src: '10.0.0.2', dst: '8.8.8.8', proto: IpProto.ICMP }, icmp4({ type: 8, id: 4242, seq: 1 }));
    const p = decode(ipv4({ src: '10.0.0.254', dst: '10.0.0.2', proto: IpProto.ICMP }, icmp4({ type: 11 }, quoted)), RAW);
    expect(p.icmpInnerProto).toBe(IpProto.ICMP);
    expect([p.icmpInnerSport, p.icmpInnerDport]).toEqual([0, 4242]);
  });

  test('a quote too short for an IP header leaves hasIcmpInner false without an error', () => {
    const p = decode(ipv4({ src: '10.0.0.254', dst: '10.0.0.2', proto: IpProto.ICMP }, icmp4({ type: 3, code: 1 }, [0x45, 0, 0])), RAW);
    expect(p.error).toBe(DecodeError.NONE);
    expect(p.hasIcmpInner).toBe(false);
  });

  test('cut ICMP header: type/code kept when present, TRUNCATED_L4', () => {
    const bytes = ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: IpProto.ICMP }, icmp4({ type: 8, id: 1, seq: 2 }));
    const p = decode(bytes, RAW, { caplen: 24 });
    expect(p.error).toBe(DecodeError.TRUNCATED_L4);
    expect([p.icmpType, p.icmpCode]).toEqual([8, 0]);
    expect(p.icmpId).toBe(-1);
    const q = decode(bytes, RAW, { caplen: 21 });
    expect(q.error).toBe(DecodeError.TRUNCATED_L4);
    expect(q.icmpType).toBe(-1);
  });
});

describe('ICMPv6', () => {
  const hdr = { src: 'fe80::1', dst: 'ff02::1', nextHeader: IpProto.ICMPV6 };

  test.each([
    ['echo request', 128],
    ['echo reply', 129],
  ])('%s: id and seq', (_n, type) => {
    const p = decode(ipv6(hdr, icmp6({ type, id: 99, seq: 3 })), RAW);
    expect(p.kind).toBe(PacketKind.ICMPV6);
    expect([p.icmpType, p.icmpCode, p.icmpId, p.icmpSeq]).toEqual([type, 0, 99, 3]);
  });

  test('neighbour solicitation: type and code, no echo fields', () => {
    const p = decode(ipv6(hdr, icmp6({ type: 135 }, new Array<number>(16).fill(0))), RAW);
    expect(p.error).toBe(DecodeError.NONE);
    expect([p.icmpType, p.icmpCode, p.icmpId]).toEqual([135, 0, -1]);
  });

  test('behind a hop-by-hop header (MLD reports)', () => {
    const p = decode(ipv6({ ...hdr, nextHeader: IpProto.HOPOPTS }, extHeader(IpProto.ICMPV6, icmp6({ type: 143 }))), RAW);
    expect(p.kind).toBe(PacketKind.ICMPV6);
    expect(p.icmpType).toBe(143);
  });

  test.each([
    ['destination unreachable', 1, 4],
    ['packet too big', 2, 0],
    ['time exceeded', 3, 0],
    ['parameter problem', 4, 1],
  ])('error %s quotes the offending tuple', (_n, type, code) => {
    const quoted = ipv6({ src: 'fd00::2', dst: 'fd00::99', nextHeader: IpProto.TCP }, tcp({ sport: 34000, dport: 8080, flags: TcpFlag.SYN }));
    const p = decode(ipv6({ src: 'fd00::99', dst: 'fd00::2', nextHeader: IpProto.ICMPV6 }, icmp6({ type, code }, quoted)), RAW);
    expect([p.icmpType, p.icmpCode]).toEqual([type, code]);
    expect(p.hasIcmpInner).toBe(true);
    expect(p.icmpInnerProto).toBe(IpProto.TCP);
    expect(formatIp(p.icmpInnerSrc, 6)).toBe('fd00::2');
    expect(formatIp(p.icmpInnerDst, 6)).toBe('fd00::99');
    expect([p.icmpInnerSport, p.icmpInnerDport]).toEqual([34000, 8080]);
  });

  test('a quoted packet with a fragment header still yields its ports', () => {
    const quoted = ipv6({ src: 'fd00::2', dst: 'fd00::99', nextHeader: IpProto.FRAGMENT }, fragmentHeader(IpProto.UDP, { offset: 0, more: true, id: 5 }, udp({ sport: 7, dport: 8 }, [])));
    const p = decode(ipv6({ src: 'fd00::99', dst: 'fd00::2', nextHeader: IpProto.ICMPV6 }, icmp6({ type: 2 }, quoted)), RAW);
    expect(p.icmpInnerProto).toBe(IpProto.UDP);
    expect([p.icmpInnerSport, p.icmpInnerDport]).toEqual([7, 8]);
  });
});

describe('ARP', () => {
  test('request and reply: sender protocol address in src, target in dst', () => {
    const req = decode(ethernet(EtherType.ARP, arp({ op: 1, senderIp: '192.168.203.5', targetIp: '192.168.203.3' })));
    expect(req.error).toBe(DecodeError.NONE);
    expect(req.kind).toBe(PacketKind.ARP);
    expect(req.arpOp).toBe(1);
    expect(req.arpHasAddrs).toBe(true);
    expect(req.ipVersion).toBe(0);
    expect(srcOf(req)).toBe('192.168.203.5');
    expect(dstOf(req)).toBe('192.168.203.3');
    const rep = decode(ethernet(EtherType.ARP, arp({ op: 2, senderIp: '192.168.203.3', targetIp: '192.168.203.5' })));
    expect(rep.arpOp).toBe(2);
    expect(srcOf(rep)).toBe('192.168.203.3');
  });

  test('cut ARP packets are TRUNCATED_ARP', () => {
    const bytes = ethernet(EtherType.ARP, arp({ op: 1, senderIp: '10.0.0.1', targetIp: '10.0.0.2' }));
    const a = decode(bytes, LinkType.ETHERNET, { caplen: 14 + 20 });
    expect(a.error).toBe(DecodeError.TRUNCATED_ARP);
    expect(a.arpOp).toBe(1);
    expect(a.arpHasAddrs).toBe(false);
    expect(decode(bytes, LinkType.ETHERNET, { caplen: 14 + 6 }).error).toBe(DecodeError.TRUNCATED_ARP);
  });

  test('non-IPv4 protocol addresses are not put into src/dst', () => {
    const bytes = ethernet(EtherType.ARP, arp({ op: 1, senderIp: '10.0.0.1', targetIp: '10.0.0.2' }));
    bytes[14 + 2] = 0x86; // protocol type 0x86dd
    bytes[14 + 3] = 0xdd;
    const p = decode(bytes);
    expect(p.kind).toBe(PacketKind.ARP);
    expect(p.arpHasAddrs).toBe(false);
  });
});
