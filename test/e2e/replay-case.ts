/**
 * One end-to-end case: replay a capture of pcaps/ against a cluster and policies of examples/
 * with `hubcap replay -o json`, check every expectation of its expect file connection by
 * connection with the independent checker (expect-check.ts), then let hubcap check the same file
 * itself (`--expect`, exit 0).
 */
import { join } from 'node:path';
import { expect } from 'vitest';
import { ROOT, runHubcap } from '../helpers/cli.js';
import { checkExpectations, connectionsOf, loadCluster, loadExpectations, type FlowLine } from './expect-check.js';

export interface ReplayCase {
  /** capture under pcaps/ */
  capture: string;
  /** cluster folder under examples/ */
  cluster: string;
  /** policy folder under examples/ */
  policy: string;
  /** expectations file under examples/ */
  expect: string;
}

function args(c: ReplayCase): string[] {
  return [
    'replay',
    join('pcaps', c.capture),
    '--cluster',
    join('examples', c.cluster),
    '--policy',
    join('examples', c.policy),
  ];
}

/** The replay's Hubble lines. */
export function replayJson(c: ReplayCase, extra: string[] = []): FlowLine[] {
  const r = runHubcap([...args(c), '-o', 'json', ...extra]);
  expect(r.status, r.stderr).toBe(0);
  return r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as FlowLine);
}

/** Every expectation holds in the JSON flows (checked here) and under `hubcap --expect`. */
export function checkCase(c: ReplayCase, extra: string[] = []): void {
  const lines = replayJson(c, extra);
  const cluster = loadCluster(join(ROOT, 'examples', c.cluster));
  const result = checkExpectations(loadExpectations(join(ROOT, 'examples', c.expect)), connectionsOf(lines), cluster);
  expect(result.failures, result.lines.join('\n')).toBe(0);

  const own = runHubcap([...args(c), '--expect', join('examples', c.expect), '-o', 'summary', ...extra]);
  expect(own.status, `${own.stdout}\n${own.stderr}`).toBe(0);
}
