/**
 * Message framing (RFC 9112 6.3, as http_parser and Envoy's codec apply it): Content-Length and
 * chunked bodies counted not kept, HEAD responses and 1xx/204/304 without body, a response read
 * until the end of the stream, HTTP/1.0 and keep-alive, `Expect: 100-continue`,
 * `Connection: close`, and an upgrade ending HTTP on the connection.
 */
import { describe, expect, it } from 'vitest';
import { HttpDirection } from '../../src/proxy/http.js';
import { bytes, recordingConnection } from './helpers.js';

function send(sink: (b: Uint8Array, o: number, n: number, ts: number) => void, text: string, ts = 0) {
  const b = bytes(text);
  sink(b, 0, b.length, ts);
}

describe('request bodies', () => {
  it.each<[string, string, { contentLength: number; chunked: boolean; bodyBytes: number }]>([
    ['no body without Content-Length or Transfer-Encoding', 'GET / HTTP/1.1\r\nHost: h\r\n\r\n', { contentLength: -1, chunked: false, bodyBytes: 0 }],
    ['Content-Length', 'PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello', { contentLength: 5, chunked: false, bodyBytes: 5 }],
    ['Content-Length: 0', 'POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n', { contentLength: 0, chunked: false, bodyBytes: 0 }],
    ['the same Content-Length twice', 'POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc', { contentLength: 3, chunked: false, bodyBytes: 3 }],
    ['chunked', 'POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n', { contentLength: -1, chunked: true, bodyBytes: 31 }],
    ['chunked with extensions and trailers', 'POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;name=v\r\nhello\r\n0\r\nX-Checksum: 1\r\n\r\n', { contentLength: -1, chunked: true, bodyBytes: 5 }],
  ])('%s', (_name, text, want) => {
    const { conn, ev } = recordingConnection();
    send(conn.requestSink, text + 'GET /after HTTP/1.1\r\nHost: h\r\n\r\n');
    expect(ev.errors).toEqual([]);
    const r = ev.requests[0]!;
    expect({ contentLength: r.contentLength, chunked: r.chunked, bodyBytes: r.bodyBytes }).toEqual(want);
    expect(r.complete).toBe(true);
    expect(ev.requests[1]!.path).toBe('/after');
  });

  it('a body that arrives later completes the request later', () => {
    const { conn, ev } = recordingConnection();
    send(conn.requestSink, 'POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n12345', 1);
    expect(ev.requests[0]!.complete).toBe(false);
    expect(ev.requests[0]!.headersTs).toBe(1);
    send(conn.requestSink, '67890', 2);
    expect(ev.requests[0]!.complete).toBe(true);
    expect(ev.requests[0]!.completeTs).toBe(2);
    expect(ev.order).toEqual(['req-head', 'req-done']);
  });

  it('chunk framing split byte by byte', () => {
    const { conn, ev } = recordingConnection();
    const text = 'POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n';
    for (const ch of text) send(conn.requestSink, ch);
    expect(ev.errors).toEqual([]);
    expect(ev.requests[0]!.bodyBytes).toBe(19);
    expect(ev.requests[0]!.complete).toBe(true);
  });
});

describe('response bodies', () => {
  function exchange(reqs: string, res: string, endResponse = false) {
    const { conn, ev } = recordingConnection();
    send(conn.requestSink, reqs, 1);
    send(conn.responseSink, res, 2);
    if (endResponse) conn.end(HttpDirection.RESPONSE, 3);
    return { conn, ev };
  }

  it('a HEAD response has no body whatever its Content-Length', () => {
    const { ev } = exchange(
      'HEAD /big HTTP/1.1\r\nHost: h\r\n\r\nGET /small HTTP/1.1\r\nHost: h\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
    );
    expect(ev.errors).toEqual([]);
    expect(ev.responses.map((r) => [r.request?.method, r.contentLength, r.bodyBytes, r.complete])).toEqual([
      ['HEAD', 1000, 0, true],
      ['GET', 2, 2, true],
    ]);
  });

  it.each([204, 304])('a %i response has no body', (status) => {
    const { ev } = exchange('GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n', `HTTP/1.1 ${status} X\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz`);
    expect(ev.responses.map((r) => [r.status, r.request?.path])).toEqual([
      [status, '/a'],
      [200, '/b'],
    ]);
  });

  it('a response without length is read to the end of the stream (Connection: close)', () => {
    const { ev } = exchange('GET / HTTP/1.1\r\nHost: h\r\n\r\n', 'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of this is body', true);
    expect(ev.errors).toEqual([]);
    expect(ev.responses[0]!.keepAlive).toBe(false);
    expect(ev.responses[0]!.bodyBytes).toBe(19);
    expect(ev.responses[0]!.complete).toBe(true);
    expect(ev.responses[0]!.completeTs).toBe(3);
    expect(ev.order).toEqual(['req-head', 'req-done', 'res-head', 'res-done']);
  });

  it('a chunked response', () => {
    const { ev } = exchange('GET / HTTP/1.1\r\nHost: h\r\n\r\n', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n');
    expect(ev.responses[0]!.bodyBytes).toBe(9);
    expect(ev.responses[0]!.complete).toBe(true);
  });

  it('a response cut short by the end of the stream is reported', () => {
    const { ev } = exchange('GET / HTTP/1.1\r\nHost: h\r\n\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort', true);
    expect(ev.responses[0]!.complete).toBe(false);
    expect(ev.errors).toEqual([{ direction: HttpDirection.RESPONSE, code: 'HPE_INCOMPLETE', reason: 'stream ended inside a message' }]);
  });

  it('an RST between messages is not an error', () => {
    const { conn, ev } = exchange('GET / HTTP/1.1\r\nHost: h\r\n\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx');
    conn.end(HttpDirection.REQUEST, 4, true);
    conn.end(HttpDirection.RESPONSE, 4, true);
    expect(ev.errors).toEqual([]);
  });
});

describe('HTTP/1.0', () => {
  it('no keep-alive unless asked; a body read to the end', () => {
    const { conn, ev } = recordingConnection();
    send(conn.requestSink, 'GET /v1/request-landing HTTP/1.0\r\nHost: deathstar\r\n\r\n', 1);
    send(conn.responseSink, 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nShip landed\n', 2);
    conn.end(HttpDirection.RESPONSE, 3);
    const r = ev.requests[0]!;
    expect([r.version, r.versionMajor, r.versionMinor, r.keepAlive, r.authority]).toEqual(['HTTP/1.0', 1, 0, false, 'deathstar']);
    expect(ev.responses[0]!.bodyBytes).toBe(12);
    expect(ev.responses[0]!.version).toBe('HTTP/1.0');
  });

  it('keep-alive when the client asks for it', () => {
    const { conn, ev } = recordingConnection();
    send(conn.requestSink, 'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\n', 1);
    expect(ev.requests.map((r) => [r.path, r.keepAlive, r.hasHost])).toEqual([
      ['/', true, false],
      ['/2', false, false],
    ]);
  });

  it('Connection: close on HTTP/1.1', () => {
    const { conn, ev } = recordingConnection();
    send(conn.requestSink, 'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n', 1);
    expect(ev.requests[0]!.keepAlive).toBe(false);
  });
});

describe('Expect: 100-continue', () => {
  it('the interim 100 pairs with nothing; the final response pairs with the request', () => {
    const { conn, ev } = recordingConnection();
    send(conn.requestSink, 'PUT /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n', 1);
    expect(ev.requests[0]!.expectContinue).toBe(true);
    expect(ev.requests[0]!.complete).toBe(false);
    send(conn.responseSink, 'HTTP/1.1 100 Continue\r\n\r\n', 2);
    send(conn.requestSink, 'data', 3);
    send(conn.responseSink, 'HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n', 4);
    expect(ev.informational.map((r) => [r.status, r.index, r.request?.path])).toEqual([[100, -1, '/upload']]);
    expect(ev.responses.map((r) => [r.status, r.index, r.request?.path])).toEqual([[201, 0, '/upload']]);
    expect(ev.order).toEqual(['req-head', 'info', 'req-done', 'res-head', 'res-done']);
  });
});

describe('upgrade ends HTTP on the connection', () => {
  it('CONNECT: later bytes are opaque', () => {
    const { conn, ev } = recordingConnection();
    send(conn.requestSink, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01binary', 1);
    expect(ev.requests.map((r) => [r.method, r.authority, r.path, r.upgrade])).toEqual([['CONNECT', 'example.com:443', '', true]]);
    expect(conn.upgraded(HttpDirection.REQUEST)).toBe(true);
    expect(conn.opaqueBytes[0]).toBe(9);
    send(conn.responseSink, 'HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03tls', 2);
    expect(ev.responses.map((r) => r.status)).toEqual([200]);
    expect(conn.opaqueBytes[1]).toBe(6);
    expect(ev.errors).toEqual([]);
  });

  it('101 Switching Protocols', () => {
    const { conn, ev } = recordingConnection();
    send(conn.requestSink, 'GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n', 1);
    send(conn.responseSink, 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x05hello', 2);
    send(conn.requestSink, '\x81\x85mask!', 3);
    expect(ev.responses.map((r) => [r.status, r.request?.path])).toEqual([[101, '/ws']]);
    expect(conn.upgraded(HttpDirection.RESPONSE)).toBe(true);
    expect(conn.opaqueBytes).toEqual([bytes('\x81\x85mask!').length, bytes('\x81\x05hello').length]);
    expect(ev.errors).toEqual([]);
  });
});
