/**
 * VXLAN (UDP 8472 as Cilium's default, 4789 IANA) and Geneve (6081, options skipped by length;
 * inner Ethernet 0x6558 or IPv4/IPv6 directly): the main fields become the inner packet, the
 * outer addresses and ports move to outer*, and only one level is decoded.
 */
import { describe, expect, test } from 'vitest';
import { DecodeError, EncapType, EtherType, IpProto, PacketKind, TcpFlag } from '../../src/decode/packet.js';
import { formatIp } from '../../src/net/addr.js';
import {
  arp,
  decode,
  dstOf,
  ethernet,
  geneve,
  geneveOption,
  icmp4,
  ipv4,
  ipv6,
  srcOf,
  tcp,
  udp,
  vxlan,
  type Bytes,
} from '../helpers/decode-build.js';

const innerTcp = ipv4({ src: '10.244.1.5', dst: '10.244.2.7', proto: IpProto.TCP }, tcp({ sport: 51000, dport: 8080, flags: TcpFlag.SYN }));

function outer(dport: number, tunnel: Bytes, vlans: { id: number }[] = []): Uint8Array {
  return ethernet(EtherType.IPV4, ipv4({ src: '172.18.0.2', dst: '172.18.0.3', proto: IpProto.UDP }, udp({ sport: 40123, dport }, tunnel)), { vlans });
}

function expectOuter(p: ReturnType<typeof decode>, dport: number): void {
  expect(p.outerIpVersion).toBe(4);
  expect(formatIp(p.outerSrc, 4)).toBe('172.18.0.2');
  expect(formatIp(p.outerDst, 4)).toBe('172.18.0.3');
  expect([p.outerSport, p.outerDport]).toEqual([40123, dport]);
}

describe('VXLAN', () => {
  test.each([
    ['Cilium / Linux port 8472', 8472],
    ['IANA port 4789', 4789],
  ])('%s: inner TCP packet in the main fields', (_n, port) => {
    const p = decode(outer(port, vxlan(4096, ethernet(EtherType.IPV4, innerTcp))));
    expect(p.error).toBe(DecodeError.NONE);
    expect(p.encap).toBe(EncapType.VXLAN);
    expect(p.vni).toBe(4096);
    expectOuter(p, port);
    expect(p.ipVersion).toBe(4);
    expect(srcOf(p)).toBe('10.244.1.5');
    expect(dstOf(p)).toBe('10.244.2.7');
    expect(p.kind).toBe(PacketKind.TCP);
    expect([p.sport, p.dport]).toEqual([51000, 8080]);
    expect(p.tcpFlags).toBe(TcpFlag.SYN);
    // Offsets point into the inner packet: outer eth 14 + ip 20 + udp 8 + vxlan 8 + inner eth 14.
    expect(p.l3Offset).toBe(64);
  });

  test('inner IPv6 and inner ARP', () => {
    const in6 = ipv6({ src: 'fd00:10:244:1::5', dst: 'fd00:10:244:2::7', nextHeader: IpProto.UDP }, udp({ sport: 5000, dport: 53 }));
    const p6 = decode(outer(8472, vxlan(7, ethernet(EtherType.IPV6, in6))));
    expect(p6.ipVersion).toBe(6);
    expect(srcOf(p6)).toBe('fd00:10:244:1::5');
    expect(p6.outerIpVersion).toBe(4);
    const pa = decode(outer(8472, vxlan(7, ethernet(EtherType.ARP, arp({ op: 1, senderIp: '10.244.1.5', targetIp: '10.244.1.1' })))));
    expect(pa.kind).toBe(PacketKind.ARP);
    expect(pa.ipVersion).toBe(0);
    expect(srcOf(pa)).toBe('10.244.1.5');
    expect(pa.encap).toBe(EncapType.VXLAN);
  });

  test('the outer VLAN is kept; inner fields from the outer packet do not leak', () => {
    const inner = ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: IpProto.ICMP }, icmp4({ type: 8, id: 3, seq: 4 }));
    const p = decode(outer(4789, vxlan(1, ethernet(EtherType.IPV4, inner)), [{ id: 30 }]));
    expect(p.vlan0).toBe(30);
    expect(p.kind).toBe(PacketKind.ICMP);
    expect(p.hasPorts).toBe(false);
    expect([p.sport, p.dport]).toEqual([0, 0]);
    expect(p.payloadOffset).toBe(-1);
  });

  test('one level only: VXLAN inside VXLAN is inner UDP to 4789', () => {
    const innermost = ethernet(EtherType.IPV4, innerTcp);
    const middle = ethernet(EtherType.IPV4, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: IpProto.UDP }, udp({ sport: 1, dport: 4789 }, vxlan(2, innermost))));
    const p = decode(outer(8472, vxlan(1, middle)));
    expect(p.error).toBe(DecodeError.NONE);
    expect(p.vni).toBe(1);
    expect(p.kind).toBe(PacketKind.UDP);
    expect(p.dport).toBe(4789);
  });

  test('a UDP packet FROM port 8472 is not a tunnel (the kernel matches the destination)', () => {
    const bytes = ethernet(EtherType.IPV4, ipv4({ src: '172.18.0.2', dst: '172.18.0.3', proto: IpProto.UDP }, udp({ sport: 8472, dport: 40000 }, vxlan(1, ethernet(EtherType.IPV4, innerTcp)))));
    const p = decode(bytes);
    expect(p.encap).toBe(EncapType.NONE);
    expect(p.kind).toBe(PacketKind.UDP);
  });

  test('cut VXLAN header: TRUNCATED_ENCAP, main fields stay the outer UDP packet', () => {
    const bytes = outer(8472, vxlan(5, ethernet(EtherType.IPV4, innerTcp)));
    const p = decode(bytes, 1, { caplen: 14 + 20 + 8 + 5 });
    expect(p.error).toBe(DecodeError.TRUNCATED_ENCAP);
    expect(p.encap).toBe(EncapType.VXLAN);
    expect(p.vni).toBe(-1);
    expectOuter(p, 8472);
    expect(srcOf(p)).toBe('172.18.0.2');
  });

  test('VXLAN without the I flag is BAD_ENCAP_HEADER (vxlan_rcv drops it)', () => {
    const p = decode(outer(8472, vxlan(5, ethernet(EtherType.IPV4, innerTcp), 0x00)));
    expect(p.error).toBe(DecodeError.BAD_ENCAP_HEADER);
    expect(p.encap).toBe(EncapType.VXLAN);
  });

  test('cut inner frame: the error is the inner one, encap still reported', () => {
    const bytes = outer(8472, vxlan(5, ethernet(EtherType.IPV4, innerTcp)));
    const p = decode(bytes, 1, { caplen: 14 + 20 + 8 + 8 + 10 });
    expect(p.error).toBe(DecodeError.TRUNCATED_L2);
    expect(p.encap).toBe(EncapType.VXLAN);
    expect(p.vni).toBe(5);
    expect(p.ipVersion).toBe(0);
    const q = decode(bytes, 1, { caplen: 14 + 20 + 8 + 8 + 14 + 20 + 2 });
    expect(q.error).toBe(DecodeError.TRUNCATED_L4);
    expect(srcOf(q)).toBe('10.244.1.5');
  });
});

describe('Geneve', () => {
  test('inner Ethernet (0x6558, as Cilium sends) with options skipped by length', () => {
    const options = [...geneveOption(0x0103, 0x80, [0, 0, 0, 12]), ...geneveOption(0xffff, 1, [1, 2, 3, 4, 5, 6, 7, 8])];
    const p = decode(outer(6081, geneve(0x0a, EtherType.TEB, ethernet(EtherType.IPV4, innerTcp), options)));
    expect(p.error).toBe(DecodeError.NONE);
    expect(p.encap).toBe(EncapType.GENEVE);
    expect(p.vni).toBe(10);
    expectOuter(p, 6081);
    expect(srcOf(p)).toBe('10.244.1.5');
    expect([p.sport, p.dport]).toEqual([51000, 8080]);
  });

  test.each([
    ['IPv4', EtherType.IPV4, innerTcp, 4],
    ['IPv6', EtherType.IPV6, ipv6({ src: 'fd00::5', dst: 'fd00::7', nextHeader: IpProto.TCP }, tcp({ sport: 51000, dport: 8080, flags: TcpFlag.SYN })), 6],
  ])('inner %s directly (no inner Ethernet)', (_n, proto, inner, version) => {
    const p = decode(outer(6081, geneve(0xffffff, proto, inner)));
    expect(p.error).toBe(DecodeError.NONE);
    expect(p.vni).toBe(0xffffff);
    expect(p.ipVersion).toBe(version);
    expect(p.etherType).toBe(proto);
    expect([p.sport, p.dport]).toEqual([51000, 8080]);
  });

  test('an unknown protocol type is inner kind OTHER', () => {
    const p = decode(outer(6081, geneve(3, 0x88cc, [1, 2, 3, 4])));
    expect(p.error).toBe(DecodeError.NONE);
    expect(p.encap).toBe(EncapType.GENEVE);
    expect(p.kind).toBe(PacketKind.OTHER);
    expect(p.ipVersion).toBe(0);
    expect(p.etherType).toBe(0x88cc);
  });

  test('options cut by the snaplen are TRUNCATED_ENCAP; version 1 is BAD_ENCAP_HEADER', () => {
    const bytes = outer(6081, geneve(3, EtherType.IPV4, innerTcp, geneveOption(0x0103, 1, [0, 0, 0, 0])));
    expect(decode(bytes, 1, { caplen: 14 + 20 + 8 + 12 }).error).toBe(DecodeError.TRUNCATED_ENCAP);
    expect(decode(bytes, 1, { caplen: 14 + 20 + 8 + 4 }).error).toBe(DecodeError.TRUNCATED_ENCAP);
    expect(decode(outer(6081, geneve(3, EtherType.IPV4, innerTcp, [], 1))).error).toBe(DecodeError.BAD_ENCAP_HEADER);
  });
});
