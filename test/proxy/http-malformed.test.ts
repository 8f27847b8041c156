/**
 * Malformed input (issue 5 / style.md "the core never throws on packet contents"): garbage, bad
 * framing and oversized heads give one error per direction through the callback, never an
 * exception out of the sink and never a hang; the direction then ignores its bytes, as Envoy
 * answers 400 and closes. Where http-parser-js is laxer than Envoy's codec, hubcap is strict:
 * non-numeric Content-Length, Content-Length with chunked on a request
 * (`allow_chunked_length: false`), a Transfer-Encoding other than chunked, a bad chunk size.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HttpConnection, HttpDirection } from '../../src/proxy/http.js';
import { bytes, recordingConnection } from './helpers.js';

function send(sink: (b: Uint8Array, o: number, n: number, ts: number) => void, data: string | Uint8Array, ts = 0) {
  const b = typeof data === 'string' ? bytes(data) : data;
  sink(b, 0, b.length, ts);
}

describe('malformed requests', () => {
  it.each<[string, string, string]>([
    ['garbage', 'GARBAGE\r\n\r\n', 'HPE_INVALID_CONSTANT'],
    ['TLS on a plaintext port', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n', 'HPE_INVALID_CONSTANT'],
    ['HTTP/2 prior knowledge', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'HPE_INVALID_METHOD'],
    ['unknown method', 'BREW /pot HTTP/1.1\r\nHost: h\r\n\r\n', 'HPE_INVALID_METHOD'],
    ['two spaces in the request line', 'GET  / HTTP/1.1\r\nHost: h\r\n\r\n', 'HPE_INVALID_CONSTANT'],
    ['non-numeric Content-Length', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n', 'HPE_INVALID_CONTENT_LENGTH'],
    ['negative Content-Length', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -5\r\n\r\n', 'HPE_INVALID_CONTENT_LENGTH'],
    ['conflicting Content-Length', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', 'HPE_UNEXPECTED_CONTENT_LENGTH'],
    ['Content-Length and chunked (smuggling)', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 'HPE_UNEXPECTED_CONTENT_LENGTH'],
    ['Transfer-Encoding other than chunked', 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 'HPE_INVALID_TRANSFER_ENCODING'],
    ['bad chunk size', 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 'HPE_INVALID_CHUNK_SIZE'],
    ['negative chunk size', 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nabc\r\n', 'HPE_INVALID_CHUNK_SIZE'],
    ['CR inside a header line', 'GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n', 'HPE_LF_EXPECTED'],
  ])('%s: one error, nothing after it parsed', (_name, text, code) => {
    const { conn, ev } = recordingConnection();
    expect(() => send(conn.requestSink, text + 'GET /after HTTP/1.1\r\nHost: h\r\n\r\n', 5)).not.toThrow();
    expect(ev.errors.map((e) => [e.direction, e.code])).toEqual([[HttpDirection.REQUEST, code]]);
    expect(conn.errored(HttpDirection.REQUEST)).toBe(true);
    expect(ev.requests.map((r) => r.path)).not.toContain('/after');
    // Later bytes are ignored and counted, without a second error.
    send(conn.requestSink, 'GET /later HTTP/1.1\r\nHost: h\r\n\r\n', 6);
    expect(ev.errors).toHaveLength(1);
    expect(conn.ignoredBytes[0]).toBeGreaterThan(0);
  });

  it('a head larger than the limit is an overflow, not unbounded buffering', () => {
    const { conn, ev } = recordingConnection();
    send(conn.requestSink, 'GET / HTTP/1.1\r\nHost: h\r\n');
    const line = `X-Big: ${'a'.repeat(1000)}\r\n`;
    for (let i = 0; i < 200 && ev.errors.length === 0; i++) send(conn.requestSink, line);
    expect(ev.errors.map((e) => e.code)).toEqual(['HPE_HEADER_OVERFLOW']);
  });

  it('a header line that never ends is an overflow', () => {
    const { conn, ev } = recordingConnection();
    send(conn.requestSink, 'GET / HTTP/1.1\r\nX-Endless: ');
    const chunk = 'b'.repeat(4096);
    for (let i = 0; i < 100 && ev.errors.length === 0; i++) send(conn.requestSink, chunk);
    expect(ev.errors.map((e) => e.code)).toEqual(['HPE_HEADER_OVERFLOW']);
  });

  it('a chunk-size line that never ends is an overflow', () => {
    const { conn, ev } = recordingConnection();
    send(conn.requestSink, 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n');
    const chunk = '0'.repeat(4096);
    let sent = 0;
    for (let i = 0; i < 100 && ev.errors.length === 0; i++, sent += chunk.length) send(conn.requestSink, chunk);
    expect(ev.errors.map((e) => e.code)).toEqual(['HPE_HEADER_OVERFLOW']);
    expect(sent).toBeLessThanOrEqual(80 * 1024 + 4096);
  });

  it('a big segment of valid pipelined requests is not mistaken for a big head', () => {
    const { conn, ev } = recordingConnection();
    const one = `GET /x HTTP/1.1\r\nHost: h\r\nX-Pad: ${'p'.repeat(200)}\r\n\r\n`;
    send(conn.requestSink, one.repeat(2000));
    expect(ev.errors).toEqual([]);
    expect(ev.requests).toHaveLength(2000);
  });
});

describe('malformed responses', () => {
  it('garbage from the server errors the response direction only', () => {
    const { conn, ev } = recordingConnection();
    send(conn.requestSink, 'GET / HTTP/1.1\r\nHost: h\r\n\r\n');
    send(conn.responseSink, 'SSH-2.0-OpenSSH_9.6\r\n');
    expect(ev.errors.map((e) => [e.direction, e.code])).toEqual([[HttpDirection.RESPONSE, 'HPE_INVALID_CONSTANT']]);
    send(conn.requestSink, 'GET /next HTTP/1.1\r\nHost: h\r\n\r\n');
    expect(ev.requests.map((r) => r.path)).toEqual(['/', '/next']);
  });
});

describe('handler exceptions are not parse errors', () => {
  it('propagate to the caller', () => {
    const conn = new HttpConnection({
      onRequestHeaders: () => {
        throw new Error('bug in the caller');
      },
    });
    const b = bytes('GET / HTTP/1.1\r\nHost: h\r\n\r\n');
    expect(() => conn.requestSink(b, 0, b.length, 0)).toThrow('bug in the caller');
  });
});

describe('fuzz: never throws, never hangs, at most one error per direction', () => {
  const valid = [
    'GET /v1/request-landing HTTP/1.1\r\nHost: deathstar\r\n\r\n',
    'POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
    'PUT /y HTTP/1.0\r\nContent-Length: 3\r\n\r\nxyz',
    'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
    'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n',
  ].map(bytes);

  it('random bytes and mutated messages, cut anywhere, both directions', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.tuple(fc.integer({ min: 0, max: valid.length - 1 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 })).map(([i, muts]) => {
            const b = valid[i]!.slice();
            for (const [at, v] of muts) b[at % b.length] = v;
            return b;
          }),
        ),
        fc.array(fc.nat(), { maxLength: 6 }),
        (data, cutsRaw) => {
          for (const dir of [HttpDirection.REQUEST, HttpDirection.RESPONSE]) {
            const { conn, ev } = recordingConnection();
            const sink = dir === HttpDirection.REQUEST ? conn.requestSink : conn.responseSink;
            const cuts = [...new Set(cutsRaw.map((c) => (data.length === 0 ? 0 : c % data.length)))].sort((a, b) => a - b);
            let prev = 0;
            for (const c of [...cuts, data.length]) {
              sink(data, prev, c - prev, 0);
              prev = c;
            }
            conn.end(dir, 1);
            conn.end(dir, 2, true);
            expect(ev.errors.length).toBeLessThanOrEqual(1);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
