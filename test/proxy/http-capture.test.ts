/**
 * Reassembly + HTTP over real captures (pcaps/README.md: curl against Python's http.server, which
 * writes headers and body in separate segments), checked against tshark's HTTP dissector: the
 * same requests (method, target, Host) and responses (status, Content-Length) per connection, in
 * order. The node captures carry every packet twice, so each message must still be seen once.
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { httpOverConnection, PCAPS, tcpConnections } from './helpers.js';

interface TsharkHttp {
  port: number;
  requests: Array<[string, string, string]>;
  responses: Array<[number, number]>;
}

/** tshark's HTTP messages grouped by the client port of their connection. */
function tsharkHttp(path: string): Map<number, TsharkHttp> {
  const out = execFileSync(
    'tshark',
    ['-r', path, '-Y', 'http', '-T', 'fields', '-E', 'separator=|', '-e', 'tcp.srcport', '-e', 'tcp.dstport', '-e', 'http.request.method', '-e', 'http.request.uri', '-e', 'http.host', '-e', 'http.response.code', '-e', 'http.content_length_header'],
    { encoding: 'utf8' },
  );
  const byPort = new Map<number, TsharkHttp>();
  for (const line of out.split('\n')) {
    if (line === '') continue;
    const [sport, dport, method, uri, host, code, cl] = line.split('|');
    const isReq = method !== '';
    const client = Number(isReq ? sport : dport);
    let e = byPort.get(client);
    if (!e) byPort.set(client, (e = { port: client, requests: [], responses: [] }));
    if (isReq) e.requests.push([method!, uri!, host!]);
    else e.responses.push([Number(code), cl === '' ? -1 : Number(cl)]);
  }
  return byPort;
}

describe.each([
  ['starwars-deathstar.pcap', 4],
  ['foundation-client.pcap', 4],
  ['foundation-server-ns.pcap', 4],
  ['starwars-service.pcap', -1],
])('%s', (file, expectedRequests) => {
  const path = resolve(PCAPS, file);

  it('requests and responses per connection equal tshark\'s', async () => {
    const conns = (await tcpConnections(path)).filter((c) => c.serverPort === 80 || c.serverPort === 8000);
    const want = tsharkHttp(path);
    let total = 0;
    for (const c of conns) {
      const ev = httpOverConnection(c);
      expect(ev.errors).toEqual([]);
      const t = want.get(c.clientPort) ?? { requests: [], responses: [] };
      expect(ev.requests.map((r) => [r.method, r.target, r.authority])).toEqual(t.requests);
      expect(ev.responses.map((r) => [r.status, r.contentLength])).toEqual(t.responses);
      for (const r of ev.responses) {
        expect(r.complete).toBe(true);
        expect(r.bodyBytes).toBe(r.contentLength);
        expect(r.request).not.toBeNull();
        expect(r.headersTs).toBeGreaterThanOrEqual(r.request!.completeTs);
      }
      total += ev.requests.length;
    }
    if (expectedRequests >= 0) expect(total).toBe(expectedRequests);
    else expect(total).toBeGreaterThan(0);
  });
});

describe('node capture with every packet twice', () => {
  it('sees each Star Wars request once', async () => {
    const conns = (await tcpConnections(resolve(PCAPS, 'starwars-node-sll2.pcap'))).filter((c) => c.serverPort === 80);
    const lines = conns.flatMap((c) => httpOverConnection(c).requests.map((r) => `${r.method} ${r.path}`));
    expect(lines.sort()).toEqual(['POST /v1/request-landing', 'POST /v1/request-landing', 'POST /v1/request-landing', 'PUT /v1/exhaust-port']);
  });
});
