/**
 * Hand-built captures covering what the shared tcpdump captures do not: every link type hubcap
 * reads, VLAN/QinQ, IPv4 options and fragments, IPv6 extension headers and fragments, SCTP,
 * ICMP errors, Geneve with options and inner IPv6, cut snaplens. The tshark acceptance tests
 * write them to a temporary folder and compare hubcap with tshark on them like on any capture.
 */
import { join } from 'node:path';
import { LinkType } from '../../src/capture/frame.js';
import { EtherType, IpProto, TcpFlag } from '../../src/decode/packet.js';
import {
  arp,
  authHeader,
  ethernet,
  extHeader,
  fragmentHeader,
  geneve,
  geneveOption,
  icmp4,
  icmp6,
  ipv4,
  ipv6,
  loopback,
  routingHeader,
  sctp,
  sll,
  sll2,
  tcp,
  udp,
  vxlan,
  type Bytes,
} from './decode-build.js';
import { writePcap, type PcapRecord } from './decode-pcap.js';

const A4 = { src: '10.244.1.5', dst: '10.244.2.7' };
const A6 = { src: 'fd00:10:244:1::5', dst: 'fd00:10:244:2::7' };
const OUT4 = { src: '172.18.0.2', dst: '172.18.0.3' };

const tcp4 = (flags: number, payload: Bytes = []) => ipv4({ ...A4, proto: IpProto.TCP }, tcp({ sport: 51000, dport: 8080, flags }, payload));
const udp4 = (dport: number, payload: Bytes = [1, 2, 3, 4]) => ipv4({ ...A4, proto: IpProto.UDP }, udp({ sport: 40000, dport }, payload));
const tcp6 = (flags: number) => ipv6({ ...A6, nextHeader: IpProto.TCP }, tcp({ sport: 43000, dport: 443, flags }));
const udp6 = () => ipv6({ ...A6, nextHeader: IpProto.UDP }, udp({ sport: 5353, dport: 9999 }, [0, 1, 2, 3, 4, 5]));

function overUdp(dport: number, tunnel: Bytes, outer6 = false): Uint8Array {
  const dgram = udp({ sport: 33333, dport }, tunnel);
  return outer6
    ? ethernet(EtherType.IPV6, ipv6({ src: 'fc00::2', dst: 'fc00::3', nextHeader: IpProto.UDP }, dgram))
    : ethernet(EtherType.IPV4, ipv4({ ...OUT4, proto: IpProto.UDP }, dgram));
}

/** IP packets (no link header) that every link type carries. */
function ipPackets(): Uint8Array[] {
  return [tcp4(TcpFlag.SYN), udp4(9999), tcp6(TcpFlag.SYN | TcpFlag.ACK), udp6()];
}

function ethernetRecords(): PcapRecord[] {
  const e4 = (ip: Bytes, vlans: { tpid?: number; id: number }[] = []) => ethernet(EtherType.IPV4, ip, { vlans });
  const e6 = (ip: Bytes) => ethernet(EtherType.IPV6, ip);
  const recs: PcapRecord[] = [];
  const add = (bytes: Uint8Array, caplen?: number) => recs.push(caplen === undefined ? { bytes } : { bytes, caplen });
  // TCP flag combinations, including the ECN and NS bits.
  for (const flags of [
    TcpFlag.SYN,
    TcpFlag.SYN | TcpFlag.ACK,
    TcpFlag.ACK,
    TcpFlag.PSH | TcpFlag.ACK,
    TcpFlag.FIN | TcpFlag.ACK,
    TcpFlag.RST,
    TcpFlag.RST | TcpFlag.ACK,
    TcpFlag.SYN | TcpFlag.ECE | TcpFlag.CWR,
    TcpFlag.ACK | TcpFlag.URG | TcpFlag.PSH,
    TcpFlag.NS | TcpFlag.ACK,
  ]) {
    add(e4(tcp4(flags, [1, 2, 3])));
  }
  // VLAN and QinQ.
  add(e4(tcp4(TcpFlag.SYN), [{ id: 100 }]));
  add(e4(udp4(9999), [{ tpid: EtherType.QINQ, id: 3000 }, { id: 42 }]));
  add(e4(udp4(9999), [{ tpid: EtherType.QINQ_OLD, id: 7 }, { id: 8 }]));
  // IPv4 options, SCTP, other protocols.
  add(e4(ipv4({ ...A4, proto: IpProto.TCP, options: [0x94, 4, 0, 0] }, tcp({ sport: 1, dport: 2, flags: TcpFlag.SYN }))));
  add(e4(ipv4({ ...A4, proto: IpProto.SCTP }, sctp({ sport: 36412, dport: 38412 }))));
  add(e6(ipv6({ ...A6, nextHeader: IpProto.SCTP }, sctp({ sport: 2905, dport: 2905 }))));
  add(e4(ipv4({ ...A4, proto: 47 }, [0, 0, 0x08, 0x00, 0x45, 0, 0, 20])));
  add(ethernet(0x88cc, [0x02, 0x07, 0x04, 0, 1, 2, 3, 4, 5, 6]));
  // ICMP: echo, and errors quoting UDP, TCP and echo.
  add(e4(ipv4({ ...A4, proto: IpProto.ICMP }, icmp4({ type: 8, id: 77, seq: 1 }, new Array<number>(32).fill(0x61)))));
  add(e4(ipv4({ src: A4.dst, dst: A4.src, proto: IpProto.ICMP }, icmp4({ type: 0, id: 77, seq: 1 }, new Array<number>(32).fill(0x61)))));
  add(e4(ipv4({ src: '10.96.0.10', dst: A4.src, proto: IpProto.ICMP }, icmp4({ type: 3, code: 3 }, ipv4({ src: A4.src, dst: '10.96.0.10', proto: IpProto.UDP }, udp({ sport: 41000, dport: 53 }, [1, 2, 3, 4]))))));
  add(e4(ipv4({ src: '10.0.0.254', dst: A4.src, proto: IpProto.ICMP }, icmp4({ type: 11 }, ipv4({ src: A4.src, dst: '1.1.1.1', proto: IpProto.TCP, totalLength: 60 }, tcp({ sport: 51000, dport: 443, flags: TcpFlag.SYN }).slice(0, 8))))));
  add(e4(ipv4({ src: '10.0.0.254', dst: A4.src, proto: IpProto.ICMP }, icmp4({ type: 3, code: 4, seq: 1400 }, ipv4({ src: A4.src, dst: '8.8.8.8', proto: IpProto.ICMP }, icmp4({ type: 8, id: 5, seq: 6 }))))));
  // IPv4 fragments: first (ports) and a later one (no ports).
  add(e4(ipv4({ ...A4, proto: IpProto.UDP, id: 4321, mf: true }, udp({ sport: 5000, dport: 6000, length: 1008 }, new Array<number>(40).fill(0)))));
  add(e4(ipv4({ ...A4, proto: IpProto.UDP, id: 4321, fragOffset: 48 }, new Array<number>(24).fill(0))));
  // IPv6 extension headers, fragments, ESP.
  add(e6(ipv6({ ...A6, nextHeader: IpProto.HOPOPTS }, extHeader(IpProto.ROUTING, routingHeader(IpProto.DSTOPTS, extHeader(IpProto.TCP, tcp({ sport: 7, dport: 8, flags: TcpFlag.SYN }), 1))))));
  add(e6(ipv6({ ...A6, nextHeader: IpProto.AH }, authHeader(IpProto.UDP, udp({ sport: 7000, dport: 7001 }, [1, 2, 3, 4])))));
  add(e6(ipv6({ ...A6, nextHeader: IpProto.FRAGMENT }, fragmentHeader(IpProto.UDP, { offset: 0, more: true, id: 0xabcdef }, udp({ sport: 1111, dport: 2222, length: 2000 }, new Array<number>(64).fill(0))))));
  add(e6(ipv6({ ...A6, nextHeader: IpProto.FRAGMENT }, fragmentHeader(IpProto.UDP, { offset: 72, more: false, id: 0xabcdef }, new Array<number>(32).fill(0)))));
  add(e6(ipv6({ ...A6, nextHeader: IpProto.ESP }, [0, 0, 1, 0, 0, 0, 0, 1, 9, 9, 9, 9])));
  // ICMPv6: echo, neighbour solicitation, an error quoting TCP.
  add(e6(ipv6({ ...A6, nextHeader: IpProto.ICMPV6 }, icmp6({ type: 128, id: 9, seq: 10 }, [1, 2, 3, 4]))));
  add(e6(ipv6({ src: 'fe80::1', dst: 'ff02::1:ff00:2', nextHeader: IpProto.ICMPV6, hopLimit: 255 }, icmp6({ type: 135 }, [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]))));
  add(e6(ipv6({ src: 'fd00::99', dst: A6.src, nextHeader: IpProto.ICMPV6 }, icmp6({ type: 1, code: 4 }, ipv6({ ...A6, nextHeader: IpProto.TCP }, tcp({ sport: 34000, dport: 8080, flags: TcpFlag.SYN }))))));
  // ARP.
  add(ethernet(EtherType.ARP, arp({ op: 1, senderIp: '10.244.1.5', targetIp: '10.244.1.1' }), { dst: 'ff:ff:ff:ff:ff:ff' }));
  add(ethernet(EtherType.ARP, arp({ op: 2, senderIp: '10.244.1.1', senderMac: '02:42:ac:12:00:02', targetIp: '10.244.1.5' })));
  // Overlays: VXLAN on 8472 and 4789, Geneve with options, inner IPv6 and ARP, outer IPv6.
  add(overUdp(8472, vxlan(4096, ethernet(EtherType.IPV4, tcp4(TcpFlag.SYN)))));
  add(overUdp(4789, vxlan(70000, ethernet(EtherType.IPV6, udp6()))));
  add(overUdp(8472, vxlan(5, ethernet(EtherType.ARP, arp({ op: 1, senderIp: '10.244.1.5', targetIp: '10.244.1.9' })))));
  add(overUdp(8472, vxlan(6, ethernet(EtherType.IPV4, tcp4(TcpFlag.ACK), { vlans: [{ id: 12 }] }))));
  add(overUdp(6081, geneve(10, EtherType.TEB, ethernet(EtherType.IPV4, tcp4(TcpFlag.FIN | TcpFlag.ACK)), geneveOption(0x0103, 0x80, [0, 0, 0, 12]))));
  add(overUdp(6081, geneve(11, EtherType.TEB, ethernet(EtherType.IPV6, tcp6(TcpFlag.SYN)))));
  add(overUdp(8472, vxlan(7, ethernet(EtherType.IPV4, ipv4({ ...A4, proto: IpProto.ICMP }, icmp4({ type: 8, id: 1, seq: 2 }, [0, 0, 0, 0])))), true));
  // Short snaplens: in the TCP header, in the UDP payload, in the inner IP header.
  add(e4(tcp4(TcpFlag.SYN | TcpFlag.ACK)), 14 + 20 + 16);
  add(e4(udp4(53, new Array<number>(100).fill(0))), 14 + 20 + 8 + 10);
  add(e4(tcp4(TcpFlag.SYN)), 14 + 20 + 2);
  add(overUdp(8472, vxlan(4096, ethernet(EtherType.IPV4, tcp4(TcpFlag.SYN)))), 14 + 20 + 8 + 8 + 14 + 20 + 6);
  return recs;
}

/** Writes one capture per link type into `dir` and returns their paths. */
export function writeSyntheticCaptures(dir: string): string[] {
  const files: Array<[string, number, PcapRecord[]]> = [
    ['synthetic-ethernet.pcap', LinkType.ETHERNET, ethernetRecords()],
    [
      'synthetic-sll.pcap',
      LinkType.LINUX_SLL,
      [
        ...ipPackets().map((ip) => ({ bytes: sll(ip[0]! >> 4 === 4 ? EtherType.IPV4 : EtherType.IPV6, ip, { packetType: 4 }) })),
        { bytes: sll(EtherType.ARP, arp({ op: 1, senderIp: '10.0.0.1', targetIp: '10.0.0.2' })) },
      ],
    ],
    [
      'synthetic-sll2.pcap',
      LinkType.LINUX_SLL2,
      [
        ...ipPackets().map((ip) => ({ bytes: sll2(ip[0]! >> 4 === 4 ? EtherType.IPV4 : EtherType.IPV6, ip, { ifIndex: 7 }) })),
        { bytes: sll2(EtherType.VLAN, [0x00, 0x64, 0x08, 0x00, ...tcp4(TcpFlag.SYN)]) },
        { bytes: sll2(EtherType.IPV4, overUdp(8472, vxlan(3, ethernet(EtherType.IPV4, tcp4(TcpFlag.SYN)))).slice(14)) },
      ],
    ],
    [
      'synthetic-null.pcap',
      LinkType.NULL,
      ipPackets().map((ip) => ({ bytes: loopback(ip[0]! >> 4 === 4 ? 2 : 30, ip, true) })),
    ],
    ['synthetic-loop.pcap', LinkType.LOOP, ipPackets().map((ip) => ({ bytes: loopback(ip[0]! >> 4 === 4 ? 2 : 24, ip, false) }))],
    ['synthetic-raw.pcap', LinkType.RAW, ipPackets().map((bytes) => ({ bytes }))],
    ['synthetic-ipv4.pcap', LinkType.IPV4, ipPackets().filter((ip) => ip[0]! >> 4 === 4).map((bytes) => ({ bytes }))],
    ['synthetic-ipv6.pcap', LinkType.IPV6, ipPackets().filter((ip) => ip[0]! >> 4 === 6).map((bytes) => ({ bytes }))],
  ];
  return files.map(([name, lt, recs]) => {
    const path = join(dir, name);
    writePcap(path, lt, recs);
    return path;
  });
}
