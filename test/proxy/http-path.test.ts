/**
 * `:path` and `:authority` as Envoy's filters see them (Cilium's listener sets
 * `normalize_path: true`; Envoy's HTTP/1 codec turns Host into `:authority` and splits an
 * absolute-form target). L7 path rules match this `:path`, query string included, so a request
 * for `/public/../private` is decided as `/private`.
 */
import { describe, expect, it } from 'vitest';
import { normalizePath } from '../../src/proxy/http.js';
import { bytes, recordingConnection } from './helpers.js';

describe('normalize_path (RFC 3986 dot segments, unreserved escapes decoded)', () => {
  it.each<[string, string]>([
    ['/v1/request-landing', '/v1/request-landing'],
    ['/public/../private', '/private'],
    ['/a/./b/./c', '/a/b/c'],
    ['/a/b/..', '/a/'],
    ['/a/b/.', '/a/b/'],
    ['/../../etc/passwd', '/etc/passwd'],
    ['/%2e%2e/secret', '/secret'],
    ['/public/%2E%2E/private', '/private'],
    ['/%41%42c', '/ABc'],
    ['/a%2Fb', '/a%2Fb'],
    ['/a%20b', '/a%20b'],
    ['/x/../y?q=/../z&p=%41', '/y?q=/../z&p=%41'],
    ['/x/..?', '/?'],
    ['*', '*'],
    ['/', '/'],
    ['//double//slash', '//double//slash'],
  ])('%s -> %s', (input, want) => {
    expect(normalizePath(input)).toBe(want);
  });
});

describe('request target, :path and :authority', () => {
  function head(text: string) {
    const { conn, ev } = recordingConnection();
    const b = bytes(text);
    conn.requestSink(b, 0, b.length, 0);
    expect(ev.errors).toEqual([]);
    return ev.requests[0]!;
  }

  it.each<[string, string, { target: string; path: string; authority: string; hasHost: boolean }]>([
    ['origin form', 'GET /v1/?a=1 HTTP/1.1\r\nHost: deathstar.default.svc.cluster.local\r\n\r\n', { target: '/v1/?a=1', path: '/v1/?a=1', authority: 'deathstar.default.svc.cluster.local', hasHost: true }],
    ['Host with port', 'GET / HTTP/1.1\r\nHost: api.example.com:8000\r\n\r\n', { target: '/', path: '/', authority: 'api.example.com:8000', hasHost: true }],
    ['host header name in any case', 'GET / HTTP/1.1\r\nhOsT: x\r\n\r\n', { target: '/', path: '/', authority: 'x', hasHost: true }],
    ['absolute form: authority from the URL', 'GET http://proxy.example:8080/p/../q?x HTTP/1.1\r\nHost: other\r\n\r\n', { target: 'http://proxy.example:8080/p/../q?x', path: '/q?x', authority: 'proxy.example:8080', hasHost: true }],
    ['absolute form without a path', 'GET http://a.example HTTP/1.1\r\n\r\n', { target: 'http://a.example', path: '/', authority: 'a.example', hasHost: false }],
    ['absolute form with only a query', 'GET http://a.example?x=1 HTTP/1.1\r\n\r\n', { target: 'http://a.example?x=1', path: '/?x=1', authority: 'a.example', hasHost: false }],
    ['asterisk form', 'OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n', { target: '*', path: '*', authority: 'h', hasHost: true }],
    ['no Host', 'GET /x HTTP/1.1\r\n\r\n', { target: '/x', path: '/x', authority: '', hasHost: false }],
    ['dot segments normalized, target kept', 'GET /public/../private HTTP/1.1\r\nHost: h\r\n\r\n', { target: '/public/../private', path: '/private', authority: 'h', hasHost: true }],
  ])('%s', (_name, text, want) => {
    const r = head(text);
    expect({ target: r.target, path: r.path, authority: r.authority, hasHost: r.hasHost }).toEqual(want);
  });

  it('UTF-8 in a header value is read as UTF-8; other high bytes are kept byte for byte', () => {
    const r = head('GET / HTTP/1.1\r\nHost: h\r\nX-Name: Zo\u00eb\r\n\r\n');
    expect(r.rawHeaders).toEqual(['Host', 'h', 'X-Name', 'Zo\u00eb']);
    const { conn, ev } = recordingConnection();
    const raw = Uint8Array.from([...bytes('GET / HTTP/1.1\r\nX-Bin: '), 0xff, 0xfe, ...bytes('\r\n\r\n')]);
    conn.requestSink(raw, 0, raw.length, 0);
    expect(ev.requests[0]!.rawHeaders[1]).toBe('\u00ff\u00fe');
  });
});
