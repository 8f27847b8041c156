/**
 * What Cilium's Envoy says and logs for HTTP: its own denial answer, byte for byte, and the
 * access-log shape of a request or response (the L7Http record the flow printers read).
 *
 * Mirrors:
 *  - cilium/proxy cilium/l7policy.cc: a denied request gets
 *    `sendLocalReply(Http::Code::Forbidden, denied_403_body_)`, the body "Access denied" with
 *    "\r\n" appended (Config::Config).
 *  - Envoy's local reply (source/common/http/utility.cc `sendLocalReply`): `:status`, then
 *    `content-length` and `content-type: text/plain` for a non-empty body; the connection
 *    manager's encodeHeaders (conn_manager_impl.cc) then sets `date` (DateProvider,
 *    IMF-fixdate) and `server` (server_name, default "envoy"), and `connection: close` when the
 *    connection is draining (the request said `Connection: close`, or was HTTP/1.0 without
 *    keep-alive). Header maps keep insertion order; the HTTP/1 codec (codec_impl.cc
 *    ResponseEncoderImpl::encodeHeaders) writes `HTTP/1.1 ` (`HTTP/1.0 ` to an HTTP/1.0
 *    client, as Cilium enables accept_http_10), the code and Envoy's reason phrase, then the
 *    lower-case keys. So a denial reads:
 *
 *      HTTP/1.1 403 Forbidden\r\n
 *      content-length: 15\r\n
 *      content-type: text/plain\r\n
 *      date: Thu, 01 Jan 2026 00:00:00 GMT\r\n
 *      server: envoy\r\n
 *      \r\n
 *      Access denied\r\n
 *
 *    Envoy answers at request-headers time. When the request still has a body to come
 *    (Content-Length > 0 or chunked), the stream ends before the request did and Envoy's HTTP/1
 *    codec resets it, closing the downstream connection (conn_manager_impl.cc doEndStream);
 *    `denialClosesConnection` says when. (Read from Envoy's source; not checked against a live
 *    Envoy.)
 *  - The access log: cilium/proxy accesslog.cc (InitFromRequest: the request's headers
 *    without pseudo-headers, keys lower-cased by Envoy's codec, after the connection manager
 *    removed hop-by-hop headers), pkg/envoy/accesslog_server.go + utils.go (`ParseURL(scheme,
 *    host, path)` = `scheme://host/path`, headers into a Go http.Header, which canonicalizes
 *    keys), Hubble's parser/seven/http.go (headers sorted by key, values in order). Response
 *    records repeat the request's method, URL and headers and add the status code.
 *
 * Deliberate differences: headers Envoy itself adds before logging (x-request-id, a random
 * UUID; x-forwarded-proto; x-envoy-internal; x-forwarded-for) are not invented; a caller that
 * wants them passes them as `extraHeaders`.
 */
import type { L7Http } from '../datapath/events.js';
import type { HttpRequest } from './http.js';

/** The body Cilium's filter sends with its 403 (l7policy.cc: "Access denied" + CRLF). */
export const ENVOY_ACCESS_DENIED_BODY = 'Access denied\r\n';

/** Envoy's reason phrases (source/common/http/codes.cc CodeUtility::toString) for local replies. */
const REASON: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  413: 'Payload Too Large',
  426: 'Upgrade Required',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
};

/**
 * IMF-fixdate (RFC 9110 5.6.7), as Envoy's DateFormatter "%a, %d %b %Y %H:%M:%S GMT" writes the
 * `date` header, for a capture time in seconds since the epoch.
 */
export function imfFixdate(tsSec: number): string {
  return new Date(Math.floor(tsSec) * 1000).toUTCString();
}

export interface LocalReplyOptions {
  /** The client spoke HTTP/1.0: the status line says `HTTP/1.0`. */
  http10?: boolean;
  /** Add `connection: close` (the connection is draining). */
  connectionClose?: boolean;
  /** `server` header value (Envoy's server_name). @default 'envoy' */
  server?: string;
}

/** The bytes of an Envoy local reply with a text body, as its HTTP/1 codec writes them. */
export function envoyLocalReply(status: number, body: string, tsSec: number, opts: LocalReplyOptions = {}): Uint8Array {
  const reason = REASON[status] ?? 'Unknown';
  const bodyBytes = Buffer.from(body, 'utf8');
  let head = `HTTP/1.${opts.http10 ? 0 : 1} ${status} ${reason}\r\n`;
  if (bodyBytes.length > 0) head += `content-length: ${bodyBytes.length}\r\ncontent-type: text/plain\r\n`;
  head += `date: ${imfFixdate(tsSec)}\r\nserver: ${opts.server ?? 'envoy'}\r\n`;
  if (opts.connectionClose) head += 'connection: close\r\n';
  head += '\r\n';
  const headBytes = Buffer.from(head, 'latin1');
  const out = new Uint8Array(headBytes.length + bodyBytes.length);
  out.set(headBytes, 0);
  out.set(bodyBytes, headBytes.length);
  return out;
}

/**
 * Envoy's 403 for a request Cilium's L7 policy denied, at capture time `tsSec`; the status
 * line's version and `connection: close` follow the request as Envoy's would.
 */
export function envoyAccessDenied(req: Pick<HttpRequest, 'versionMajor' | 'versionMinor' | 'keepAlive'>, tsSec: number): Uint8Array {
  return envoyLocalReply(403, ENVOY_ACCESS_DENIED_BODY, tsSec, {
    http10: req.versionMajor === 1 && req.versionMinor === 0,
    connectionClose: !req.keepAlive,
  });
}

/**
 * Whether Envoy closes the client connection after denying this request: the client asked to
 * close, or the request had a body still to come when Envoy answered at headers time.
 */
export function denialClosesConnection(req: Pick<HttpRequest, 'keepAlive' | 'contentLength' | 'chunked'>): boolean {
  return !req.keepAlive || req.contentLength > 0 || req.chunked;
}

/** The request URL as Cilium logs it: `http://<:authority>/<:path without its leading slash>`. */
export function envoyUrl(req: Pick<HttpRequest, 'authority' | 'path'>, scheme = 'http'): string {
  const p = req.path.charCodeAt(0) === 0x2f ? req.path.slice(1) : req.path;
  return `${scheme}://${req.authority}/${p}`;
}

/** Go's textproto.CanonicalMIMEHeaderKey: `x-request-id` -> `X-Request-Id`; odd keys unchanged. */
export function canonicalHeaderKey(key: string): string {
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(key)) return key;
  let out = '';
  let upper = true;
  for (let i = 0; i < key.length; i++) {
    const c = key[i]!;
    out += upper ? c.toUpperCase() : c.toLowerCase();
    upper = c === '-';
  }
  return out;
}

/**
 * Request headers Envoy's connection manager removes before filters see them
 * (conn_manager_utility.cc mutateRequestHeaders: hop-by-hop headers), plus Host, which is the
 * `:authority` pseudo-header there and so never logged.
 */
const NOT_LOGGED = new Set(['host', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

/** The request's headers as Hubble shows them: canonical keys, sorted by key, values in order. */
export function hubbleHeaders(rawHeaders: readonly string[], extraHeaders: ReadonlyArray<readonly [string, string]> = []): Array<{ key: string; value: string }> {
  const byKey = new Map<string, string[]>();
  const add = (name: string, value: string): void => {
    const lower = name.toLowerCase();
    if (lower.charCodeAt(0) === 0x3a || NOT_LOGGED.has(lower)) return;
    if (lower === 'te' && value.trim().toLowerCase() !== 'trailers') return;
    const key = canonicalHeaderKey(lower);
    const list = byKey.get(key);
    if (list) list.push(value);
    else byKey.set(key, [value]);
  };
  for (let i = 0; i < rawHeaders.length; i += 2) add(rawHeaders[i]!, rawHeaders[i + 1]!);
  for (const [k, v] of extraHeaders) add(k, v);
  const keys = [...byKey.keys()].sort();
  const out: Array<{ key: string; value: string }> = [];
  for (const key of keys) for (const value of byKey.get(key)!) out.push({ key, value });
  return out;
}

export interface L7HttpOptions {
  /** Response status code (a RESPONSE record). */
  code?: number;
  /** Headers Envoy would have added before logging (see the module comment). */
  extraHeaders?: ReadonlyArray<readonly [string, string]>;
  /** Headers after headerMatches actions (HttpRuleVerdict.headers), when they changed them. */
  headers?: readonly string[];
}

/**
 * The L7Http record (src/datapath/events.ts) of a request, or of its response when `code` is
 * given: method, `url` as Envoy logs it, protocol `HTTP/1.1` (or `HTTP/1.0`), headers as
 * Hubble prints them.
 */
export function l7HttpRecord(req: HttpRequest, opts: L7HttpOptions = {}): L7Http {
  const rec: L7Http = {
    method: req.method,
    url: envoyUrl(req),
    protocol: req.version,
    headers: hubbleHeaders(opts.headers ?? req.rawHeaders, opts.extraHeaders),
  };
  if (opts.code !== undefined) rec.code = opts.code;
  return rec;
}
