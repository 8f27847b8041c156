/**
 * HTTP/1.x stream parsing for the L7 proxy stage: requests from the client's reassembled byte
 * stream, responses from the server's, paired in order, as Envoy's HTTP/1 codec sees them.
 *
 * Mirrors: Envoy's HTTP/1 codec (source/common/http/http1/codec_impl.cc) with the options
 * Cilium's listener sets (pkg/envoy/xds_server.go: `accept_http_10: true`, `normalize_path:
 * true`, `use_remote_address: true`), and what Envoy's connection manager does to a request
 * before the cilium.l7policy filter sees it (conn_manager_utility.cc `maybeNormalizePath`,
 * the Host header as `:authority`, an absolute-form target split into `:authority` and `:path`).
 * The parser is http-parser-js (a pure-JS port of Node's http_parser with the same execute()
 * state machine): synchronous, fed reassembled bytes as they arrive, no sockets.
 *
 * Interface (one HttpConnection per redirected TCP connection; the lead wires the sinks):
 *
 *   const conn = new HttpConnection({
 *     onRequestHeaders(req) { ... decide policy here: Envoy's filter runs at headers time ... },
 *     onRequestComplete(req) {},
 *     onResponseHeaders(res) { res.request ... },       // paired with its request (FIFO)
 *     onResponseComplete(res) {},
 *     onInformational(res) {},                          // 1xx (100 Continue), not paired
 *     onError(direction, code, reason, ts) {},          // malformed input, once per direction
 *   });
 *   new TcpStreamReassembler(budget, max, conn.requestSink);    // client -> server bytes
 *   new TcpStreamReassembler(budget, max, conn.responseSink);   // server -> client bytes
 *   conn.end(HttpDirection.RESPONSE, ts);   // FIN of that direction (ends a read-to-EOF body)
 *   conn.end(HttpDirection.REQUEST, ts, true);  // RST: abort what is in flight
 *
 * What is parsed: keep-alive and pipelining (several messages in one segment, a message over
 * many segments), Content-Length and chunked bodies (counted, never buffered; trailers
 * skipped), HTTP/1.0 (keep-alive only when asked), `Expect: 100-continue` (the 100 response is
 * informational and pairs with nothing), HEAD responses (no body whatever their
 * Content-Length), 204/304 without body, responses delimited by the end of the stream
 * (`Connection: close`, HTTP/1.0). An upgrade (a request with Upgrade/CONNECT, a 101 answer)
 * ends HTTP on the connection: later bytes are counted in `opaqueBytes`, not parsed.
 *
 * Malformed input never throws out of the sinks and never hangs: the direction reports one
 * error (`onError`, http_parser's HPE_* code where it has one) and ignores its later bytes, as
 * Envoy answers 400 and closes. Limits: a request/response head of 80 KiB (http-parser-js'
 * maxHeaderSize; Envoy's default is 60 KiB), chunk-size lines and trailers bounded the same way.
 * Stricter than http-parser-js where Envoy is: Content-Length must be digits, a request with
 * both Content-Length and chunked Transfer-Encoding is rejected (Envoy's default
 * `allow_chunked_length: false`), a Transfer-Encoding other than `chunked` is rejected, a chunk
 * size must be hex. Header bytes are read as Latin-1 and values that are valid UTF-8 are decoded
 * as UTF-8 (Envoy's RE2 matches UTF-8).
 *
 * Times: each callback's message carries the `ts` of the segment that completed its headers and
 * the one that completed it (the caller's clock, passed through the reassembler).
 *
 * Deliberate differences (this module reports what was sent; what Envoy would answer is the
 * caller's decision): an HTTP/1.1 request without Host is parsed (`hasHost` false) although
 * Envoy answers it 400 before any filter runs; Envoy answers `Expect: 100-continue` itself
 * (proxy_100_continue is off) where the capture shows the server's 100; an upgrade Envoy's
 * listener would refuse is still treated as an upgrade; request methods are http_parser's list.
 *
 * Allocation: per message (its record, header strings); none per segment in steady state (the
 * Buffer view the parser needs is cached per underlying ArrayBuffer).
 */
import { HTTPParser } from 'http-parser-js';
import type { StreamSink } from './reassembly.js';

export const HttpDirection = {
  REQUEST: 0,
  RESPONSE: 1,
} as const;
export type HttpDirection = (typeof HttpDirection)[keyof typeof HttpDirection];

/** Fields common to requests and responses. */
interface HttpMessageBase {
  /** Position on its connection and direction: 0, 1, 2, ... */
  readonly index: number;
  versionMajor: number;
  versionMinor: number;
  /** `HTTP/1.1`, `HTTP/1.0`. */
  version: string;
  /** Headers as sent: [name, value, name, value, ...], names in their own case, in order. */
  rawHeaders: string[];
  /** Whether the connection stays open after this message (http_parser's should_keep_alive). */
  keepAlive: boolean;
  /** Content-Length, or -1 when absent. */
  contentLength: number;
  chunked: boolean;
  /** Body bytes seen so far (counted, not kept). */
  bodyBytes: number;
  /** `ts` of the segment that completed the head. */
  headersTs: number;
  /** `ts` of the segment that completed the message; -1 until then. */
  completeTs: number;
  complete: boolean;
}

export interface HttpRequest extends HttpMessageBase {
  method: string;
  /** The request-target exactly as sent. */
  target: string;
  /**
   * `:path` as Envoy's filters see it: the origin-form target (an absolute-form target reduced
   * to its path, `/` when empty), normalized like Envoy's `normalize_path` (RFC 3986 dot
   * segments removed, percent-encoded unreserved characters decoded; the query string is left
   * alone). Rules match this, query string included.
   */
  path: string;
  /** `:authority`: the Host header, or the authority of an absolute-form target; '' if none. */
  authority: string;
  /** A Host header was sent (Envoy answers 400 to an HTTP/1.1 request without one). */
  hasHost: boolean;
  expectContinue: boolean;
  /** CONNECT, or an Upgrade request: HTTP ends on this connection after it. */
  upgrade: boolean;
  /** The paired response, once its head arrived. */
  response: HttpResponse | null;
  /** For the caller (e.g. its L7 verdict); the parser never reads it. */
  verdict: number;
}

export interface HttpResponse extends HttpMessageBase {
  status: number;
  reason: string;
  /** The request it answers (FIFO on the connection); null when none was waiting. */
  request: HttpRequest | null;
}

export interface HttpConnectionHandler {
  /** A request's head is complete: Envoy's cilium.l7policy filter decides here. */
  onRequestHeaders?(req: HttpRequest): void;
  onRequestComplete?(req: HttpRequest): void;
  onResponseHeaders?(res: HttpResponse): void;
  onResponseComplete?(res: HttpResponse): void;
  /** A 1xx response other than 101 (e.g. 100 Continue); `request` is the one it belongs to. */
  onInformational?(res: HttpResponse): void;
  /**
   * Malformed input (or a stream that ended inside a message): once per direction; that
   * direction is not parsed any further. `code` is http_parser's HPE_* name where there is one.
   */
  onError?(direction: HttpDirection, code: string, reason: string, ts: number): void;
}

/** Bytes handed to the parser per execute() call: keeps http-parser-js' head-size count honest. */
const EXECUTE_SLICE = 16 * 1024;
/** Bound for a chunk-size line or the trailers (the head limit, applied to the body framing). */
const MAX_FRAMING_BYTES = 80 * 1024;

// ---------------------------------------------------------------------------------------------
// http-parser-js, subclassed where hubcap needs it to be stricter or byte-exact.

type ParserKind = 'REQUEST' | 'RESPONSE';

interface ParserInfo {
  versionMajor: number;
  versionMinor: number;
  headers: string[];
  method: number;
  url: string;
  statusCode: number;
  statusMessage: string;
  upgrade: boolean;
  shouldKeepAlive: boolean;
}

/** The parts of http-parser-js' parser hubcap reads or overrides (see its http-parser.js). */
interface ParserInternals {
  state: string;
  line: string;
  trailers: string[];
  body_bytes: number | null;
  isChunked: boolean;
  chunk: Buffer | null;
  offset: number;
  end: number;
  hadError: boolean;
  execute(chunk: Buffer, start: number, length: number): number | Error;
  finish(): void | Error;
  consumeLine(): string | undefined;
  parseHeader(line: string, headers: string[]): void;
  nextRequest(): void;
  [k: number]: unknown;
}

const ParserBase = HTTPParser as unknown as new (kind: ParserKind) => ParserInternals;

class ParseError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

const CHUNK_SIZE = /^([0-9A-Fa-f]{1,13})[ \t]*(?:;.*)?$/;

const kOnBody = HTTPParser.kOnBody;

/**
 * http-parser-js with hubcap's overrides (same state machine, same states and callbacks):
 *  - lines are read as Latin-1, not 'ascii' (which clears the high bit of every byte), and the
 *    parser notes whether a head had bytes >= 0x80 (then fields are decoded as UTF-8 later);
 *  - header lines are split without a regex in the common case (same result as its headerExp);
 *  - a chunk size must be hex (its parseInt accepts garbage and negative sizes);
 *  - body bytes are counted, not sliced into Buffer views (onBody gets the length only).
 */
class StrictParser extends ParserBase {
  /** The current head had a byte >= 0x80. */
  sawHigh = false;

  override consumeLine(): string | undefined {
    const end = this.end;
    const chunk = this.chunk!;
    let high = false;
    for (let i = this.offset; i < end; i++) {
      const c = chunk[i]!;
      if (c === 0x0a) {
        let line = this.line + chunk.toString('latin1', this.offset, i);
        if (line.charCodeAt(line.length - 1) === 0x0d) line = line.slice(0, -1);
        this.line = '';
        this.offset = i + 1;
        if (high) this.sawHigh = true;
        return line;
      }
      if (c >= 0x80) high = true;
    }
    if (high) this.sawHigh = true;
    this.line += chunk.toString('latin1', this.offset, end);
    this.offset = end;
    return undefined;
  }

  override parseHeader(line: string, headers: string[]): void {
    // The common case of http-parser-js' /^([^: \t]+):[ \t]*((?:.*[^ \t])|)/ without a regex.
    const colon = line.indexOf(':');
    if (colon > 0 && line.indexOf('\r') < 0) {
      let nameOk = true;
      for (let i = 0; i < colon; i++) {
        const c = line.charCodeAt(i);
        if (c === 0x20 || c === 0x09) {
          nameOk = false;
          break;
        }
      }
      if (nameOk) {
        let a = colon + 1;
        let b = line.length;
        while (a < b && (line.charCodeAt(a) === 0x20 || line.charCodeAt(a) === 0x09)) a++;
        while (b > a && (line.charCodeAt(b - 1) === 0x20 || line.charCodeAt(b - 1) === 0x09)) b--;
        headers.push(line.slice(0, colon), line.slice(a, b));
        return;
      }
    }
    super.parseHeader(line, headers);
  }

  /** Chunk size: hex digits (plus extensions). */
  BODY_CHUNKHEAD(): void {
    const line = this.consumeLine();
    if (line === undefined) return;
    const m = CHUNK_SIZE.exec(line);
    if (m === null) throw new ParseError('HPE_INVALID_CHUNK_SIZE', 'invalid chunk size');
    this.body_bytes = parseInt(m[1]!, 16);
    this.state = this.body_bytes === 0 ? 'BODY_CHUNKTRAILERS' : 'BODY_CHUNK';
  }

  BODY_CHUNK(): void {
    const length = Math.min(this.end - this.offset, this.body_bytes!);
    (this[kOnBody] as (n: number) => void)(length);
    this.offset += length;
    this.body_bytes! -= length;
    if (this.body_bytes === 0) this.state = 'BODY_CHUNKEMPTYLINE';
  }

  BODY_RAW(): void {
    (this[kOnBody] as (n: number) => void)(this.end - this.offset);
    this.offset = this.end;
  }

  BODY_SIZED(): void {
    const length = Math.min(this.end - this.offset, this.body_bytes!);
    (this[kOnBody] as (n: number) => void)(length);
    this.offset += length;
    this.body_bytes! -= length;
    if (this.body_bytes === 0) this.nextRequest();
  }
}

// ---------------------------------------------------------------------------------------------
// Bytes to Buffer without a copy: http-parser-js calls Buffer methods on what it is given.

let cachedArrayBuffer: ArrayBufferLike | null = null;
let cachedBuffer: Buffer = Buffer.alloc(0);

function bufferOver(bytes: Uint8Array): Buffer {
  if (bytes.buffer !== cachedArrayBuffer) {
    cachedArrayBuffer = bytes.buffer;
    cachedBuffer = Buffer.from(bytes.buffer);
  }
  return cachedBuffer;
}

// ---------------------------------------------------------------------------------------------

const UNRESERVED = /[A-Za-z0-9\-._~]/;
const HAS_HIGH = /[\x80-\xff]/;

/** A Latin-1 string (bytes as chars) as UTF-8 text when it is valid UTF-8; unchanged otherwise. */
function utf8(s: string): string {
  if (!HAS_HIGH.test(s)) return s;
  const b = Buffer.from(s, 'latin1');
  const t = b.toString('utf8');
  return Buffer.byteLength(t, 'utf8') === b.length && !t.includes('\ufffd') ? t : s;
}

/**
 * Envoy's `normalize_path` (source/common/http/path_utility.cc `canonicalPath`, Chromium's URL
 * path canonicalizer): on the path part only, percent-encoded unreserved characters are decoded
 * (so `%2e` is a dot) and `.`/`..` segments are removed (RFC 3986 5.2.4; `..` never climbs above
 * the root). Other escapes stay as sent. The query string is appended unchanged. Paths not
 * starting with `/` (`*`) are left alone.
 */
export function normalizePath(path: string): string {
  if (path.charCodeAt(0) !== 0x2f) return path;
  const q = path.indexOf('?');
  let p = q < 0 ? path : path.slice(0, q);
  const query = q < 0 ? '' : path.slice(q);
  if (p.includes('%')) {
    p = p.replace(/%([0-9A-Fa-f]{2})/g, (m, hex: string) => {
      const ch = String.fromCharCode(parseInt(hex, 16));
      return UNRESERVED.test(ch) ? ch : m;
    });
  }
  if (p.includes('/.')) {
    const out: string[] = [];
    const segs = p.split('/');
    // segs[0] is '' (the path starts with '/').
    for (let i = 1; i < segs.length; i++) {
      const s = segs[i]!;
      const last = i === segs.length - 1;
      if (s === '.') {
        if (last) out.push('');
      } else if (s === '..') {
        out.pop();
        if (last) out.push('');
      } else {
        out.push(s);
      }
    }
    p = `/${out.join('/')}`;
  }
  return p + query;
}

const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)(.*)$/;

/** The value of the first header named `name` (ASCII case-insensitive), or undefined. */
export function headerValue(rawHeaders: readonly string[], name: string): string | undefined {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const n = rawHeaders[i]!;
    if (n.length === name.length && n.toLowerCase() === name) return rawHeaders[i + 1];
  }
  return undefined;
}

/** A Content-Length value (digits only); `prev` is the one seen before in the message, or -1. */
function contentLengthValue(raw: string, prev: number): number {
  const v = raw.trim();
  if (v.length === 0 || v.length > 15 || !/^\d+$/.test(v)) throw new ParseError('HPE_INVALID_CONTENT_LENGTH', `invalid Content-Length ${JSON.stringify(v)}`);
  const n = Number(v);
  if (prev >= 0 && prev !== n) throw new ParseError('HPE_UNEXPECTED_CONTENT_LENGTH', 'conflicting Content-Length headers');
  return n;
}

/** Transfer-Encoding: absent (false), exactly chunked (true); anything else is an error. */
function chunkedValue(te: string | undefined): boolean {
  if (te === undefined) return false;
  if (te.trim().toLowerCase() !== 'chunked') {
    throw new ParseError('HPE_INVALID_TRANSFER_ENCODING', `unsupported Transfer-Encoding ${JSON.stringify(te)}`);
  }
  return true;
}

function versionString(major: number, minor: number): string {
  if (major === 1) return minor === 1 ? 'HTTP/1.1' : minor === 0 ? 'HTTP/1.0' : `HTTP/1.${minor}`;
  return `HTTP/${major}.${minor}`;
}

/** Re-thrown handler exceptions are programming errors, not malformed input. */
class HandlerFailure {
  constructor(readonly error: unknown) {}
}

/** Per-direction parsing state. */
class Side {
  parser: StrictParser;
  errored = false;
  /** HTTP ended (upgrade): later bytes are opaque. */
  opaque = false;
  /** The message being parsed (after its head), or null between messages. */
  current: HttpRequest | HttpResponse | null = null;
  /** `ts` of the bytes being parsed now. */
  ts = 0;
  count = 0;
  constructor(kind: ParserKind) {
    this.parser = new StrictParser(kind);
  }
}

export class HttpConnection {
  private readonly handler: HttpConnectionHandler;
  private readonly req = new Side('REQUEST');
  private readonly res = new Side('RESPONSE');
  /** Requests whose response has not started, oldest first. */
  private readonly waiting: HttpRequest[] = [];
  private waitingHead = 0;

  /** Bytes after an upgrade, per direction (not parsed). */
  readonly opaqueBytes = [0, 0];
  /** Bytes ignored after a parse error, per direction. */
  readonly ignoredBytes = [0, 0];
  /** Responses that found no request waiting (e.g. a capture that starts mid-connection). */
  orphanResponses = 0;

  /** Client-to-server bytes (a reassembler's sink). */
  readonly requestSink: StreamSink;
  /** Server-to-client bytes. */
  readonly responseSink: StreamSink;

  constructor(handler: HttpConnectionHandler) {
    this.handler = handler;
    this.requestSink = (b, o, n, ts) => this.feed(this.req, HttpDirection.REQUEST, b, o, n, ts);
    this.responseSink = (b, o, n, ts) => this.feed(this.res, HttpDirection.RESPONSE, b, o, n, ts);
    this.install(this.req, HttpDirection.REQUEST);
    this.install(this.res, HttpDirection.RESPONSE);
  }

  /** Requests parsed so far. */
  get requests(): number {
    return this.req.count;
  }

  get responses(): number {
    return this.res.count;
  }

  /** Requests still waiting for their response, oldest first. */
  get unanswered(): readonly HttpRequest[] {
    return this.waiting.slice(this.waitingHead);
  }

  errored(direction: HttpDirection): boolean {
    return (direction === HttpDirection.REQUEST ? this.req : this.res).errored;
  }

  upgraded(direction: HttpDirection): boolean {
    return (direction === HttpDirection.REQUEST ? this.req : this.res).opaque;
  }

  /**
   * The direction's stream ended: FIN (`reset` false) completes a response delimited by the end
   * of the stream and reports a message cut short; RST (`reset` true) abandons what is in flight
   * (reported as an error only when a message was cut).
   */
  end(direction: HttpDirection, ts: number, reset = false): void {
    const side = direction === HttpDirection.REQUEST ? this.req : this.res;
    if (side.errored || side.opaque) return;
    side.ts = ts;
    const p = side.parser;
    const idle = (p.state === 'REQUEST_LINE' || p.state === 'RESPONSE_LINE') && p.line === '';
    if (idle) return;
    if (!reset && p.state === 'BODY_RAW') {
      try {
        p.finish();
      } catch (err) {
        this.fail(side, direction, err);
      }
      return;
    }
    this.fail(side, direction, new ParseError('HPE_INCOMPLETE', reset ? 'connection reset inside a message' : 'stream ended inside a message'));
  }

  private install(side: Side, direction: HttpDirection): void {
    const p = side.parser;
    p[HTTPParser.kOnHeadersComplete] = (info: ParserInfo): number => this.onHead(side, direction, info);
    // StrictParser passes only the length (no Buffer slice per body piece).
    p[HTTPParser.kOnBody] = (length: number): void => {
      if (side.current) side.current.bodyBytes += length;
    };
    p[HTTPParser.kOnMessageComplete] = (): void => {
      const m = side.current;
      side.current = null;
      if (!m) return;
      m.complete = true;
      m.completeTs = side.ts;
      if (direction === HttpDirection.REQUEST) this.call(this.handler.onRequestComplete, m as HttpRequest);
      else if ((m as HttpResponse).status >= 200 || (m as HttpResponse).status === 101) this.call(this.handler.onResponseComplete, m as HttpResponse);
    };
    // Trailers (kOnHeaders): skipped.
  }

  private call<T>(fn: ((m: T) => void) | undefined, m: T): void {
    if (fn === undefined) return;
    try {
      fn.call(this.handler, m);
    } catch (err) {
      throw new HandlerFailure(err);
    }
  }

  /** A head is complete. Returns http-parser-js' skipBody: 0 parse the body, 1 no body, 2 stop. */
  private onHead(side: Side, direction: HttpDirection, info: ParserInfo): number {
    const headers = info.headers;
    const p = side.parser;
    if (p.sawHigh) {
      for (let i = 0; i < headers.length; i++) headers[i] = utf8(headers[i]!);
    }
    // One pass for the headers the framing and the request view need.
    let contentLength = -1;
    let te: string | undefined;
    let host: string | undefined;
    let expect: string | undefined;
    for (let i = 0; i < headers.length; i += 2) {
      const n = headers[i]!;
      switch (n.length) {
        case 4:
          if (host === undefined && n.toLowerCase() === 'host') host = headers[i + 1]!;
          break;
        case 6:
          if (n.toLowerCase() === 'expect') expect = headers[i + 1]!;
          break;
        case 14:
          if (n.toLowerCase() === 'content-length') contentLength = contentLengthValue(headers[i + 1]!, contentLength);
          break;
        case 17:
          if (n.toLowerCase() === 'transfer-encoding') te = te === undefined ? headers[i + 1]! : `${te}, ${headers[i + 1]!}`;
          break;
      }
    }
    const chunked = chunkedValue(te);
    const version = versionString(info.versionMajor, info.versionMinor);
    if (direction === HttpDirection.REQUEST) {
      if (chunked && contentLength >= 0) {
        // Envoy's default (allow_chunked_length: false) rejects such requests (smuggling risk).
        throw new ParseError('HPE_UNEXPECTED_CONTENT_LENGTH', 'request has both Content-Length and Transfer-Encoding: chunked');
      }
      const method = HTTPParser.methods[info.method] ?? '';
      const target = p.sawHigh ? utf8(info.url) : info.url;
      p.sawHigh = false;
      let authority = host ?? '';
      let path = target;
      const abs = method !== 'CONNECT' && target.charCodeAt(0) !== 0x2f ? ABSOLUTE_FORM.exec(target) : null;
      if (abs !== null) {
        authority = abs[1]!;
        const rest = abs[2]!;
        path = rest === '' ? '/' : rest.charCodeAt(0) === 0x3f ? `/${rest}` : rest;
      } else if (method === 'CONNECT') {
        authority = target;
        path = '';
      }
      const req: HttpRequest = {
        index: side.count++,
        method,
        target,
        path: normalizePath(path),
        authority,
        hasHost: host !== undefined,
        versionMajor: info.versionMajor,
        versionMinor: info.versionMinor,
        version,
        rawHeaders: headers,
        keepAlive: info.shouldKeepAlive,
        contentLength,
        chunked,
        bodyBytes: 0,
        headersTs: side.ts,
        completeTs: -1,
        complete: false,
        expectContinue: expect !== undefined && expect.toLowerCase() === '100-continue',
        upgrade: info.upgrade,
        response: null,
        verdict: 0,
      };
      side.current = req;
      this.waiting.push(req);
      this.call(this.handler.onRequestHeaders, req);
      if (info.upgrade) {
        side.opaque = true;
        return 2;
      }
      return 0;
    }

    const status = info.statusCode;
    const head = this.waitingHead < this.waiting.length ? this.waiting[this.waitingHead]! : null;
    const informational = status >= 100 && status < 200 && status !== 101;
    const res: HttpResponse = {
      index: informational ? -1 : side.count++,
      status,
      reason: p.sawHigh ? utf8(info.statusMessage) : info.statusMessage,
      versionMajor: info.versionMajor,
      versionMinor: info.versionMinor,
      version,
      rawHeaders: headers,
      keepAlive: info.shouldKeepAlive,
      contentLength,
      chunked,
      bodyBytes: 0,
      headersTs: side.ts,
      completeTs: -1,
      complete: false,
      request: head,
    };
    p.sawHigh = false;
    side.current = res;
    if (informational) {
      // Interim response (index -1): the request still waits for its final one.
      this.call(this.handler.onInformational, res);
      return 1;
    }
    if (head !== null) {
      this.waitingHead++;
      if (this.waitingHead > 64 && this.waitingHead * 2 > this.waiting.length) {
        this.waiting.splice(0, this.waitingHead);
        this.waitingHead = 0;
      }
      head.response = res;
    } else {
      this.orphanResponses++;
    }
    this.call(this.handler.onResponseHeaders, res);
    const tunnel = status === 101 || (head !== null && head.method === 'CONNECT' && status >= 200 && status < 300);
    if (tunnel) {
      side.opaque = true;
      this.req.opaque = true;
      return 2;
    }
    // A response to HEAD has no body whatever its headers say (RFC 9110 9.3.2).
    return head !== null && head.method === 'HEAD' ? 1 : 0;
  }

  private feed(side: Side, direction: HttpDirection, bytes: Uint8Array, offset: number, length: number, ts: number): void {
    if (side.errored) {
      this.ignoredBytes[direction]! += length;
      return;
    }
    if (side.opaque) {
      this.opaqueBytes[direction]! += length;
      return;
    }
    side.ts = ts;
    const buf = bufferOver(bytes);
    let pos = bytes.byteOffset + offset;
    let left = length;
    const p = side.parser;
    while (left > 0) {
      const n = left < EXECUTE_SLICE ? left : EXECUTE_SLICE;
      let ret: number | Error;
      try {
        ret = p.execute(buf, pos, n);
      } catch (err) {
        if (err instanceof HandlerFailure) throw err.error;
        ret = err instanceof Error ? err : new Error(String(err));
      }
      if (typeof ret !== 'number') {
        p.chunk = null;
        this.fail(side, direction, ret);
        this.ignoredBytes[direction]! += left;
        return;
      }
      pos += ret;
      left -= ret;
      if (side.opaque) {
        this.opaqueBytes[direction]! += left;
        return;
      }
      if (ret < n) {
        // http-parser-js stopped early without an upgrade: cannot happen; do not spin.
        this.fail(side, direction, new ParseError('HPE_PAUSED', 'parser stopped'));
        return;
      }
      if (p.line.length > MAX_FRAMING_BYTES || (p.state === 'BODY_CHUNKTRAILERS' && p.trailers.length > 2 * 1000)) {
        this.fail(side, direction, new ParseError('HPE_HEADER_OVERFLOW', 'chunked framing line or trailers too long'));
        this.ignoredBytes[direction]! += left;
        return;
      }
    }
  }

  private fail(side: Side, direction: HttpDirection, err: unknown): void {
    if (err instanceof HandlerFailure) throw err.error;
    side.errored = true;
    const e = err as { code?: unknown; message?: unknown };
    let code = typeof e.code === 'string' ? e.code : '';
    const message = typeof e.message === 'string' ? e.message : String(err);
    if (code === '') {
      // http-parser-js reports some conditions as plain Errors; give them http_parser's names.
      if (message === 'max header size exceeded') code = 'HPE_HEADER_OVERFLOW';
      else if (message === 'invalid request method') code = 'HPE_INVALID_METHOD';
      else code = 'HPE_INVALID';
    }
    const reason = message === 'Parse Error' ? `malformed ${direction === HttpDirection.REQUEST ? 'request' : 'response'}` : message;
    const h = this.handler.onError;
    if (h !== undefined) h.call(this.handler, direction, code, reason, side.ts);
  }
}
