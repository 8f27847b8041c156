/**
 * Decode allocates nothing per packet (design.md §6): a warmed-up decoder runs a million frames
 * of every kind without a single garbage collection, while a control loop that allocates one
 * small typed array per frame triggers several (so the detector works). The habit of
 * cilium/ebpf's zero-allocation tests, with GC events as the counter.
 *
 * The frames sit in one chunk, as every reader hands them over (a file reader's chunk, the live
 * capture's one buffer): the decoder makes one DataView per chunk, never one per frame.
 */
import { expect, test } from 'vitest';
import { controlGcs, countGcs } from '../helpers/gc-count.js';
import { LinkType, type Frame } from '../../src/capture/frame.js';
import { decodeFrame } from '../../src/decode/decode.js';
import { DecodedPacket, EtherType, IpProto, TcpFlag } from '../../src/decode/packet.js';
import {
  arp,
  ethernet,
  extHeader,
  frameOf,
  geneve,
  inOneChunk,
  icmp4,
  icmp6,
  ipv4,
  ipv6,
  sll2,
  tcp,
  udp,
  vxlan,
} from '../helpers/decode-build.js';

const tcp4 = ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: IpProto.TCP }, tcp({ sport: 1, dport: 2, flags: TcpFlag.SYN, seq: 0xfffffff0, ack: 0x80000001 }));
const SEPARATE: Frame[] = [
  frameOf(ethernet(EtherType.IPV4, tcp4, { vlans: [{ id: 5 }] })),
  frameOf(ethernet(EtherType.IPV4, ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: IpProto.UDP }, udp({ sport: 9, dport: 8472 }, vxlan(1, ethernet(EtherType.IPV4, tcp4)))))),
  frameOf(ethernet(EtherType.IPV4, ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: IpProto.UDP }, udp({ sport: 9, dport: 6081 }, geneve(2, EtherType.IPV4, tcp4, [0, 1, 1, 0]))))),
  frameOf(ethernet(EtherType.ARP, arp({ op: 1, senderIp: '10.0.0.1', targetIp: '10.0.0.2' }))),
  frameOf(sll2(EtherType.IPV6, ipv6({ src: 'fd00::1', dst: 'fd00::2', nextHeader: IpProto.HOPOPTS }, extHeader(IpProto.ICMPV6, icmp6({ type: 1 }, ipv6({ src: 'fd00::2', dst: 'fd00::1', nextHeader: 17 }, udp({ sport: 3, dport: 4 })))))), LinkType.LINUX_SLL2),
  frameOf(ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: IpProto.ICMP }, icmp4({ type: 3, code: 3 }, ipv4({ src: '2.2.2.2', dst: '1.1.1.1', proto: 17 }, udp({ sport: 5, dport: 53 })))), LinkType.RAW),
  frameOf(tcp4, LinkType.RAW, { caplen: 30 }),
];

const FRAMES = inOneChunk(SEPARATE);

const N = 1_000_000;

test('decodeFrame allocates nothing per packet', async () => {
  const out = new DecodedPacket();
  const n = FRAMES.length;
  let sink = 0;
  const loop = (count: number) => {
    for (let i = 0; i < count; i++) {
      decodeFrame(FRAMES[i % n]!, out);
      sink = (sink + out.dport + (out.tcpSeq & 0xff)) & 0x3fffffff;
    }
  };
  loop(200_000); // warm up: optimize, settle field representations
  const gcs = await countGcs(() => loop(N));
  expect(sink).not.toBe(0);
  expect(gcs).toBe(0);
});

test('control: one 64-byte allocation per packet is detected', async () => {
  expect(await controlGcs()).toBeGreaterThan(0);
});
