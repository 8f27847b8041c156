/**
 * The DNS parser never throws and never hangs on hostile input (design.md §6: fuzz the decoders),
 * agrees with dns-packet on messages dns-packet encodes, and the TCP stream decoder gives the same
 * messages however the stream is cut into segments.
 */
import dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildRefused, dnsAcceptAction, DnsStreamDecoder, frameDnsTcp, parseDnsMessage } from '../../src/proxy/dns.js';
import { formatIp, parseIp } from '../../src/net/addr.js';

const label = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,9}$/);
const name = fc.array(label, { minLength: 1, maxLength: 4 }).map((l) => l.join('.'));
const ipv4 = fc.ipV4();
const ipv6 = fc.ipV6();
const ttl = fc.integer({ min: 0, max: 0xffffffff });

const answer = fc.oneof(
  fc.record({ type: fc.constant('A' as const), name, ttl, data: ipv4 }),
  fc.record({ type: fc.constant('AAAA' as const), name, ttl, data: ipv6 }),
  fc.record({ type: fc.constant('CNAME' as const), name, ttl, data: name }),
  fc.record({ type: fc.constant('TXT' as const), name, ttl, data: fc.string({ maxLength: 20 }) }),
  fc.record({ type: fc.constant('MX' as const), name, ttl, data: fc.record({ preference: fc.integer({ min: 0, max: 65535 }), exchange: name }) }),
);

const packet = fc.record({
  id: fc.integer({ min: 0, max: 65535 }),
  type: fc.constantFrom('query' as const, 'response' as const),
  questions: fc.array(fc.record({ name, type: fc.constantFrom('A' as const, 'AAAA' as const, 'TXT' as const) }), { minLength: 1, maxLength: 2 }),
  answers: fc.array(answer, { maxLength: 5 }),
});

type Packet = typeof packet extends fc.Arbitrary<infer T> ? T : never;

function encode(p: Packet): Uint8Array {
  return Uint8Array.from(
    dnsPacket.encode({
      id: p.id,
      type: p.type,
      questions: p.questions.map((q) => ({ ...q, class: 'IN' as const })),
      answers: p.answers.map((a) => ({ ...a, class: 'IN' as const })) as dnsPacket.Answer[],
    }),
  );
}

function noThrow(bytes: Uint8Array): void {
  const r = parseDnsMessage(bytes);
  expect(typeof r.ok).toBe('boolean');
  if (!r.ok) expect(r.error.length).toBeGreaterThan(0);
  dnsAcceptAction(bytes);
  const refused = buildRefused(bytes);
  if (refused) expect(parseDnsMessage(refused).ok).toBe(true);
}

describe('hostile DNS input', () => {
  it('random bytes give a result, never an exception', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 700 }), (b) => noThrow(b)), { numRuns: 3000 });
  });

  it('mutated real messages (flips, cuts, insertions) give a result, never an exception', () => {
    const mutated = packet.chain((p) => {
      const bytes = encode(p);
      return fc.tuple(fc.constant(bytes), fc.array(fc.tuple(fc.nat(bytes.length), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'cut', 'insert')), { maxLength: 6 }));
    });
    fc.assert(
      fc.property(mutated, ([bytes, edits]) => {
        let b = bytes;
        for (const [at, v, op] of edits) {
          const i = Math.min(at, b.length);
          if (op === 'set' && i < b.length) b = Uint8Array.from(b, (x, j) => (j === i ? v : x));
          else if (op === 'cut') b = b.slice(0, i);
          else if (op === 'insert') b = Uint8Array.from([...b.subarray(0, i), v, ...b.subarray(i)]);
        }
        noThrow(b);
      }),
      { numRuns: 3000 },
    );
  });

  it('compression pointer loops and forward pointers are errors, not hangs', () => {
    // Question name = pointer to itself (offset 12), then a name pointing forward.
    const self = Uint8Array.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
    expect(parseDnsMessage(self)).toMatchObject({ ok: false });
    const forward = Uint8Array.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 14, 1, 0x61, 0, 0, 1, 0, 1]);
    expect(parseDnsMessage(forward)).toMatchObject({ ok: false });
    // A chain of 120 backward pointers is fine and bounded.
    const chain: number[] = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0x61, 0];
    for (let i = 0; i < 120; i++) chain.push(0xc0, 12 + (i === 0 ? 0 : 3 + 2 * (i - 1)));
    const msg = Uint8Array.from([...chain.slice(0, 12), ...chain.slice(12), 0, 1, 0, 1]);
    msg[5] = 1;
    const started = performance.now();
    parseDnsMessage(msg);
    expect(performance.now() - started).toBeLessThan(50);
  });

  it('names over 255 octets and records running past the end are errors', () => {
    const long: number[] = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for (let i = 0; i < 5; i++) long.push(63, ...new Array<number>(63).fill(0x61));
    long.push(0, 0, 1, 0, 1);
    expect(parseDnsMessage(Uint8Array.from(long))).toMatchObject({ ok: false, error: expect.stringContaining('255') });
    // An A record claiming 8 bytes of RDATA: miekg's "bad rdlength".
    const badA = Uint8Array.from([0, 1, 0x81, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0x61, 0, 0, 1, 0, 1, 0, 0, 0, 60, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(parseDnsMessage(badA)).toMatchObject({ ok: false, error: expect.stringContaining('rdlength') });
  });
});

describe('agreement with dns-packet', () => {
  it('messages dns-packet encodes parse to the same names, types, TTLs and addresses', () => {
    fc.assert(
      fc.property(packet, (p) => {
        const bytes = encode(p);
        // The oracle is dns-packet's own reading of the bytes (its encoder mangles some valid IPv6
        // texts such as ::0:0:0:0:0:0:1, so the input text is not).
        const oracle = dnsPacket.decode(Buffer.from(bytes));
        const r = parseDnsMessage(bytes);
        if (!r.ok) throw new Error(r.error);
        const m = r.message;
        expect(m.id).toBe(p.id);
        expect(m.qr).toBe(p.type === 'response');
        expect(m.questions.map((q) => [q.name, q.typeName])).toEqual(p.questions.map((q) => [`${q.name}.`, q.type]));
        expect(m.answers.map((a) => [a.name, a.typeName, a.ttl])).toEqual(p.answers.map((a) => [`${a.name}.`, a.type, a.ttl]));
        m.answers.forEach((a, i) => {
          const want = p.answers[i]!;
          if (want.type === 'A' || want.type === 'AAAA') {
            const ip = parseIp((oracle.answers![i] as { data: string }).data)!;
            expect(a.data).toBe(formatIp(ip.words, ip.family));
          } else if (want.type === 'CNAME') expect(a.data).toBe(`${want.data}.`);
        });
      }),
      { numRuns: 1000 },
    );
  });
});

describe('DNS over TCP', () => {
  it('any segmentation of a stream of several messages yields the same messages', () => {
    const stream = fc.array(packet, { minLength: 1, maxLength: 5 }).chain((ps) => {
      const msgs = ps.map(encode);
      const bytes = Uint8Array.from(msgs.flatMap((m) => [...frameDnsTcp(m)]));
      return fc.tuple(fc.constant(msgs), fc.constant(bytes), fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, bytes.length - 1) }), { maxLength: 12 }));
    });
    fc.assert(
      fc.property(stream, ([msgs, bytes, cuts]) => {
        const points = [0, ...cuts.filter((c) => c < bytes.length).sort((a, b) => a - b), bytes.length];
        const d = new DnsStreamDecoder();
        const got: Uint8Array[] = [];
        for (let i = 0; i + 1 < points.length; i++) for (const m of d.push(bytes.subarray(points[i], points[i + 1]))) got.push(m.bytes);
        expect(got.map((g) => [...g])).toEqual(msgs.map((m) => [...m]));
        expect(d.buffered).toBe(0);
        expect(d.messages).toBe(msgs.length);
      }),
      { numRuns: 500 },
    );
  });

  it('a frame shorter than a header closes the stream; a partial frame stays buffered, bounded', () => {
    const d = new DnsStreamDecoder();
    const q = encode({ id: 1, type: 'query', questions: [{ name: 'a.io', type: 'A' }], answers: [] });
    const framed = frameDnsTcp(q);
    expect(d.push(framed.subarray(0, 5))).toEqual([]);
    expect(d.buffered).toBe(5);
    expect(d.push(framed.subarray(5))).toHaveLength(1);
    const out = d.push(Uint8Array.from([0, 3, 1, 2, 3, ...framed]));
    expect(out).toHaveLength(1);
    expect(out[0]!.result.ok).toBe(false);
    expect(d.closed).toBe(true);
    expect(d.push(framed)).toEqual([]);
    // The largest frame: 65,535 bytes announced, 10 delivered: only those are held.
    const big = new DnsStreamDecoder();
    big.push(Uint8Array.from([0xff, 0xff, ...new Array<number>(10).fill(0)]));
    expect(big.buffered).toBe(12);
  });
});
