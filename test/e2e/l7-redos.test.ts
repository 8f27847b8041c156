/**
 * A catastrophic-backtracking path pattern in a policy, replayed against a hostile request.
 *
 * The pattern `^/(a+)+$` (nested quantifiers: OWASP "Regular expression Denial of Service -
 * ReDoS") takes time exponential in the input for a backtracking engine on "aaaa...a!". Envoy,
 * which matches Cilium's HTTP rules, compiles them as google_re2 safe_regex (Envoy's
 * RegexMatcher docs: "Google's RE2 regex engine ... guarantees linear-time matching"; Cilium
 * pkg/envoy/server.go getHTTPRule), so the request is simply decided. Expected: the replay
 * finishes well inside a 30 s hang guard, the hostile GET (not all a's) is denied with a 403, the
 * benign GET /aaaa is allowed (docs.cilium.io Layer 7 Policies: a path is a regex matched against
 * the request's path; "requests to any other URL ... will be rejected"), and the compiled
 * matcher of the policy's rules is RE2 (asserted on src/proxy/http-rules.ts's objects).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import RE2 from 're2';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { MapsDocument } from '../../src/maps/document.js';
import type { HttpRule } from '../../src/policy/types.js';
import { compileHttpRules } from '../../src/proxy/http-rules.js';
import { ROOT, runHubcap } from '../helpers/cli.js';
import { CLIENT, L7Capture, WEB, httpLog, httpRequest, httpResponse, ofPort, show, tempDir, type Flow } from '../helpers/l7-capture.js';

const POLICY = 'examples/l7/policies/redos';
const HOSTILE_PATH = `/${'a'.repeat(50_000)}!`;
const HANG_GUARD_MS = 30_000;
const tmp = tempDir();
let capture: string;

beforeAll(() => {
  const cap = new L7Capture();
  // The hostile request: a 50 KB request line (under Envoy's 60 KiB max_request_headers_kb),
  // sent in MSS-sized segments as a Linux client would.
  const hostile = cap.tcp({ ip: CLIENT, port: 43001 }, { ip: WEB, port: 80 }).open();
  const req = httpRequest('GET', HOSTILE_PATH);
  hostile.send(true, req, { split: Array<number>(Math.floor(req.length / 1448)).fill(1448) });
  hostile.send(false, httpResponse(404, 'not found\n'));
  hostile.close();
  const benign = cap.tcp({ ip: CLIENT, port: 43002 }, { ip: WEB, port: 80 }).open();
  benign.exchange(httpRequest('GET', '/aaaa'), httpResponse(200, 'aaaa\n'));
  benign.close();
  capture = cap.write(join(tmp.dir, 'l7-redos.pcap'));
});
afterAll(() => tmp.cleanup());

test('the replay of a hostile request against ^/(a+)+$ finishes inside the 30 s hang guard, and decides it', () => {
  const started = Date.now();
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/hubcap.js'), 'replay', capture, '--cluster', 'examples/l7/cluster', '--policy', POLICY, '-o', 'json'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: HANG_GUARD_MS,
    maxBuffer: 1 << 28,
  });
  const elapsed = Date.now() - started;
  expect(r.error, `hang guard hit after ${elapsed} ms`).toBeUndefined();
  expect(r.signal).toBeNull();
  expect(r.status, r.stderr).toBe(0);
  expect(elapsed).toBeLessThan(HANG_GUARD_MS);
  const flows = r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => (JSON.parse(l) as { flow: Flow }).flow);
  const hostile = ofPort(flows, 43001);
  expect(httpLog(hostile), show(hostile.filter((f) => f.Type === 'L7'))).toEqual([`GET ${HOSTILE_PATH} request DROPPED`, `GET ${HOSTILE_PATH} response FORWARDED 403`]);
  expect(httpLog(ofPort(flows, 43002))).toEqual(['GET /aaaa request FORWARDED', 'GET /aaaa response FORWARDED 200']);
});

test("the policy's path pattern is compiled to RE2 (not a backtracking RegExp) and matches the hostile path in linear time", () => {
  // The rules exactly as the agent hands them to the proxy (maps dump: the L7 rules behind the
  // proxy port), compiled by the proxy's matcher.
  const dump = runHubcap(['maps', '--cluster', 'examples/l7/cluster', '--policy', POLICY, 'dump']);
  expect(dump.status, dump.stderr).toBe(0);
  const doc = JSON.parse(dump.stdout) as MapsDocument;
  const set = doc.l7.find((r) => r.parser === 'http' && r.endpoint.startsWith('default/web-'));
  expect(set?.rules).toEqual([{ method: 'GET', path: '^/(a+)+$' }]);
  const compiled = compileHttpRules(set!.rules as HttpRule[]);
  const path = compiled.rules[0]!.path!;
  expect(path.re).toBeInstanceOf(RE2);
  expect(path.re).not.toBeInstanceOf(RegExp);
  // A regex (not a literal), so the request's path goes through the field's RE2.Set too.
  expect(path.literals).toBeNull();
  expect(compiled.pathSet).toBeInstanceOf(RE2.Set);
  const view = (p: string) => ({ method: 'GET', path: p, authority: 'web', rawHeaders: [] });
  const started = performance.now();
  expect(compiled.allows(view(HOSTILE_PATH))).toBe(false);
  expect(path.re.test(HOSTILE_PATH)).toBe(false);
  expect(performance.now() - started).toBeLessThan(1_000);
  expect(compiled.allows(view('/aaaa'))).toBe(true);
});
