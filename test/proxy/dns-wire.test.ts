/**
 * DNS wire parsing of real captures, checked against tshark's DNS dissector (run here, never a
 * stored copy of its output): tcpdump's own DNS test captures (UDP, TCP, a response cut by the
 * snaplen) and the foundation capture seen on a DNS server (A, AAAA, a CNAME chain, NXDOMAIN).
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { readAllFrames, type CopiedFrame } from '../../src/capture/open.js';
import { decodeBytes } from '../../src/decode/decode.js';
import { DecodedPacket, IpProto } from '../../src/decode/packet.js';
import { DnsStreamDecoder, DnsType, extractMsgDetails, parseDnsMessage, toL7Dns, type DnsMessage, type DnsParseResult } from '../../src/proxy/dns.js';
import { SHARED_CAPTURES, REPO_PCAPS } from '../helpers/decode-tshark.js';

const FIELDS = [
  'frame.number',
  'dns.id',
  'dns.flags.response',
  'dns.flags.rcode',
  'dns.count.queries',
  'dns.count.answers',
  'dns.qry.name',
  'dns.qry.type',
  'dns.a',
  'dns.aaaa',
  'dns.cname',
  'dns.resp.ttl',
  'dns.resp.type',
] as const;

type TsharkRow = Record<(typeof FIELDS)[number], string[]>;

function tshark(file: string): Map<number, TsharkRow> {
  const args = ['-r', file, '-Y', 'dns', '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=;', '-E', 'separator=\t'];
  for (const f of FIELDS) args.push('-e', f);
  const text = execFileSync('tshark', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const rows = new Map<number, TsharkRow>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const cols = line.split('\t');
    const row = {} as TsharkRow;
    FIELDS.forEach((f, i) => (row[f] = cols[i] ? cols[i]!.split(';') : []));
    rows.set(Number(row['frame.number'][0]), row);
  }
  return rows;
}

/** Every DNS message of a capture by the frame that carries (or completes) it. */
async function messages(file: string): Promise<Map<number, DnsParseResult[]>> {
  const frames: CopiedFrame[] = await readAllFrames(file);
  const p = new DecodedPacket();
  const streams = new Map<string, DnsStreamDecoder>();
  const out = new Map<number, DnsParseResult[]>();
  frames.forEach((f, i) => {
    decodeBytes(f.data, 0, f.caplen, f.length, f.linkType, p);
    if (!p.hasPorts || (p.sport !== 53 && p.dport !== 53) || p.payloadLength <= 0) return;
    const payload = p.data.subarray(p.payloadOffset, p.payloadOffset + p.payloadLength);
    const list: DnsParseResult[] = [];
    if (p.ipProto === IpProto.UDP) list.push(parseDnsMessage(payload));
    else if (p.ipProto === IpProto.TCP) {
      const key = `${p.src.join('.')}:${p.sport}>${p.dst.join('.')}:${p.dport}`;
      let s = streams.get(key);
      if (!s) streams.set(key, (s = new DnsStreamDecoder()));
      for (const m of s.push(payload)) list.push(m.result);
    }
    if (list.length > 0) out.set(i + 1, list);
  });
  return out;
}

const typeName: Record<number, string> = { 1: 'A', 28: 'AAAA', 5: 'CNAME' };

function compare(msg: DnsMessage, row: TsharkRow): void {
  expect(msg.id).toBe(Number(row['dns.id'][0]));
  expect(msg.qr).toBe(row['dns.flags.response'][0] === '1' || row['dns.flags.response'][0] === 'True');
  if (msg.qr) expect(msg.rcode).toBe(Number(row['dns.flags.rcode'][0]));
  expect(msg.questions.map((q) => q.name.replace(/\.$/, ''))).toEqual(row['dns.qry.name']);
  expect(msg.questions.map((q) => String(q.type))).toEqual(row['dns.qry.type']);
  const records = [...msg.answers, ...msg.authorities, ...msg.additionals];
  const data = (t: number): string[] => records.filter((r) => r.type === t).map((r) => (t === DnsType.CNAME ? r.data!.replace(/\.$/, '') : r.data!));
  expect(data(DnsType.A)).toEqual(row['dns.a']);
  expect(data(DnsType.AAAA)).toEqual(row['dns.aaaa']);
  expect(data(DnsType.CNAME)).toEqual(row['dns.cname']);
  // tshark lists every record's type, and the TTL of every record but OPT.
  expect(records.map((r) => String(r.type))).toEqual(row['dns.resp.type']);
  expect(records.filter((r) => r.type !== DnsType.OPT).map((r) => String(r.ttl))).toEqual(row['dns.resp.ttl']);
  for (const r of records) if (typeName[r.type]) expect(r.typeName).toBe(typeName[r.type]);
}

const CAPTURES = [
  `${SHARED_CAPTURES}/dns_udp.pcap`,
  `${SHARED_CAPTURES}/dns_tcp.pcap`,
  `${SHARED_CAPTURES}/dns_udp_2.pcap`,
  `${REPO_PCAPS}/foundation-dns.pcapng`,
];

describe('DNS messages of real captures match tshark', () => {
  it.each(CAPTURES)('%s', async (file) => {
    const ours = await messages(file);
    const theirs = tshark(file);
    expect([...ours.keys()]).toEqual([...theirs.keys()]);
    let compared = 0;
    for (const [frame, list] of ours) {
      expect(list).toHaveLength(1);
      const r = list[0]!;
      const row = theirs.get(frame)!;
      const promised = Number(row['dns.count.answers'][0] ?? 0);
      if (!r.ok) {
        // Only a message tshark could not read whole either: fewer answers than the header promises.
        const seen = row['dns.a'].length + row['dns.aaaa'].length + row['dns.cname'].length;
        expect(seen, `frame ${frame}: ${r.error}`).toBeLessThan(promised);
        expect(r.id).toBe(Number(row['dns.id'][0]));
        continue;
      }
      expect(r.message.answers.length).toBe(promised);
      compare(r.message, row);
      compared++;
    }
    expect(compared).toBeGreaterThan(0);
  });

  it('the snaplen-cut response of dns_udp_2 is an error result, not a partial message', async () => {
    const ours = await messages(`${SHARED_CAPTURES}/dns_udp_2.pcap`);
    const response = ours.get(2)![0]!;
    expect(response.ok).toBe(false);
    expect(ours.get(1)![0]!.ok).toBe(true);
  });

  it('TCP: the length-framed query and answer of dns_tcp come out of the stream decoder', async () => {
    const ours = await messages(`${SHARED_CAPTURES}/dns_tcp.pcap`);
    expect([...ours.keys()]).toEqual([4, 6]);
    const answer = ours.get(6)![0]!;
    expect(answer.ok && extractMsgDetails(answer.message)).toMatchObject({
      ok: true,
      details: { qname: 'www.tcpdump.org.', ips: ['192.139.46.66', '198.199.88.104'], ttl: 60, cnames: [] },
    });
  });

  it('ExtractMsgDetails on the foundation capture: CNAME chain, AAAA, NXDOMAIN', async () => {
    const ours = await messages(`${REPO_PCAPS}/foundation-dns.pcapng`);
    const details = (frame: number) => {
      const r = ours.get(frame)![0]!;
      if (!r.ok) throw new Error(r.error);
      const d = extractMsgDetails(r.message);
      if (!d.ok) throw new Error(d.error);
      return d.details;
    };
    // docs.cilium.io CNAME cilium.readthedocs.io, whose A record ends the chain: the address
    // belongs to the queried name, with the lowest TTL along the chain.
    expect(details(9)).toMatchObject({ qname: 'docs.cilium.io.', ips: ['192.0.2.30'], ttl: 300, cnames: ['cilium.readthedocs.io.'], answerTypes: [5, 1] });
    expect(details(7)).toMatchObject({ qname: 'api.example.com.', ips: ['fd00:10::20'], questionTypes: [28] });
    expect(details(21)).toMatchObject({ qname: 'nothere.example.com.', ips: [], rcode: 3, ttl: 0xffffffff });
    // A query has no answers: the proxy logs TTL MaxUint32.
    expect(details(8)).toMatchObject({ ips: [], ttl: 0xffffffff, cnames: [] });
    // The access-log record the flow printers read (L7Dns).
    const msg = (frame: number) => {
      const r = ours.get(frame)![0]!;
      if (!r.ok) throw new Error(r.error);
      return r.message;
    };
    expect(toL7Dns(msg(9))).toEqual({
      query: 'docs.cilium.io.',
      ips: ['192.0.2.30'],
      ttl: 300,
      cnames: ['cilium.readthedocs.io.'],
      observationSource: 'proxy',
      rcode: 0,
      qtypes: ['A'],
      rrtypes: ['CNAME', 'A'],
    });
    expect(toL7Dns(msg(21))).toMatchObject({ query: 'nothere.example.com.', rcode: 3, ips: [] });
  });
});
