/**
 * The DNS proxy's own answers: REFUSED for a denied query (pkg/fqdn/dnsproxy/proxy.go sendRefused
 * -> miekg SetRcode -> SetReply) and the server's FORMERR/NOTIMP for messages it does not accept
 * (miekg acceptfunc.go, server.go serveDNS). Checked by parsing them back, against dns-packet's
 * encoder, and with tshark reading them from a pcap as a refused response.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { readAllFrames } from '../../src/capture/open.js';
import { encodePcap } from '../../src/capture/pcap-writer.js';
import { decodeBytes } from '../../src/decode/decode.js';
import { DecodedPacket, IpProto } from '../../src/decode/packet.js';
import { buildDnsReject, buildRefused, dnsAcceptAction, DnsRcode, DnsStreamDecoder, parseDnsMessage } from '../../src/proxy/dns.js';
import { ethernet, ipv4, udp } from '../helpers/decode-build.js';
import { REPO_PCAPS, SHARED_CAPTURES } from '../helpers/decode-tshark.js';

/** The DNS queries (payload bytes) of the test captures, UDP and TCP. */
async function queries(): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const file of [`${SHARED_CAPTURES}/dns_udp.pcap`, `${SHARED_CAPTURES}/dns_tcp.pcap`, `${REPO_PCAPS}/foundation-dns.pcapng`]) {
    const p = new DecodedPacket();
    const tcp = new DnsStreamDecoder();
    for (const f of await readAllFrames(file)) {
      decodeBytes(f.data, 0, f.caplen, f.length, f.linkType, p);
      if (p.dport !== 53 || p.payloadLength <= 0) continue;
      const payload = p.data.slice(p.payloadOffset, p.payloadOffset + p.payloadLength);
      if (p.ipProto === IpProto.UDP) out.push(payload);
      else for (const m of tcp.push(payload)) out.push(m.bytes);
    }
  }
  return out;
}

function u16(b: Uint8Array, off: number): number {
  return (b[off]! << 8) | b[off + 1]!;
}

describe('REFUSED, as the DNS proxy sends it', () => {
  it('keeps the id, sets QR and RCODE 5, copies RD (never RA), echoes the question, nothing else', async () => {
    const qs = await queries();
    expect(qs.length).toBeGreaterThanOrEqual(10);
    for (const q of qs) {
      const query = parseDnsMessage(q);
      if (!query.ok) throw new Error(query.error);
      const refused = buildRefused(q)!;
      const back = parseDnsMessage(refused);
      if (!back.ok) throw new Error(back.error);
      const m = back.message;
      expect(m).toMatchObject({ id: query.message.id, qr: true, opcode: 0, aa: false, tc: false, ra: false, ad: false, rcode: DnsRcode.REFUSED });
      expect(m.rd).toBe(query.message.rd);
      expect(m.cd).toBe(query.message.cd);
      expect(m.questions).toEqual([query.message.questions[0]]);
      expect(m.answers.length + m.authorities.length + m.additionals.length).toBe(0);
      // Byte for byte what dns-packet encodes for the same reply (uncompressed question).
      const q0 = query.message.questions[0]!;
      const expected = dnsPacket.encode({
        id: query.message.id,
        type: 'response',
        flags: (query.message.rd ? dnsPacket.RECURSION_DESIRED : 0) | (query.message.cd ? dnsPacket.CHECKING_DISABLED : 0) | DnsRcode.REFUSED,
        questions: [{ name: q0.name.replace(/\.$/, ''), type: q0.typeName as 'A', class: 'IN' }],
      });
      expect(Buffer.from(refused).equals(expected)).toBe(true);
    }
  });

  it('tshark reads the answers as refused responses to the same questions', async () => {
    const qs = await queries();
    const frames = qs.map((q) => ({ data: ethernet(0x0800, ipv4({ src: '10.0.0.53', dst: '10.0.0.1', proto: 17 }, udp({ sport: 53, dport: 40000 }, buildRefused(q)!))) }));
    const dir = mkdtempSync(join(tmpdir(), 'hubcap-dns-'));
    const file = join(dir, 'refused.pcap');
    writeFileSync(file, encodePcap(frames));
    const fields = ['dns.id', 'dns.flags.response', 'dns.flags.rcode', 'dns.flags.recavail', 'dns.count.queries', 'dns.count.answers', 'dns.count.auth_rr', 'dns.count.add_rr', 'dns.qry.name', '_ws.malformed'];
    const text = execFileSync('tshark', ['-r', file, '-T', 'fields', ...fields.flatMap((f) => ['-e', f])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const rows = text.trim().split('\n').map((l) => l.split('\t'));
    expect(rows).toHaveLength(qs.length);
    rows.forEach((row, i) => {
      const q = parseDnsMessage(qs[i]!);
      if (!q.ok) throw new Error(q.error);
      expect(Number(row[0])).toBe(q.message.id);
      expect(row.slice(1, 8)).toEqual([expect.stringMatching(/^(1|True)$/), '5', expect.stringMatching(/^(0|False)$/), '1', '0', '0', '0']);
      expect(row[8]).toBe(q.message.questions[0]!.name.replace(/\.$/, ''));
      expect(row[9] ?? '').toBe('');
    });
  });

  it('echoes an odd name byte for byte (a dot and a high byte inside labels)', () => {
    // id 7, RD, one question: label "a.b" (a literal dot), label "\xff", then "io"; type AAAA.
    const q = Uint8Array.from([0, 7, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 0x61, 0x2e, 0x62, 1, 0xff, 2, 0x69, 0x6f, 0, 0, 28, 0, 1]);
    const parsed = parseDnsMessage(q);
    expect(parsed.ok && parsed.message.questions[0]!.name).toBe('a\\.b.\\255.io.');
    const r = buildRefused(q)!;
    expect([...r.subarray(12)]).toEqual([...q.subarray(12)]);
    expect(u16(r, 2)).toBe(0x8000 | 0x0100 | 5);
  });

  it('echoes only the first question (qdcount 1); a query without a question gets none', () => {
    // Two questions, the second one compressed against the first (dns-packet does not compress).
    const two = Uint8Array.from([0, 9, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 1, 0x78, 2, 0x69, 0x6f, 0, 0, 1, 0, 1, 1, 0x79, 0xc0, 14, 0, 28, 0, 1]);
    const parsed = parseDnsMessage(two);
    expect(parsed.ok && parsed.message.questions.map((q) => q.name)).toEqual(['x.io.', 'y.io.']);
    const back = parseDnsMessage(buildRefused(two)!);
    expect(back.ok && back.message.questions).toEqual([{ name: 'x.io.', type: 1, typeName: 'A', class: 1 }]);
    const empty = Uint8Array.from([0, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect([...buildRefused(empty)!]).toEqual([0, 5, 0x81, 0x05, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('copies RD/CD only for QUERY; NXDOMAIN with --tofqdns-dns-reject-response-code=nameError', () => {
    const notify = Uint8Array.from([1, 2, 0x21, 0x10, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 1]); // opcode NOTIFY, RD, CD
    const r = buildRefused(notify)!;
    expect(u16(r, 2)).toBe(0x8000 | (4 << 11) | 5);
    const q = dnsPacket.encode({ id: 3, type: 'query', flags: dnsPacket.RECURSION_DESIRED | dnsPacket.CHECKING_DISABLED, questions: [{ name: 'a.io', type: 'A', class: 'IN' }] });
    expect(u16(buildRefused(q, 0, q.length, DnsRcode.NXDOMAIN)!, 2)).toBe(0x8000 | 0x0100 | 0x0010 | 3);
  });

  it('is undefined when the header or the first question cannot be read', () => {
    expect(buildRefused(Uint8Array.from([1, 2, 3]))).toBeUndefined();
    expect(buildRefused(Uint8Array.from([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 5, 0x61]))).toBeUndefined();
  });
});

describe("what the proxy's DNS server does before policy (miekg defaultMsgAcceptFunc)", () => {
  const query = (id: number, opts: Partial<{ opcode: number; qd: number; an: number; ar: number; qr: boolean }> = {}) => {
    const base = dnsPacket.encode({ id, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ name: 'a.io', type: 'A', class: 'IN' }] });
    const b = Uint8Array.from(base);
    if (opts.opcode !== undefined) b[2] = (b[2]! & 0x87) | (opts.opcode << 3);
    if (opts.qr) b[2]! |= 0x80;
    if (opts.qd !== undefined) b[5] = opts.qd;
    if (opts.an !== undefined) b[7] = opts.an;
    if (opts.ar !== undefined) b[11] = opts.ar;
    return b;
  };

  it.each([
    ['a plain query is accepted', query(1), 'accept'],
    ['a response is ignored (no answer: replies amplify)', query(2, { qr: true }), 'ignore'],
    ['a short header is ignored', Uint8Array.from([1, 2, 3, 4]), 'ignore'],
    ['UPDATE gets NOTIMP', query(3, { opcode: 5 }), 'notimp'],
    ['two questions get FORMERR', query(4, { qd: 2 }), 'formerr'],
    ['three additionals get FORMERR', query(5, { ar: 3 }), 'formerr'],
    ['a message that does not unpack gets FORMERR', query(6, { an: 1 }), 'formerr'],
  ] as const)('%s', (_name, bytes, action) => {
    expect(dnsAcceptAction(bytes)).toBe(action);
  });

  it('FORMERR and NOTIMP answers: request header with QR, empty sections', () => {
    const f = buildDnsReject(query(4, { qd: 2 }), 'formerr')!;
    expect([...f]).toEqual([0, 4, 0x81, 0x01, 0, 0, 0, 0, 0, 0, 0, 0]);
    const n = buildDnsReject(query(3, { opcode: 5 }), 'notimp')!;
    expect([...n]).toEqual([0, 3, 0x80 | (5 << 3) | 0x01, 0x04, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(buildDnsReject(query(1), 'accept')).toBeUndefined();
  });
});
