/**
 * Keep-alive and pipelining (RFC 9112 9.3): several requests on one connection, several in one
 * segment, responses paired with requests in order. Issue 5: "a pipelined pair decided
 * correctly".
 */
import { describe, expect, it } from 'vitest';
import { HttpDirection } from '../../src/proxy/http.js';
import { bytes, recordingConnection } from './helpers.js';

const GET = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: deathstar.default.svc.cluster.local\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n${extra}\r\n`;
const OK = (body: string) => `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

function send(sink: (b: Uint8Array, o: number, n: number, ts: number) => void, text: string, ts: number) {
  const b = bytes(text);
  sink(b, 0, b.length, ts);
}

describe('pipelining', () => {
  it('two requests in one segment are two requests, in order, both heads reported before any response', () => {
    const { conn, ev } = recordingConnection();
    send(conn.requestSink, GET('/v1/request-landing') + GET('/v1/exhaust-port'), 10);
    expect(ev.requests.map((r) => [r.index, r.path, r.headersTs])).toEqual([
      [0, '/v1/request-landing', 10],
      [1, '/v1/exhaust-port', 10],
    ]);
    expect(conn.unanswered.map((r) => r.path)).toEqual(['/v1/request-landing', '/v1/exhaust-port']);
    send(conn.responseSink, OK('Ship landed\n') + 'HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\n\r\nboom!', 20);
    expect(ev.responses.map((r) => [r.status, r.request?.path, r.bodyBytes])).toEqual([
      [200, '/v1/request-landing', 12],
      [503, '/v1/exhaust-port', 5],
    ]);
    expect(ev.requests.map((r) => r.response?.status)).toEqual([200, 503]);
    expect(conn.unanswered).toEqual([]);
    expect(ev.order).toEqual(['req-head', 'req-done', 'req-head', 'req-done', 'res-head', 'res-done', 'res-head', 'res-done']);
  });

  it('a pipelined pair split in the middle of the second request', () => {
    const { conn, ev } = recordingConnection();
    const text = GET('/a') + GET('/b?x=1');
    const cut = text.indexOf('GET /b') + 7;
    send(conn.requestSink, text.slice(0, cut), 1);
    expect(ev.requests.map((r) => r.path)).toEqual(['/a']);
    send(conn.requestSink, text.slice(cut), 2);
    expect(ev.requests.map((r) => [r.path, r.headersTs])).toEqual([
      ['/a', 1],
      ['/b?x=1', 2],
    ]);
  });

  it('a request with a body followed by another in the same segment', () => {
    const { conn, ev } = recordingConnection();
    send(conn.requestSink, 'POST /v1/request-landing HTTP/1.1\r\nHost: d\r\nContent-Length: 10\r\n\r\n{"ship":1}' + GET('/next'), 3);
    expect(ev.requests.map((r) => [r.method, r.path, r.bodyBytes, r.complete])).toEqual([
      ['POST', '/v1/request-landing', 10, true],
      ['GET', '/next', 0, true],
    ]);
  });

  it('many pipelined requests in one segment, answered in one segment', () => {
    const { conn, ev } = recordingConnection();
    const n = 200;
    send(conn.requestSink, Array.from({ length: n }, (_, i) => GET(`/item/${i}`)).join(''), 1);
    send(conn.responseSink, Array.from({ length: n }, (_, i) => OK(`body ${i}`)).join(''), 2);
    expect(ev.requests).toHaveLength(n);
    expect(ev.responses.map((r) => r.request!.path)).toEqual(Array.from({ length: n }, (_, i) => `/item/${i}`));
    expect(ev.responses.every((r, i) => r.bodyBytes === `body ${i}`.length)).toBe(true);
  });
});

describe('keep-alive sequence', () => {
  it('request, response, request, response on one connection', () => {
    const { conn, ev } = recordingConnection();
    let ts = 0;
    for (const path of ['/v1/request-landing', '/v1/exhaust-port', '/v1/']) {
      send(conn.requestSink, GET(path), ++ts);
      send(conn.responseSink, OK(`answer for ${path}`), ++ts);
    }
    expect(ev.requests.map((r) => [r.index, r.path, r.keepAlive, r.response?.index])).toEqual([
      [0, '/v1/request-landing', true, 0],
      [1, '/v1/exhaust-port', true, 1],
      [2, '/v1/', true, 2],
    ]);
    // Latency from the request's completion to the response's head, in the caller's clock.
    expect(ev.responses.map((r) => r.headersTs - r.request!.completeTs)).toEqual([1, 1, 1]);
    conn.end(HttpDirection.REQUEST, 10);
    conn.end(HttpDirection.RESPONSE, 10);
    expect(ev.errors).toEqual([]);
  });

  it('a response with no request waiting (capture started mid-connection) pairs with nothing', () => {
    const { conn, ev } = recordingConnection();
    send(conn.responseSink, OK('x'), 1);
    expect(ev.responses[0]!.request).toBeNull();
    expect(conn.orphanResponses).toBe(1);
    send(conn.requestSink, GET('/later'), 2);
    send(conn.responseSink, OK('y'), 3);
    expect(ev.responses[1]!.request?.path).toBe('/later');
  });
});
