/**
 * HTTP parsing does not depend on how the bytes were cut into segments (issue 5: "a request
 * split over several segments ... decided correctly"): the Star Wars demo's requests and
 * responses exactly as curl and the server sent them (pcaps/starwars-deathstar.pcap, reassembled
 * by hubcap and checked against tshark in reassembly-capture.test.ts) are fed whole, cut at every
 * byte boundary, and one byte at a time; every way gives the same messages.
 */
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { HttpDirection, type HttpRequest, type HttpResponse } from '../../src/proxy/http.js';
import { ReassemblyBudget, TcpStreamReassembler } from '../../src/proxy/reassembly.js';
import { Collector, latin1, PCAPS, recordingConnection, tcpConnections } from './helpers.js';

/** The bytes each side of each connection sent. */
let streams: Array<{ client: Uint8Array; server: Uint8Array }> = [];

beforeAll(async () => {
  const conns = await tcpConnections(resolve(PCAPS, 'starwars-deathstar.pcap'));
  streams = conns.map((c) => {
    const sides = [new Collector(), new Collector()] as const;
    const budget = new ReassemblyBudget();
    const rs = [new TcpStreamReassembler(budget, 1 << 20, sides[0].sink), new TcpStreamReassembler(budget, 1 << 20, sides[1].sink)];
    for (const s of c.segments) rs[s.dir]!.segment(s.seq, s.flags, s.payload, 0, s.payload.length, s.ts);
    return { client: sides[0].total, server: sides[1].total };
  });
});

function requestSummary(r: HttpRequest) {
  return {
    method: r.method,
    target: r.target,
    path: r.path,
    authority: r.authority,
    version: r.version,
    rawHeaders: r.rawHeaders,
    keepAlive: r.keepAlive,
    contentLength: r.contentLength,
    bodyBytes: r.bodyBytes,
    complete: r.complete,
  };
}

function responseSummary(r: HttpResponse) {
  return {
    status: r.status,
    reason: r.reason,
    version: r.version,
    rawHeaders: r.rawHeaders,
    contentLength: r.contentLength,
    bodyBytes: r.bodyBytes,
    complete: r.complete,
    request: r.request?.path,
  };
}

/** Feeds the request and the response, each cut at the given offsets. */
function parse(client: Uint8Array, server: Uint8Array, cuts: number[], responseCuts: number[] = []) {
  const { conn, ev } = recordingConnection();
  const feed = (sink: typeof conn.requestSink, b: Uint8Array, at: number[]) => {
    let prev = 0;
    for (const [i, c] of [...at, b.length].entries()) {
      // Each piece in its own array, as separate packets would be.
      const piece = b.slice(prev, c);
      sink(piece, 0, piece.length, i);
      prev = c;
    }
  };
  feed(conn.requestSink, client, cuts);
  feed(conn.responseSink, server, responseCuts);
  conn.end(HttpDirection.REQUEST, 99);
  conn.end(HttpDirection.RESPONSE, 99);
  return ev;
}

describe('the Star Wars requests as curl sent them', () => {
  it('are the documented POST /v1/request-landing and PUT /v1/exhaust-port', () => {
    const firstLines = streams.map((s) => latin1(s.client).split('\r\n')[0]);
    expect(firstLines).toContain('POST /v1/request-landing HTTP/1.1');
    expect(firstLines).toContain('PUT /v1/exhaust-port HTTP/1.1');
    const put = streams.find((s) => latin1(s.client).startsWith('PUT'))!;
    const ev = parse(put.client, put.server, []);
    expect(ev.errors).toEqual([]);
    expect(ev.requests.map(requestSummary)).toEqual([
      {
        method: 'PUT',
        target: '/v1/exhaust-port',
        path: '/v1/exhaust-port',
        authority: 'deathstar.default.svc.cluster.local',
        version: 'HTTP/1.1',
        rawHeaders: ['Host', 'deathstar.default.svc.cluster.local', 'User-Agent', 'curl/7.88.1', 'Accept', '*/*'],
        keepAlive: true,
        contentLength: -1,
        bodyBytes: 0,
        complete: true,
      },
    ]);
    expect(ev.responses.map(responseSummary)).toEqual([
      {
        status: 503,
        reason: 'Service Unavailable',
        version: 'HTTP/1.1',
        rawHeaders: ['Server', 'hubcap-sample/1', 'Date', 'Thu, 01 Jan 2026 00:00:00 GMT', 'Content-Type', 'text/plain', 'Content-Length', '275'],
        contentLength: 275,
        bodyBytes: 275,
        complete: true,
        request: '/v1/exhaust-port',
      },
    ]);
  });

  it('parse the same cut at every byte boundary (request and response)', () => {
    for (const s of streams) {
      const whole = parse(s.client, s.server, []);
      const want = { req: whole.requests.map(requestSummary), res: whole.responses.map(responseSummary), order: whole.order };
      expect(want.req).toHaveLength(1);
      for (let k = 1; k < s.client.length; k++) {
        const ev = parse(s.client, s.server, [k]);
        expect({ req: ev.requests.map(requestSummary), res: ev.responses.map(responseSummary), order: ev.order }, `request cut at ${k}`).toEqual(want);
      }
      for (let k = 1; k < s.server.length; k++) {
        const ev = parse(s.client, s.server, [], [k]);
        expect({ req: ev.requests.map(requestSummary), res: ev.responses.map(responseSummary), order: ev.order }, `response cut at ${k}`).toEqual(want);
      }
    }
  });

  it('parse the same one byte at a time', () => {
    for (const s of streams) {
      const whole = parse(s.client, s.server, []);
      const every = (b: Uint8Array) => Array.from({ length: b.length - 1 }, (_, i) => i + 1);
      const ev = parse(s.client, s.server, every(s.client), every(s.server));
      expect(ev.requests.map(requestSummary)).toEqual(whole.requests.map(requestSummary));
      expect(ev.responses.map(responseSummary)).toEqual(whole.responses.map(responseSummary));
    }
  });

  it('the head completes with the segment carrying its last byte (the time Envoy decides)', () => {
    const s = streams[0]!;
    const headEnd = latin1(s.client).indexOf('\r\n\r\n') + 4;
    for (const k of [headEnd - 1, headEnd - 4, 5]) {
      const ev = parse(s.client, s.server, [k]);
      // Piece 0 is [0, k), piece 1 the rest: the head is complete only with piece 1.
      expect(ev.requests[0]!.headersTs).toBe(1);
      expect(ev.requests[0]!.completeTs).toBe(1);
    }
    const ev = parse(s.client, s.server, [headEnd]);
    expect(ev.requests[0]!.headersTs).toBe(0);
  });
});
