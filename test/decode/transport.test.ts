/**
 * TCP (flags including NS/ECE/CWR, data offset, payload), UDP and SCTP ports, and what a short
 * snaplen leaves of each: ports when present, TRUNCATED_L4 when the header is cut.
 */
import { describe, expect, test } from 'vitest';
import { LinkType } from '../../src/capture/frame.js';
import { DecodeError, IpProto, PacketKind, TcpFlag } from '../../src/decode/packet.js';
import { decode, ipv4, ipv6, sctp, tcp, udp } from '../helpers/decode-build.js';

const RAW = LinkType.RAW;
const ip4 = (proto: number, l4: Uint8Array) => ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto }, l4);
const ip6 = (proto: number, l4: Uint8Array) => ipv6({ src: 'fd00::1', dst: 'fd00::2', nextHeader: proto }, l4);

describe('TCP', () => {
  test.each([
    ['SYN', TcpFlag.SYN],
    ['SYN-ACK', TcpFlag.SYN | TcpFlag.ACK],
    ['FIN-ACK', TcpFlag.FIN | TcpFlag.ACK],
    ['RST', TcpFlag.RST],
    ['PSH-ACK-URG', TcpFlag.PSH | TcpFlag.ACK | TcpFlag.URG],
    ['ECN setup SYN (ECE, CWR)', TcpFlag.SYN | TcpFlag.ECE | TcpFlag.CWR],
    ['NS (byte 12 bit 0)', TcpFlag.NS | TcpFlag.ACK],
    ['all nine', 0x1ff],
  ])('flags: %s', (_n, flags) => {
    const p = decode(ip4(IpProto.TCP, tcp({ sport: 1, dport: 2, flags })), RAW);
    expect(p.error).toBe(DecodeError.NONE);
    expect(p.tcpFlags).toBe(flags);
  });

  test('seq, ack, window, options and payload', () => {
    const options = [2, 4, 5, 0xb4, 1, 1, 1, 0]; // MSS 1460, NOPs, EOL
    const p = decode(
      ip4(IpProto.TCP, tcp({ sport: 33779, dport: 53, flags: TcpFlag.PSH | TcpFlag.ACK, seq: 0xfffffff0, ack: 7, window: 501, options }, [1, 2, 3, 4, 5])),
      RAW,
    );
    expect(p.kind).toBe(PacketKind.TCP);
    expect(p.hasPorts).toBe(true);
    expect([p.sport, p.dport]).toEqual([33779, 53]);
    expect(p.tcpSeq).toBe(0xfffffff0);
    expect(p.tcpAck).toBe(7);
    expect(p.tcpWindow).toBe(501);
    expect(p.l4Offset).toBe(20);
    expect(p.payloadOffset).toBe(20 + 28);
    expect(p.payloadLength).toBe(5);
    expect(p.payloadWireLength).toBe(5);
  });

  test('payload cut by the snaplen: captured and wire lengths differ', () => {
    const bytes = ip4(IpProto.TCP, tcp({ sport: 1, dport: 2, flags: TcpFlag.ACK }, new Array<number>(100).fill(7)));
    const p = decode(bytes, RAW, { caplen: 60 });
    expect(p.error).toBe(DecodeError.NONE);
    expect(p.payloadLength).toBe(20);
    expect(p.payloadWireLength).toBe(100);
  });

  test.each([
    ['data offset 16 bytes', 16],
    ['data offset past the packet', 60],
  ])('BAD_TCP_DATA_OFFSET: %s', (_n, dataOffset) => {
    const p = decode(ip4(IpProto.TCP, tcp({ sport: 1, dport: 2, flags: TcpFlag.SYN, dataOffset })), RAW);
    expect(p.error).toBe(DecodeError.BAD_TCP_DATA_OFFSET);
    expect(p.hasPorts).toBe(true);
    expect(p.tcpFlags).toBe(TcpFlag.SYN);
  });

  test('options cut by the snaplen are TRUNCATED_L4 with ports and flags kept', () => {
    const bytes = ip4(IpProto.TCP, tcp({ sport: 5, dport: 6, flags: TcpFlag.SYN, options: new Array<number>(20).fill(1) }));
    const p = decode(bytes, RAW, { caplen: 20 + 24 });
    expect(p.error).toBe(DecodeError.TRUNCATED_L4);
    expect([p.sport, p.dport]).toEqual([5, 6]);
    expect(p.tcpFlags).toBe(TcpFlag.SYN);
  });

  test.each([
    [3, false, -1],
    [4, true, -1],
    [13, true, -1],
    [14, true, TcpFlag.SYN | TcpFlag.ACK],
  ])('snaplen leaves %i header bytes: ports %s', (n, ports, flags) => {
    const p = decode(ip4(IpProto.TCP, tcp({ sport: 80, dport: 9999, flags: TcpFlag.SYN | TcpFlag.ACK })), RAW, { caplen: 20 + n });
    expect(p.error).toBe(DecodeError.TRUNCATED_L4);
    expect(p.kind).toBe(PacketKind.TCP);
    expect(p.hasPorts).toBe(ports);
    if (ports) expect([p.sport, p.dport]).toEqual([80, 9999]);
    expect(p.tcpFlags).toBe(flags < 0 ? 0 : flags);
  });
});

describe('UDP and SCTP', () => {
  test('UDP over IPv4 and IPv6', () => {
    for (const wrap of [ip4, ip6]) {
      const p = decode(wrap(IpProto.UDP, udp({ sport: 43966, dport: 53 }, [1, 2, 3, 4, 5, 6])), RAW);
      expect(p.error).toBe(DecodeError.NONE);
      expect(p.kind).toBe(PacketKind.UDP);
      expect([p.sport, p.dport]).toEqual([43966, 53]);
      expect(p.payloadLength).toBe(6);
    }
  });

  test('UDP cut: ports with 4 bytes, TRUNCATED_L4 either way', () => {
    const bytes = ip4(IpProto.UDP, udp({ sport: 1000, dport: 2000 }, [1]));
    const four = decode(bytes, RAW, { caplen: 24 });
    expect(four.error).toBe(DecodeError.TRUNCATED_L4);
    expect(four.hasPorts).toBe(true);
    expect(four.dport).toBe(2000);
    const two = decode(bytes, RAW, { caplen: 22 });
    expect(two.error).toBe(DecodeError.TRUNCATED_L4);
    expect(two.hasPorts).toBe(false);
  });

  test('SCTP ports (RFC 9260 common header)', () => {
    for (const wrap of [ip4, ip6]) {
      const p = decode(wrap(IpProto.SCTP, sctp({ sport: 36412, dport: 38412 })), RAW);
      expect(p.error).toBe(DecodeError.NONE);
      expect(p.kind).toBe(PacketKind.SCTP);
      expect([p.sport, p.dport]).toEqual([36412, 38412]);
      expect(p.payloadOffset).toBe(p.l4Offset + 12);
    }
    const cut = decode(ip4(IpProto.SCTP, sctp({ sport: 1, dport: 2 })), RAW, { caplen: 28 });
    expect(cut.error).toBe(DecodeError.TRUNCATED_L4);
    expect(cut.hasPorts).toBe(true);
  });
});
