/**
 * IPv4 (options, fragments, lengths) and IPv6 (extension-header walk as Cilium's
 * ipv6_hdrlen_offset, fragments, ESP / no-next-header).
 */
import { describe, expect, test } from 'vitest';
import { LinkType } from '../../src/capture/frame.js';
import { IPV6_MAX_HEADERS } from '../../src/decode/decode.js';
import { DecodeError, IpProto, PacketKind, TcpFlag } from '../../src/decode/packet.js';
import {
  authHeader,
  decode,
  dstOf,
  extHeader,
  fragmentHeader,
  ipv4,
  ipv6,
  routingHeader,
  srcOf,
  tcp,
  udp,
} from '../helpers/decode-build.js';

const RAW = LinkType.RAW;
const seg = tcp({ sport: 40000, dport: 443, flags: TcpFlag.SYN }, [9, 9, 9, 9]);

describe('IPv4', () => {
  test('header fields', () => {
    const p = decode(ipv4({ src: '192.0.2.1', dst: '198.51.100.7', proto: IpProto.TCP, ttl: 17, id: 0xbeef }, seg), RAW);
    expect(p.error).toBe(DecodeError.NONE);
    expect(srcOf(p)).toBe('192.0.2.1');
    expect(dstOf(p)).toBe('198.51.100.7');
    // IPv4-mapped words, family beside them.
    expect(Array.from(p.src)).toEqual([0, 0, 0xffff, 0xc0000201]);
    expect(p.ipVersion).toBe(4);
    expect(p.ipProto).toBe(IpProto.TCP);
    expect(p.ttl).toBe(17);
    expect(p.ipId).toBe(0xbeef);
    expect(p.ipLength).toBe(20 + seg.length);
    expect(p.isFragment).toBe(false);
    expect(p.kind).toBe(PacketKind.TCP);
  });

  test('options are skipped by the header length', () => {
    // Router alert (4 bytes) + NOP padding to 8 bytes.
    const options = [0x94, 0x04, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00];
    const p = decode(ipv4({ src: '10.1.1.1', dst: '10.2.2.2', proto: IpProto.TCP, options }, seg), RAW);
    expect(p.error).toBe(DecodeError.NONE);
    expect(p.l4Offset).toBe(28);
    expect([p.sport, p.dport]).toEqual([40000, 443]);
  });

  test('a first fragment carries ports; later fragments are IP_OTHER without ports', () => {
    const first = decode(ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: IpProto.UDP, id: 77, mf: true }, udp({ sport: 1, dport: 2 }, new Array<number>(32).fill(0))), RAW);
    expect(first.isFragment).toBe(true);
    expect(first.fragOffset).toBe(0);
    expect(first.fragMore).toBe(true);
    expect(first.fragId).toBe(77);
    expect(first.kind).toBe(PacketKind.UDP);
    expect(first.hasPorts).toBe(true);
    expect([first.sport, first.dport]).toEqual([1, 2]);

    const later = decode(ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: IpProto.UDP, id: 77, fragOffset: 40 }, new Array<number>(16).fill(0)), RAW);
    expect(later.error).toBe(DecodeError.NONE);
    expect(later.isFragment).toBe(true);
    expect(later.fragOffset).toBe(40);
    expect(later.fragMore).toBe(false);
    expect(later.kind).toBe(PacketKind.IP_OTHER);
    expect(later.ipProto).toBe(IpProto.UDP);
    expect(later.hasPorts).toBe(false);
    expect(later.l4Length).toBe(16);
  });

  test('DF alone is not a fragment', () => {
    const p = decode(ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: IpProto.TCP, df: true }, seg), RAW);
    expect(p.isFragment).toBe(false);
  });

  test('total length 0 (TSO super-packet) runs to the end of the frame', () => {
    const p = decode(ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: IpProto.TCP, totalLength: 0 }, seg), RAW);
    expect(p.error).toBe(DecodeError.NONE);
    expect(p.payloadWireLength).toBe(4);
  });

  test('an unknown protocol is IP_OTHER with addresses', () => {
    const p = decode(ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 47 }, [0, 0, 0x08, 0x00]), RAW);
    expect(p.error).toBe(DecodeError.NONE);
    expect(p.kind).toBe(PacketKind.IP_OTHER);
    expect(p.ipProto).toBe(47);
    expect(p.l4Length).toBe(4);
  });

  test.each([
    ['version 5', { version: 5 }, DecodeError.BAD_IP_VERSION],
    ['IHL 4 (16 bytes)', { ihl: 4 }, DecodeError.BAD_IP_HEADER_LENGTH],
    ['total length below the header', { totalLength: 19 }, DecodeError.BAD_IP_TOTAL_LENGTH],
    ['total length past the frame', { totalLength: 200 }, DecodeError.BAD_IP_TOTAL_LENGTH],
  ])('malformed header: %s', (_n, over, err) => {
    const p = decode(ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: IpProto.TCP, ...over }, seg), RAW);
    expect(p.error).toBe(err);
    expect(p.hasPorts).toBe(false);
  });

  test('addresses survive a bad header length (fields decoded so far)', () => {
    const p = decode(ipv4({ src: '10.9.9.9', dst: '10.0.0.2', proto: IpProto.TCP, ihl: 3 }, seg), RAW);
    expect(p.error).toBe(DecodeError.BAD_IP_HEADER_LENGTH);
    expect(srcOf(p)).toBe('10.9.9.9');
  });

  test('snaplen inside the header or its options is TRUNCATED_IP', () => {
    const bytes = ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: IpProto.TCP, options: [1, 1, 1, 0] }, seg);
    expect(decode(bytes, RAW, { caplen: 19 }).error).toBe(DecodeError.TRUNCATED_IP);
    const inOptions = decode(bytes, RAW, { caplen: 22 });
    expect(inOptions.error).toBe(DecodeError.TRUNCATED_IP);
    expect(dstOf(inOptions)).toBe('10.0.0.2');
  });
});

describe('IPv6', () => {
  const v6 = { src: '2001:db8::1', dst: '2001:db8:0:1::53' };

  test('header fields and RFC 5952 text', () => {
    const p = decode(ipv6({ ...v6, nextHeader: IpProto.TCP, hopLimit: 3 }, seg), RAW);
    expect(p.error).toBe(DecodeError.NONE);
    expect(srcOf(p)).toBe('2001:db8::1');
    expect(dstOf(p)).toBe('2001:db8:0:1::53');
    expect(p.ttl).toBe(3);
    expect(p.ipLength).toBe(40 + seg.length);
    expect(p.l4Offset).toBe(40);
    expect([p.sport, p.dport]).toEqual([40000, 443]);
  });

  test('hop-by-hop, routing, destination options and AH are walked', () => {
    const chain = extHeader(IpProto.ROUTING, routingHeader(IpProto.DSTOPTS, extHeader(IpProto.AH, authHeader(IpProto.TCP, seg), 1)));
    const p = decode(ipv6({ ...v6, nextHeader: IpProto.HOPOPTS }, chain), RAW);
    expect(p.error).toBe(DecodeError.NONE);
    expect(p.ipProto).toBe(IpProto.TCP);
    expect(p.kind).toBe(PacketKind.TCP);
    // 8 (HBH) + 8 (routing) + 16 (dest opts, len 1) + 24 (AH)
    expect(p.l4Offset).toBe(40 + 8 + 8 + 16 + 24);
    expect([p.sport, p.dport]).toEqual([40000, 443]);
  });

  test(`more than IPV6_MAX_HEADERS (${IPV6_MAX_HEADERS}) extension headers is TOO_MANY_HEADERS`, () => {
    let payload: Uint8Array = seg;
    let nh: number = IpProto.TCP;
    for (let i = 0; i < IPV6_MAX_HEADERS + 1; i++) {
      payload = extHeader(nh, payload);
      nh = IpProto.DSTOPTS;
    }
    const p = decode(ipv6({ ...v6, nextHeader: nh }, payload), RAW);
    expect(p.error).toBe(DecodeError.TOO_MANY_HEADERS);
    expect(p.hasPorts).toBe(false);
    // Exactly the maximum is fine.
    const ok = decode(ipv6({ ...v6, nextHeader: IpProto.DSTOPTS }, payload.slice(8)), RAW);
    expect(ok.error).toBe(DecodeError.NONE);
    expect(ok.dport).toBe(443);
  });

  test('fragment header: first fragment decoded, later fragment IP_OTHER', () => {
    const first = decode(ipv6({ ...v6, nextHeader: IpProto.FRAGMENT }, fragmentHeader(IpProto.UDP, { offset: 0, more: true, id: 0xdeadbeef }, udp({ sport: 9, dport: 10 }, [0, 0, 0, 0, 0, 0, 0, 0]))), RAW);
    expect(first.error).toBe(DecodeError.NONE);
    expect(first.isFragment).toBe(true);
    expect(first.fragId).toBe(0xdeadbeef);
    expect(first.fragMore).toBe(true);
    expect(first.kind).toBe(PacketKind.UDP);
    expect(first.dport).toBe(10);

    const later = decode(ipv6({ ...v6, nextHeader: IpProto.FRAGMENT }, fragmentHeader(IpProto.UDP, { offset: 1232, more: false, id: 0xdeadbeef }, [1, 2, 3, 4, 5, 6, 7, 8])), RAW);
    expect(later.error).toBe(DecodeError.NONE);
    expect(later.isFragment).toBe(true);
    expect(later.fragOffset).toBe(1232);
    expect(later.kind).toBe(PacketKind.IP_OTHER);
    expect(later.ipProto).toBe(IpProto.UDP);
    expect(later.hasPorts).toBe(false);
    expect(later.l4Length).toBe(8);
  });

  test.each([
    ['ESP', IpProto.ESP],
    ['no next header', IpProto.NONE],
  ])('%s stops the walk as IP_OTHER', (_n, nh) => {
    const p = decode(ipv6({ ...v6, nextHeader: nh }, [0, 0, 1, 0, 0, 0, 0, 1]), RAW);
    expect(p.error).toBe(DecodeError.NONE);
    expect(p.kind).toBe(PacketKind.IP_OTHER);
    expect(p.ipProto).toBe(nh);
  });

  test('cut extension headers are TRUNCATED_EXT_HEADER; ones past the payload length are BAD_IP_TOTAL_LENGTH', () => {
    const bytes = ipv6({ ...v6, nextHeader: IpProto.HOPOPTS }, extHeader(IpProto.TCP, seg, 2));
    expect(decode(bytes, RAW, { caplen: 44 }).error).toBe(DecodeError.TRUNCATED_EXT_HEADER);
    expect(decode(bytes, RAW, { caplen: 60 }).error).toBe(DecodeError.TRUNCATED_EXT_HEADER);
    // Payload length claims 4 bytes: the hop-by-hop header does not fit in the packet.
    const lying = ipv6({ ...v6, nextHeader: IpProto.HOPOPTS, payloadLength: 4 }, extHeader(IpProto.TCP, seg));
    expect(decode(lying, RAW).error).toBe(DecodeError.BAD_IP_TOTAL_LENGTH);
  });

  test('payload length past the frame, short header, bad version', () => {
    expect(decode(ipv6({ ...v6, nextHeader: IpProto.TCP, payloadLength: 500 }, seg), RAW).error).toBe(DecodeError.BAD_IP_TOTAL_LENGTH);
    expect(decode(ipv6({ ...v6, nextHeader: IpProto.TCP }, seg), RAW, { caplen: 39 }).error).toBe(DecodeError.TRUNCATED_IP);
    expect(decode(ipv6({ ...v6, nextHeader: IpProto.TCP, version: 4 }, seg), LinkType.IPV6).error).toBe(DecodeError.BAD_IP_VERSION);
  });

  test('payload length 0 (jumbogram / BIG TCP) runs to the end of the frame', () => {
    const p = decode(ipv6({ ...v6, nextHeader: IpProto.TCP, payloadLength: 0 }, seg), RAW);
    expect(p.error).toBe(DecodeError.NONE);
    expect(p.payloadWireLength).toBe(4);
  });

  test('an IPv6 address that looks IPv4-mapped stays IPv6', () => {
    const p = decode(ipv6({ src: '::ffff:10.0.0.1', dst: '::1', nextHeader: IpProto.TCP }, seg), RAW);
    expect(p.ipVersion).toBe(6);
    expect(srcOf(p)).toBe('::ffff:10.0.0.1');
  });
});
