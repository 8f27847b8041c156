/**
 * Formatters shared by `hubcap packets` and the flow printers: RFC 3339 nanosecond UTC times,
 * the §3 JSON object (absent fields omitted, Hubble flag names), tcpdump-like lines.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { LinkType } from '../../src/capture/frame.js';
import { formatIp } from '../../src/net/addr.js';
import {
  formatAddress,
  formatPacketJson,
  formatPacketText,
  formatTimeRfc3339,
  formatTimeText,
  tcpFlagsJson,
  tcpFlagsText,
} from '../../src/decode/format.js';
import { EtherType, IpProto, TcpFlag } from '../../src/decode/packet.js';
import {
  arp,
  decode,
  ethernet,
  frameOf,
  fragmentHeader,
  icmp4,
  icmp6,
  ipv4,
  ipv6,
  tcp,
  udp,
  vxlan,
  type Bytes,
  type FrameOpts,
} from '../helpers/decode-build.js';

describe('time', () => {
  test('RFC 3339 with nine fractional digits in UTC, as Date sees the same second', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 253402300799 }), fc.integer({ min: 0, max: 999_999_999 }), (sec, nsec) => {
        const iso = new Date(sec * 1000).toISOString(); // YYYY-MM-DDTHH:MM:SS.000Z
        expect(formatTimeRfc3339(sec, nsec)).toBe(`${iso.slice(0, 19)}.${String(nsec).padStart(9, '0')}Z`);
        expect(formatTimeText(sec, nsec)).toBe(`${iso.slice(0, 10)} ${iso.slice(11, 19)}.${String(nsec).padStart(9, '0')}`);
      }),
      { numRuns: 3000 },
    );
  });

  test('known instants, and the per-second cache does not leak between seconds', () => {
    expect(formatTimeRfc3339(1591780863, 720289000)).toBe('2020-06-10T09:21:03.720289000Z');
    expect(formatTimeRfc3339(1591780864, 5)).toBe('2020-06-10T09:21:04.000000005Z');
    expect(formatTimeRfc3339(0, 0)).toBe('1970-01-01T00:00:00.000000000Z');
    expect(formatTimeRfc3339(951782400, 1)).toBe('2000-02-29T00:00:00.000000001Z');
  });

  test('garbage pcapng timestamps past what Date holds still format', () => {
    expect(() => formatTimeRfc3339(2 ** 52, 0)).not.toThrow();
    expect(formatTimeRfc3339(2 ** 40, 0)).toMatch(/^\d{5,}-\d\d-\d\dT\d\d:\d\d:\d\d\.000000000Z$/);
  });
});

describe('address text cache', () => {
  test('always the canonical text, through slot collisions and family changes', () => {
    const word = fc.oneof(fc.constantFrom(0, 0xffff, 0x20010db8, 0xfe800000), fc.integer({ min: 0, max: 0xffffffff }));
    const addr = fc.tuple(word, word, word, word, fc.constantFrom(4, 6));
    fc.assert(
      fc.property(fc.array(addr, { minLength: 1, maxLength: 3000 }), (list) => {
        for (const [a, b, c, d, fam] of list) {
          const words = Uint32Array.of(a, b, fam === 4 ? 0xffff : c, d);
          if (fam === 4) words[0] = words[1] = 0;
          expect(formatAddress(words, fam)).toBe(formatIp(words, fam));
          // Same words, other family: a different text (IPv4 dotted vs IPv4-mapped IPv6).
          if (fam === 4) expect(formatAddress(words, 6)).toBe(formatIp(words, 6));
        }
      }),
      { numRuns: 30 },
    );
  });
});

describe('TCP flags', () => {
  test('JSON names only the set flags, Hubble spelling', () => {
    expect(tcpFlagsJson(TcpFlag.SYN | TcpFlag.ACK)).toBe('{"SYN":true,"ACK":true}');
    expect(tcpFlagsJson(0x1ff)).toBe('{"FIN":true,"SYN":true,"RST":true,"PSH":true,"ACK":true,"URG":true,"ECE":true,"CWR":true,"NS":true}');
    expect(tcpFlagsJson(0)).toBe('{}');
  });

  test('tcpdump letters in tcpdump order', () => {
    expect(tcpFlagsText(TcpFlag.SYN | TcpFlag.ACK)).toBe('S.');
    expect(tcpFlagsText(TcpFlag.FIN | TcpFlag.PSH | TcpFlag.ACK)).toBe('FP.');
    expect(tcpFlagsText(TcpFlag.SYN | TcpFlag.ECE | TcpFlag.CWR)).toBe('SEW');
    expect(tcpFlagsText(TcpFlag.NS | TcpFlag.ACK)).toBe('.e');
    expect(tcpFlagsText(0)).toBe('none');
  });
});

function json(bytes: Bytes, lt: number = LinkType.ETHERNET, o: FrameOpts = {}): Record<string, unknown> {
  const f = frameOf(bytes, lt, { tsSec: 1700000000, tsNsec: 42, ...o });
  const p = decode(bytes, lt, o);
  const text = formatPacketJson(f, p);
  return JSON.parse(text) as Record<string, unknown>;
}

function text(bytes: Bytes, lt: number = LinkType.ETHERNET, o: FrameOpts = {}): string {
  const f = frameOf(bytes, lt, { tsSec: 1700000000, tsNsec: 42, ...o });
  return formatPacketText(f, decode(bytes, lt, o));
}

const synAck = ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: IpProto.TCP }, tcp({ sport: 443, dport: 51000, flags: TcpFlag.SYN | TcpFlag.ACK }));

describe('JSON (design.md §3)', () => {
  test('a TCP packet: exactly the contract keys that apply', () => {
    expect(json(synAck, LinkType.RAW)).toEqual({
      time: '2023-11-14T22:13:20.000000042Z',
      length: 40,
      caplen: 40,
      src: '10.0.0.1',
      dst: '10.0.0.2',
      protocol: 'tcp',
      sport: 443,
      dport: 51000,
      tcp_flags: { SYN: true, ACK: true },
    });
  });

  test('ICMPv6 with RFC 5952 addresses', () => {
    const bytes = ipv6({ src: '2001:db8:0:0:1:0:0:1', dst: 'ff02::1', nextHeader: IpProto.ICMPV6 }, icmp6({ type: 128, id: 1, seq: 2 }));
    const o = json(bytes, LinkType.RAW);
    expect(o).toMatchObject({ src: '2001:db8::1:0:0:1', dst: 'ff02::1', protocol: 'icmpv6', icmp_type: 128, icmp_code: 0 });
    expect(o).not.toHaveProperty('sport');
  });

  test('ARP: sender and target addresses, no ports', () => {
    const o = json(ethernet(EtherType.ARP, arp({ op: 1, senderIp: '10.0.0.5', targetIp: '10.0.0.1' })));
    expect(o).toMatchObject({ src: '10.0.0.5', dst: '10.0.0.1', protocol: 'arp' });
    expect(Object.keys(o)).toEqual(['time', 'length', 'caplen', 'src', 'dst', 'protocol']);
  });

  test('VLAN, QinQ and fragments', () => {
    const frag = ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: IpProto.UDP, id: 99, fragOffset: 1480 }, [1, 2, 3, 4]);
    const o = json(ethernet(EtherType.IPV4, frag, { vlans: [{ tpid: EtherType.QINQ, id: 10 }, { id: 20 }] }));
    expect(o).toMatchObject({ protocol: 'udp', vlan: 10, vlan_inner: 20, fragment: { id: 99, offset: 1480, more: false } });
    expect(o).not.toHaveProperty('sport');
    const v6 = json(ipv6({ src: '::1', dst: '::2', nextHeader: IpProto.FRAGMENT }, fragmentHeader(IpProto.TCP, { offset: 0, more: true, id: 7 }, tcp({ sport: 1, dport: 2, flags: TcpFlag.ACK }))), LinkType.RAW);
    expect(v6).toMatchObject({ protocol: 'tcp', sport: 1, dport: 2, fragment: { id: 7, offset: 0, more: true } });
  });

  test('VXLAN: inner packet in the main fields, the outer under encap', () => {
    const bytes = ethernet(EtherType.IPV4, ipv4({ src: '172.18.0.2', dst: '172.18.0.3', proto: IpProto.UDP }, udp({ sport: 40000, dport: 8472 }, vxlan(4096, ethernet(EtherType.IPV4, synAck)))));
    expect(json(bytes)).toMatchObject({
      src: '10.0.0.1',
      dst: '10.0.0.2',
      protocol: 'tcp',
      sport: 443,
      encap: { type: 'vxlan', vni: 4096, outer: { src: '172.18.0.2', dst: '172.18.0.3', sport: 40000, dport: 8472 } },
    });
  });

  test('errors: the text, with everything decoded before it; nothing at all for bare garbage', () => {
    const cut = json(synAck, LinkType.RAW, { caplen: 30 });
    expect(cut).toMatchObject({ caplen: 30, length: 40, src: '10.0.0.1', protocol: 'tcp', sport: 443, error: 'truncated transport header' });
    const bad = json([1, 2, 3], LinkType.ETHERNET);
    expect(bad).toEqual({ time: '2023-11-14T22:13:20.000000042Z', length: 3, caplen: 3, protocol: 'other', error: 'truncated link-layer header' });
  });

  test('never null, for any bytes', () => {
    fc.assert(
      fc.property(fc.constantFrom(LinkType.ETHERNET, LinkType.RAW, LinkType.LINUX_SLL2), fc.uint8Array({ maxLength: 120 }), (lt, bytes) => {
        const o = json(bytes, lt);
        expect(JSON.stringify(o)).not.toContain('null');
      }),
      { numRuns: 500 },
    );
  });
});

describe('text', () => {
  test('TCP, UDP, ICMP echo and errors, ARP, overlays', () => {
    expect(text(synAck, LinkType.RAW)).toBe('2023-11-14 22:13:20.000000042 IP 10.0.0.1.443 > 10.0.0.2.51000: Flags [S.], length 0');
    expect(text(ipv6({ src: 'fd00::1', dst: 'fd00::2', nextHeader: IpProto.UDP }, udp({ sport: 5353, dport: 53 }, [1, 2, 3])), LinkType.RAW)).toMatch(
      / IP6 fd00::1\.5353 > fd00::2\.53: UDP, length 3$/,
    );
    expect(text(ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: IpProto.ICMP }, icmp4({ type: 8, id: 7, seq: 9 }, new Array<number>(56).fill(0))), LinkType.RAW)).toMatch(
      / IP 10\.0\.0\.1 > 10\.0\.0\.2: ICMP echo request, id 7, seq 9, length 64$/,
    );
    const unreach = ipv4({ src: '10.96.0.10', dst: '10.0.0.2', proto: IpProto.ICMP }, icmp4({ type: 3, code: 3 }, ipv4({ src: '10.0.0.2', dst: '10.96.0.10', proto: IpProto.UDP }, udp({ sport: 4000, dport: 53 }))));
    expect(text(unreach, LinkType.RAW)).toMatch(/: ICMP 10\.96\.0\.10 udp port 53 unreachable, length 36$/);
    expect(text(ethernet(EtherType.ARP, arp({ op: 2, senderIp: '10.0.0.1', senderMac: '02:42:ac:12:00:02', targetIp: '10.0.0.2' })))).toMatch(
      / ARP, Reply 10\.0\.0\.1 is-at 02:42:ac:12:00:02, length 28$/,
    );
    const vx = ethernet(EtherType.IPV4, ipv4({ src: '172.18.0.2', dst: '172.18.0.3', proto: IpProto.UDP }, udp({ sport: 40000, dport: 8472 }, vxlan(4096, ethernet(EtherType.IPV4, synAck)))));
    expect(text(vx)).toMatch(/ VXLAN vni 4096 \(172\.18\.0\.2 > 172\.18\.0\.3\): IP 10\.0\.0\.1\.443 > 10\.0\.0\.2\.51000: Flags \[S\.\], length 0$/);
  });

  test('VLAN prefix, unknown EtherType, decode errors', () => {
    expect(text(ethernet(EtherType.IPV4, synAck, { vlans: [{ id: 100 }] }))).toMatch(/ vlan 100: IP 10\.0\.0\.1\.443 > /);
    expect(text(ethernet(0x88cc, [1, 2, 3, 4]))).toMatch(/ ethertype 0x88cc, length 18$/);
    expect(text(synAck, LinkType.RAW, { caplen: 30 })).toMatch(/ IP 10\.0\.0\.1\.443 > 10\.0\.0\.2\.51000: tcp \[truncated transport header\]$/);
    expect(text(synAck, LinkType.RAW, { caplen: 36 })).toMatch(/ IP 10\.0\.0\.1\.443 > 10\.0\.0\.2\.51000: Flags \[S\.\] \[truncated transport header\]$/);
    expect(text([1, 2, 3])).toMatch(/ \[truncated link-layer header\], length 3$/);
    expect(text(synAck, 147)).toMatch(/ \[unsupported link type\], length 40$/);
  });
});
