/** `hubcap bench`: finds the suites of bench/ and passes sizes to them as their knobs. */
import { describe, expect, test } from 'vitest';
import { benchEnvironment } from '../../src/cli/bench.js';
import { runHubcap } from '../helpers/cli.js';

describe('hubcap bench', () => {
  test('--list names every suite', () => {
    const r = runHubcap(['bench', '--list']);
    expect(r.status).toBe(0);
    for (const s of ['capture/read', 'agent/compile', 'datapath/replay', 'proxy/http']) expect(r.stdout).toContain(s);
  });

  test('sizes become the suites\' knobs', () => {
    expect(benchEnvironment({ packets: '2000', sizes: '1000,512000', pods: '300' })).toMatchObject({
      BENCH_PACKETS: '2000',
      BENCH_REPLAY_PACKETS: '2000',
      BENCH_MAPS_SIZES: '1000,512000',
      BENCH_COMPILE_PODS: '300',
      BENCH_REPLAY_PODS: '300',
    });
  });

  test.each([[['--runs', 'x']], [['--sizes', '10,,x']], [['no-such-suite']]])('bad input %j exits 2 with one line', (args) => {
    const r = runHubcap(['bench', ...args]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
