/**
 * Envoy's own answers and log shape (src/proxy/envoy.ts). The 403 is byte-exact against what
 * Cilium's filter (cilium/proxy l7policy.cc: "Access denied" + CRLF) and Envoy's local reply
 * and HTTP/1 codec produce, in the header order Envoy's public 403s show (`content-length`,
 * `content-type`, `date`, `server`, e.g. Envoy/Apigee troubleshooting pages); the L7 record
 * follows Cilium's access log (`http://host/path`, protocol `HTTP/1.1`) and Hubble's header
 * listing (canonical keys, sorted).
 */
import { describe, expect, it } from 'vitest';
import {
  canonicalHeaderKey,
  denialClosesConnection,
  ENVOY_ACCESS_DENIED_BODY,
  envoyAccessDenied,
  envoyLocalReply,
  envoyUrl,
  hubbleHeaders,
  imfFixdate,
  l7HttpRecord,
} from '../../src/proxy/envoy.js';
import { HttpDirection } from '../../src/proxy/http.js';
import { bytes, latin1, recordingConnection } from './helpers.js';

/** 2026-01-01T00:00:00Z, the Star Wars capture's server date. */
const T = Date.UTC(2026, 0, 1) / 1000;

function parseRequest(text: string) {
  const { conn, ev } = recordingConnection();
  const b = bytes(text);
  conn.requestSink(b, 0, b.length, 0);
  return ev.requests[0]!;
}

const PUT = parseRequest('PUT /v1/exhaust-port HTTP/1.1\r\nHost: deathstar.default.svc.cluster.local\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n');

describe('the 403 Envoy sends for a denied request', () => {
  it('is byte-exact', () => {
    expect(latin1(envoyAccessDenied(PUT, T))).toBe(
      'HTTP/1.1 403 Forbidden\r\n' +
        'content-length: 15\r\n' +
        'content-type: text/plain\r\n' +
        'date: Thu, 01 Jan 2026 00:00:00 GMT\r\n' +
        'server: envoy\r\n' +
        '\r\n' +
        'Access denied\r\n',
    );
  });

  it('the body is "Access denied" with CRLF, 15 bytes, as content-length says', () => {
    expect(ENVOY_ACCESS_DENIED_BODY).toBe('Access denied\r\n');
    expect(bytes(ENVOY_ACCESS_DENIED_BODY).length).toBe(15);
  });

  it('parses as one complete 403 response with our parser', () => {
    const { conn, ev } = recordingConnection();
    const q = bytes('PUT /v1/exhaust-port HTTP/1.1\r\nHost: d\r\n\r\n');
    conn.requestSink(q, 0, q.length, 0);
    const a = envoyAccessDenied(PUT, T);
    conn.responseSink(a, 0, a.length, 1);
    expect(ev.errors).toEqual([]);
    expect(ev.responses.map((r) => [r.status, r.reason, r.contentLength, r.bodyBytes, r.complete, r.keepAlive])).toEqual([[403, 'Forbidden', 15, 15, true, true]]);
  });

  it('the date is the capture time as an IMF-fixdate', () => {
    expect(imfFixdate(T + 3661.9)).toBe('Thu, 01 Jan 2026 01:01:01 GMT');
    expect(imfFixdate(0)).toBe('Thu, 01 Jan 1970 00:00:00 GMT');
    expect(latin1(envoyAccessDenied(PUT, 1_700_000_000))).toContain('\r\ndate: Tue, 14 Nov 2023 22:13:20 GMT\r\n');
  });

  it('an HTTP/1.0 client gets an HTTP/1.0 status line and connection: close', () => {
    const r = parseRequest('PUT /v1/exhaust-port HTTP/1.0\r\nHost: d\r\n\r\n');
    expect(latin1(envoyAccessDenied(r, T))).toBe(
      'HTTP/1.0 403 Forbidden\r\ncontent-length: 15\r\ncontent-type: text/plain\r\ndate: Thu, 01 Jan 2026 00:00:00 GMT\r\nserver: envoy\r\nconnection: close\r\n\r\nAccess denied\r\n',
    );
  });

  it('Connection: close from the client adds connection: close after server', () => {
    const r = parseRequest('PUT /x HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n');
    expect(latin1(envoyAccessDenied(r, T))).toContain('server: envoy\r\nconnection: close\r\n\r\n');
  });

  it.each<[string, string, boolean]>([
    ['keep-alive, no body: the connection stays up', 'PUT /x HTTP/1.1\r\nHost: d\r\n\r\n', false],
    ['Content-Length: 0', 'POST /x HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\n\r\n', false],
    ['a body still to come', 'POST /x HTTP/1.1\r\nHost: d\r\nContent-Length: 5\r\n\r\n', true],
    ['chunked', 'POST /x HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\n', true],
    ['Connection: close', 'GET /x HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n', true],
  ])('closes the connection? %s', (_name, text, closes) => {
    expect(denialClosesConnection(parseRequest(text))).toBe(closes);
  });

  it('other local replies use Envoy\'s reason phrases', () => {
    expect(latin1(envoyLocalReply(400, '', T))).toBe('HTTP/1.1 400 Bad Request\r\ndate: Thu, 01 Jan 2026 00:00:00 GMT\r\nserver: envoy\r\n\r\n');
  });
});

describe('the L7 record of a request and its response', () => {
  it('Star Wars PUT as Hubble shows it', () => {
    expect(l7HttpRecord(PUT)).toEqual({
      method: 'PUT',
      url: 'http://deathstar.default.svc.cluster.local/v1/exhaust-port',
      protocol: 'HTTP/1.1',
      headers: [
        { key: 'Accept', value: '*/*' },
        { key: 'User-Agent', value: 'curl/7.88.1' },
      ],
    });
    expect(l7HttpRecord(PUT, { code: 403 }).code).toBe(403);
  });

  it.each<[string, string]>([
    ['GET /v1/?a=1&b=2 HTTP/1.1\r\nHost: h:8080\r\n\r\n', 'http://h:8080/v1/?a=1&b=2'],
    ['GET http://proxy.example/p/../q HTTP/1.1\r\n\r\n', 'http://proxy.example/q'],
    ['OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n', 'http://h/*'],
  ])('url of %j', (text, url) => {
    expect(envoyUrl(parseRequest(text))).toBe(url);
  });

  it('protocol follows the request version', () => {
    expect(l7HttpRecord(parseRequest('GET / HTTP/1.0\r\n\r\n')).protocol).toBe('HTTP/1.0');
  });

  it('headers: canonical keys, sorted, values in order; Host and hop-by-hop headers not logged', () => {
    const raw = ['host', 'h', 'x-b', '2', 'X-A', '1', 'x-b', '3', 'Connection', 'keep-alive', 'Keep-Alive', 'timeout=5', 'TE', 'gzip', 'user-agent', 'curl'];
    expect(hubbleHeaders(raw, [['x-request-id', 'r1']])).toEqual([
      { key: 'User-Agent', value: 'curl' },
      { key: 'X-A', value: '1' },
      { key: 'X-B', value: '2' },
      { key: 'X-B', value: '3' },
      { key: 'X-Request-Id', value: 'r1' },
    ]);
  });

  it.each([
    ['x-request-id', 'X-Request-Id'],
    ['content-type', 'Content-Type'],
    ['www-authenticate', 'Www-Authenticate'],
    ['x_under', 'X_under'],
    ['bad key', 'bad key'],
  ])('canonical key %s -> %s', (k, want) => {
    expect(canonicalHeaderKey(k)).toBe(want);
  });

  it('a response record repeats the request\'s method, url and headers with the code', () => {
    const { conn, ev } = recordingConnection();
    const q = bytes('POST /v1/request-landing HTTP/1.1\r\nHost: deathstar\r\nAccept: */*\r\n\r\n');
    conn.requestSink(q, 0, q.length, 0);
    const a = bytes('HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nShip landed\n');
    conn.responseSink(a, 0, a.length, 1);
    conn.end(HttpDirection.RESPONSE, 2);
    const res = ev.responses[0]!;
    expect(l7HttpRecord(res.request!, { code: res.status })).toEqual({
      code: 200,
      method: 'POST',
      url: 'http://deathstar/v1/request-landing',
      protocol: 'HTTP/1.1',
      headers: [{ key: 'Accept', value: '*/*' }],
    });
  });
});
