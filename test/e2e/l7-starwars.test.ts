/**
 * The Star Wars demo's L7 policy end to end, on the recorded captures: `hubcap replay` with
 * examples/starwars/policies-l7 (rule1 limited to POST /v1/request-landing).
 *
 * Expected outcomes: docs.cilium.io "Getting Started with the Star Wars Demo", section "Apply and
 * Test HTTP-aware L7 Policy": tiefighter's POST /v1/request-landing answers "Ship landed", its PUT
 * /v1/exhaust-port answers "Access denied", and xwing's traffic "will continue to be dropped
 * causing the connection to time out"; docs.cilium.io "Layer 7 Policies": "violation of layer 7
 * rules does not result in packet drops. Instead ... an HTTP 403 access denied is sent back";
 * docs.cilium.io "Inspecting Network Flows with the CLI" (hubble observe --pod deathstar
 * --protocol http: http-request FORWARDED POST, http-response FORWARDED 200, http-request DROPPED
 * PUT; --verdict DROPPED: xwing's "Policy denied DROPPED (TCP Flags: SYN)", no L7 flow for it).
 * hubcap's own rule for a capture recorded without the policy (design.md section 5): the server's
 * answer to a denied request never existed, so it is reported as an inherited drop.
 */
import { describe, expect, test } from 'vitest';
import { runHubcap } from '../helpers/cli.js';
import { DROP, POLICY_VERDICT, finals, httpLog, l7, ofPort, replayJson, show, type Flow } from '../helpers/l7-capture.js';

const CLUSTER = 'examples/starwars/cluster';
const POLICY = 'examples/starwars/policies-l7';
const DEATHSTAR = ['10.0.1.10', 'fd00:10:0:1::10'];
const TIEFIGHTER = ['10.0.1.20', 'fd00:10:0:1::20'];
const XWING = ['10.0.1.30', 'fd00:10:0:1::30'];

const captures = [
  ['the deathstar pod (eth0)', 'pcaps/starwars-deathstar.pcap'],
  ['the node, tcpdump -i any (every packet twice)', 'pcaps/starwars-node-sll2.pcap'],
] as const;

const replays = new Map<string, Flow[]>();
function replay(capture: string): Flow[] {
  let flows = replays.get(capture);
  if (!flows) {
    flows = replayJson(capture, POLICY, [], CLUSTER);
    replays.set(capture, flows);
  }
  return flows;
}

const clientPort = (f: Flow): number => {
  const t = f.l4?.TCP;
  return (f.is_reply || f.l7?.type === 'RESPONSE' ? t?.destination_port : t?.source_port) ?? -1;
};
const pathOf = (f: Flow): string => (f.l7?.http?.url ?? '').replace(/^[a-z]+:\/\/[^/]*/, '');
const isServer = (f: Flow): boolean => DEATHSTAR.includes(f.IP?.source ?? '') && f.l4?.TCP?.source_port === 80;

describe.each(captures)('Star Wars L7 policy: %s', (_name, capture) => {
  test('tiefighter POST /v1/request-landing: http-request FORWARDED, http-response FORWARDED 200', () => {
    const flows = replay(capture);
    const posts = l7(flows).filter((f) => f.l7?.type === 'REQUEST' && f.l7.http?.method === 'POST');
    // Two landings in the capture: over IPv4 and over IPv6 (pcaps/README.md, scenario starwars).
    expect(posts.map((f) => [f.IP?.source, pathOf(f), f.verdict]).sort(), show(l7(flows))).toEqual(
      TIEFIGHTER.map((ip) => [ip, '/v1/request-landing', 'FORWARDED']).sort(),
    );
    for (const req of posts) {
      expect(req.source?.pod_name).toBe('tiefighter');
      expect(req.destination?.pod_name).toMatch(/^deathstar-/);
      expect(req.traffic_direction).toBe('INGRESS');
      const conn = ofPort(l7(flows), clientPort(req));
      expect(httpLog(conn)).toEqual(['POST /v1/request-landing request FORWARDED', 'POST /v1/request-landing response FORWARDED 200']);
      const res = conn.find((f) => f.l7?.type === 'RESPONSE')!;
      expect(res.is_reply).toBe(true);
      expect(res.source?.pod_name).toMatch(/^deathstar-/);
      expect(res.destination?.pod_name).toBe('tiefighter');
      // Nothing of a landing connection is dropped.
      expect(finals(ofPort(flows, clientPort(req))).filter((f) => f.verdict === 'DROPPED')).toEqual([]);
    }
  });

  test('tiefighter PUT /v1/exhaust-port: http-request DROPPED and the proxy answers 403 Access denied', () => {
    const flows = replay(capture);
    const puts = l7(flows).filter((f) => f.l7?.type === 'REQUEST' && f.l7.http?.method === 'PUT');
    expect(puts.length, show(l7(flows))).toBe(1);
    const put = puts[0]!;
    expect(put.verdict).toBe('DROPPED');
    expect(pathOf(put)).toBe('/v1/exhaust-port');
    expect(put.IP?.source).toBe(TIEFIGHTER[0]);
    const port = clientPort(put);
    // The proxy's own answer to the client: a response record with code 403 for that request.
    const responses = ofPort(l7(flows), port).filter((f) => f.l7?.type === 'RESPONSE');
    expect(responses.map((f) => [f.verdict, f.l7?.http?.code, f.l7?.http?.method, pathOf(f)])).toEqual([['FORWARDED', 403, 'PUT', '/v1/exhaust-port']]);
    expect(responses[0]!.IP).toMatchObject({ source: DEATHSTAR[0], destination: TIEFIGHTER[0] });
    expect(responses[0]!.is_reply).toBe(true);
  });

  test("the server's real answer to the PUT is reported dropped (inherited); the TCP connection is not", () => {
    const flows = replay(capture);
    const put = l7(flows).find((f) => f.l7?.type === 'REQUEST' && f.l7.http?.method === 'PUT')!;
    const conn = ofPort(flows, clientPort(put));
    const fin = finals(conn);
    // The deathstar's answer (503 "Panic: deathstar exploded", pcaps/README.md) is data from port 80.
    const answer = fin.filter((f) => isServer(f) && f.l4?.TCP?.flags?.PSH);
    expect(answer.length, show(fin)).toBeGreaterThan(0);
    for (const f of answer) {
      expect(f.verdict, show([f])).toBe('DROPPED');
      expect(f.hubcap?.inherited).toBe(true);
    }
    // Everything else of the connection reaches the proxy: the handshake, the request, the ACKs,
    // both FINs. An L7 denial is not a packet drop.
    const rest = fin.filter((f) => !answer.includes(f));
    expect(rest.some((f) => f.l4?.TCP?.flags?.SYN && !f.l4.TCP.flags.ACK)).toBe(true);
    expect(rest.some((f) => TIEFIGHTER.includes(f.IP?.source ?? '') && f.l4?.TCP?.flags?.PSH)).toBe(true);
    expect(rest.filter((f) => f.l4?.TCP?.flags?.FIN).length).toBeGreaterThanOrEqual(2);
    for (const f of rest) {
      expect(f.verdict, show([f])).toBe('FORWARDED');
      expect(f.trace_observation_point).toBe('TO_PROXY');
    }
    // No policy verdict of the connection denies anything.
    expect(conn.filter((f) => f.event_type?.type === POLICY_VERDICT && f.verdict === 'DROPPED')).toEqual([]);
  });

  test('xwing is dropped silently at L3/L4: no L7 flow at all', () => {
    const flows = replay(capture);
    expect(l7(flows).filter((f) => XWING.includes(f.IP?.source ?? '') || XWING.includes(f.IP?.destination ?? '')), show(l7(flows))).toEqual([]);
    const tcp = finals(flows).filter((f) => f.l4?.TCP && (XWING.includes(f.IP?.source ?? '') || XWING.includes(f.IP?.destination ?? '')));
    expect(tcp.length).toBeGreaterThan(0);
    for (const f of tcp) {
      expect(f.verdict, show([f])).toBe('DROPPED');
      expect(f.event_type?.type).toBe(DROP);
      expect(f.drop_reason_desc).toBe('POLICY_DENIED');
    }
    const syn = tcp.find((f) => f.l4?.TCP?.flags?.SYN && !f.l4.TCP.flags.ACK)!;
    expect(syn.hubcap?.inherited).toBeUndefined();
    const verdicts = flows.filter((f) => f.event_type?.type === POLICY_VERDICT && f.IP?.source === XWING[0] && f.l4?.TCP);
    expect(verdicts.some((f) => f.verdict === 'DROPPED' && f.traffic_direction === 'INGRESS')).toBe(true);
  });

  test('each request is logged once (the node capture holds every packet twice)', () => {
    // The three requests of the capture, each with its answer: nothing counted twice.
    const log = httpLog(replay(capture));
    expect(log.slice().sort()).toEqual(
      [
        'POST /v1/request-landing request FORWARDED',
        'POST /v1/request-landing response FORWARDED 200',
        'POST /v1/request-landing request FORWARDED',
        'POST /v1/request-landing response FORWARDED 200',
        'PUT /v1/exhaust-port request DROPPED',
        'PUT /v1/exhaust-port response FORWARDED 403',
      ].sort(),
    );
  });

  test('examples/starwars/expect-l7.yaml holds under hubcap --expect', () => {
    const r = runHubcap(['replay', capture, '--cluster', CLUSTER, '--policy', POLICY, '--expect', 'examples/starwars/expect-l7.yaml', '-o', 'summary']);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(`${r.stdout}${r.stderr}`).toMatch(/expectations: all 3 hold/);
  });
});

test('expect-l7.yaml rejects the L3/L4-only policy: under it the PUT reaches the deathstar (no 403)', () => {
  // The same file against examples/starwars/policies (rule1 without L7 rules): the demo's section
  // "Apply and Test HTTP-aware L7 Policy" shows the PUT succeeding ("Panic: deathstar exploded")
  // before the L7 rule is applied, so the http-403 expectation must fail there.
  const r = runHubcap([
    'replay',
    'pcaps/starwars-deathstar.pcap',
    '--cluster',
    CLUSTER,
    '--policy',
    'examples/starwars/policies',
    '--expect',
    'examples/starwars/expect-l7.yaml',
    '-o',
    'summary',
  ]);
  expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(1);
  expect(`${r.stdout}${r.stderr}`).toMatch(/FAIL .*exhaust port/);
});
