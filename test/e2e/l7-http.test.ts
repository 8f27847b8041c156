/**
 * HTTP policy end to end on a synthetic capture (test/helpers/l7-capture.ts httpScenario): the
 * cases a real recording cannot pin down, replayed with `hubcap replay -o json` against
 * examples/l7/cluster and examples/l7/policies/http.
 *
 * Expected outcomes:
 *  - docs.cilium.io, Layer 7 Policies > HTTP, "Allow GET /public" (web-public.yaml): GET /public
 *    is allowed, "requests to any other URL, or using another method, will be rejected"; "All GET
 *    /path1 and PUT /path2 when header set" (web-api.yaml): "the only API endpoints allowed will
 *    be GET /path1, and PUT /path2 with the HTTP header X-My-Header set to true".
 *  - docs.cilium.io, Layer 7 Policies: "violation of layer 7 rules does not result in packet
 *    drops. Instead ... an HTTP 403 access denied is sent back"; "A layer 7 request is permitted
 *    if at least one of the rules matches" (the two policies' rules are OR'ed).
 *  - pkg/policy/api/http.go (the CRD's field documentation): `headers` "is a list of HTTP headers
 *    which must be present in the request"; a HeaderMatch with a value must match it exactly, "If
 *    none of the optional fields is present ... only presence of the header is enough".
 *  - RFC 9110 section 5.1: field names are case-insensitive. RFC 9112 section 2.2: a message's
 *    head ends with an empty line, so a request can only be judged once that line arrived;
 *    section 9.3.2 (pipelining): a server "MUST send the corresponding responses in the same
 *    order that the requests were received"; section 9.3 / RFC 1945: HTTP/1.0.
 *  - RFC 9293 section 3.4: sequence numbers let the receiver discard duplicates, so a
 *    retransmitted request is one request.
 *  - design.md section 5 (hubcap's rule for captures recorded without the policy): the server's
 *    answer to a denied request never existed and is reported as an inherited drop.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ROOT, runHubcap } from '../helpers/cli.js';
import {
  HEADER_CASES,
  finals,
  httpLog,
  httpScenario,
  l7,
  ofPort,
  replayJson,
  show,
  tempDir,
  type Flow,
  type Scenario,
} from '../helpers/l7-capture.js';

const POLICY = 'examples/l7/policies/http';
let scenario: Scenario;
let flows: Flow[];
let capture: string;
const tmp = tempDir();

beforeAll(() => {
  scenario = httpScenario();
  capture = scenario.cap.write(join(tmp.dir, 'l7-http.pcap'));
  flows = replayJson(capture, POLICY);
});
afterAll(() => tmp.cleanup());

const conn = (name: string): Flow[] => ofPort(flows, scenario.conns[name]!.port);
const at = (name: string, frame: string): string => scenario.cap.timeOf(scenario.conns[name]!.frames[frame]!);
/** The final event of the packet written as frame `frame` of connection `name`. */
const finalAt = (name: string, frame: string): Flow => {
  const hits = finals(conn(name)).filter((f) => f.time === at(name, frame));
  expect(hits.length, show(conn(name))).toBe(1);
  return hits[0]!;
};
const requests = (fs: Flow[]): Flow[] => l7(fs).filter((f) => f.l7?.type === 'REQUEST');

describe('a request split over several segments', () => {
  test('an allowed GET /public in four segments: one FORWARDED request when its head is complete, then the 200', () => {
    const c = conn('split-allowed');
    expect(httpLog(c), show(c)).toEqual(['GET /public request FORWARDED', 'GET /public response FORWARDED 200']);
    // RFC 9112 2.2: the head is complete with the segment that carries its empty line.
    expect(requests(c)[0]!.time).toBe(at('split-allowed', 'last'));
    // Every segment went to the proxy; nothing of the connection was dropped.
    expect(finals(c).filter((f) => f.verdict !== 'FORWARDED'), show(c)).toEqual([]);
  });

  test('a denied GET /private in four segments: one DROPPED request, the 403, the server answer inherited-dropped', () => {
    const c = conn('split-denied');
    expect(httpLog(c), show(c)).toEqual(['GET /private request DROPPED', 'GET /private response FORWARDED 403']);
    expect(requests(c)[0]!.time).toBe(at('split-denied', 'last'));
    const dropped = finals(c).filter((f) => f.verdict === 'DROPPED');
    expect(dropped.length, show(c)).toBe(1);
    expect(dropped[0]!.IP?.source).toBe('10.5.1.20');
    expect(dropped[0]!.l4?.TCP?.flags?.PSH).toBe(true);
    expect(dropped[0]!.hubcap?.inherited).toBe(true);
  });

  test('POST /v1/request-landing with its head in two segments and the body in a third: one request, allowed', () => {
    const c = conn('split-body');
    expect(httpLog(c), show(c)).toEqual(['POST /v1/request-landing request FORWARDED', 'POST /v1/request-landing response FORWARDED 200']);
    expect(requests(c)[0]!.time).toBe(at('split-body', 'head'));
    expect(finals(c).filter((f) => f.verdict !== 'FORWARDED')).toEqual([]);
  });
});

describe('two pipelined requests in one segment', () => {
  test('each is decided on its own: GET /public FORWARDED, GET /secret DROPPED with a 403', () => {
    const c = conn('pipelined');
    const reqs = requests(c);
    expect(reqs.map((f) => [f.l7?.http?.url?.endsWith('/public') ? '/public' : '/secret', f.verdict, f.time]), show(c)).toEqual([
      ['/public', 'FORWARDED', at('pipelined', 'requests')],
      ['/secret', 'DROPPED', at('pipelined', 'requests')],
    ]);
    expect(httpLog(c).filter((l) => l.includes('response')).sort()).toEqual(['GET /public response FORWARDED 200', 'GET /secret response FORWARDED 403']);
  });

  test("the server's answer to the first goes through, its answer to the second is inherited-dropped", () => {
    expect(finalAt('pipelined', 'answer1').verdict).toBe('FORWARDED');
    const second = finalAt('pipelined', 'answer2');
    expect(second.verdict).toBe('DROPPED');
    expect(second.hubcap?.inherited).toBe(true);
    expect(finals(conn('pipelined')).filter((f) => f.verdict === 'DROPPED')).toHaveLength(1);
  });

  test('the client gets the answers in request order: the 200 for /public before the 403 for /secret (RFC 9112 9.3.2)', () => {
    const responses = l7(conn('pipelined')).filter((f) => f.l7?.type === 'RESPONSE');
    expect(responses.map((f) => f.l7?.http?.code), show(l7(conn('pipelined')))).toEqual([200, 403]);
  });
});

describe('retransmitted segments are not counted twice', () => {
  test('an allowed request and its answer, each sent twice: exactly one http-request and one http-response', () => {
    const c = conn('retransmit-allowed');
    expect(httpLog(c), show(c)).toEqual(['GET /public request FORWARDED', 'GET /public response FORWARDED 200']);
    // The retransmissions themselves are ordinary packets of an allowed connection.
    expect(finalAt('retransmit-allowed', 'retransmission').verdict).toBe('FORWARDED');
    expect(finalAt('retransmit-allowed', 'answerRetransmission').verdict).toBe('FORWARDED');
  });

  test('a request in two segments re-sent whole in a third (overlapping both): one request', () => {
    const c = conn('retransmit-overlap');
    expect(httpLog(c), show(c)).toEqual(['GET /public request FORWARDED', 'GET /public response FORWARDED 200']);
    expect(finalAt('retransmit-overlap', 'overlap').verdict).toBe('FORWARDED');
  });

  test('a denied request sent twice: exactly one DROPPED request and one 403', () => {
    const c = conn('retransmit-denied');
    expect(httpLog(c), show(c)).toEqual(['GET /secret request DROPPED', 'GET /secret response FORWARDED 403']);
  });
});

test('keep-alive: four requests on one connection, the third denied, the connection goes on', () => {
  const c = conn('keepalive');
  expect(httpLog(c), show(c)).toEqual([
    'GET /public request FORWARDED',
    'GET /public response FORWARDED 200',
    'GET /path1 request FORWARDED',
    'GET /path1 response FORWARDED 200',
    'PUT /path2 request DROPPED',
    'PUT /path2 response FORWARDED 403',
    'GET /public request FORWARDED',
    'GET /public response FORWARDED 200',
  ]);
  // Only the server's answer to the PUT is dropped; the last request and answer, and the FINs,
  // go through.
  const dropped = finals(c).filter((f) => f.verdict === 'DROPPED');
  expect(dropped.length, show(c)).toBe(1);
  expect(dropped[0]!.hubcap?.inherited).toBe(true);
  const lastRequest = requests(c)[3]!;
  expect(finals(c).filter((f) => f.time > lastRequest.time && f.verdict !== 'FORWARDED')).toEqual([]);
});

describe('HTTP/1.0', () => {
  test('GET /public over HTTP/1.0: FORWARDED, the answer 200, both logged as HTTP/1.0', () => {
    const c = conn('http10');
    expect(httpLog(c), show(c)).toEqual(['GET /public request FORWARDED', 'GET /public response FORWARDED 200']);
    expect(l7(c).map((f) => f.l7?.http?.protocol)).toEqual(['HTTP/1.0', 'HTTP/1.0']);
  });

  test('GET /secret over HTTP/1.0: DROPPED and the 403', () => {
    const c = conn('http10-denied');
    expect(httpLog(c), show(c)).toEqual(['GET /secret request DROPPED', 'GET /secret response FORWARDED 403']);
    expect(l7(c).map((f) => f.l7?.http?.protocol)).toEqual(['HTTP/1.0', 'HTTP/1.0']);
  });
});

describe('header rules (web-api.yaml), one keep-alive connection', () => {
  const reason = (m: string, p: string, h: Record<string, string>, ok: boolean): string => {
    const hs = Object.entries(h).map(([k, v]) => `${k}: ${v}`).join(', ') || 'no header';
    return `${m} ${p} with ${hs}: ${ok ? 'allowed' : '403'}`;
  };
  test.each(HEADER_CASES.map((c, i) => [reason(...c), i, c] as const))('%s', (_name, i, [method, path, headers, allowed]) => {
    const c = conn('headers');
    const req = requests(c)[i]!;
    expect(req, show(l7(c))).toBeDefined();
    expect([req.l7?.http?.method, req.l7?.http?.url?.replace(/^http:\/\/[^/]*/, '')]).toEqual([method, path]);
    // The request's headers as logged: the ones the case sent are there (names canonicalized).
    for (const [k, v] of Object.entries(headers)) {
      expect(req.l7?.http?.headers?.some((x) => x.key.toLowerCase() === k.toLowerCase() && x.value === v)).toBe(true);
    }
    expect(req.verdict).toBe(allowed ? 'FORWARDED' : 'DROPPED');
    // Its response record: the server's 200, or the proxy's 403.
    const responses = l7(c).filter((f) => f.l7?.type === 'RESPONSE');
    expect(responses[i]?.l7?.http?.code).toBe(allowed ? 200 : 403);
    expect(responses[i]?.l7?.http?.method).toBe(method);
  });

  test('the whole connection: one request record per request, denied answers inherited-dropped', () => {
    const c = conn('headers');
    expect(requests(c)).toHaveLength(HEADER_CASES.length);
    const denied = HEADER_CASES.filter((x) => !x[3]).length;
    const dropped = finals(c).filter((f) => f.verdict === 'DROPPED');
    expect(dropped.length, show(c)).toBe(denied);
    expect(dropped.every((f) => f.hubcap?.inherited === true && f.IP?.source === '10.5.1.20')).toBe(true);
  });
});

describe('the committed capture pcaps/l7-http.pcap', () => {
  test('is the scenario the tests generate (regenerate: npx tsx test/helpers/l7-capture.ts)', () => {
    expect(Buffer.compare(readFileSync(join(ROOT, 'pcaps/l7-http.pcap')), Buffer.from(scenario.cap.pcap()))).toBe(0);
  });

  test('examples/l7/expect-http.yaml holds under hubcap --expect', () => {
    const r = runHubcap(['replay', 'pcaps/l7-http.pcap', '--cluster', 'examples/l7/cluster', '--policy', POLICY, '--expect', 'examples/l7/expect-http.yaml', '-o', 'summary']);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  });
});
