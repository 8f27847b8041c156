/**
 * Table sizes on the command line are checked against what the maps can hold: a policy map
 * takes at most 1 << 26 entries (src/maps/policy-map.ts), so a larger --bpf-policy-map-max is a
 * usage error (one line, exit 2). It used to pass the flag check (1..10^8) and then fail inside
 * the datapath as an internal error (exit 70). Found by fuzzing the CLI's numeric flags.
 */
import { describe, expect, test } from 'vitest';
import { runHubcap } from '../helpers/cli.js';

const STARWARS = ['pcaps/starwars-deathstar.pcap', '--cluster', 'examples/starwars/cluster', '--policy', 'examples/starwars/policies', '-q', '-o', 'summary'];

describe('--bpf-policy-map-max bounds', () => {
  test.each(['67108865', '100000000'])('%s is refused as usage', (value) => {
    const r = runHubcap(['replay', ...STARWARS, '--bpf-policy-map-max', value]);
    expect(r.stderr.trim()).toBe(`hubcap: --bpf-policy-map-max must be a whole number between 1 and 67108864, got "${value}"`);
    expect(r.status).toBe(2);
  });

  test.each(['ts', 'native'])('the largest map size replays (%s backend)', (backend) => {
    const r = runHubcap(['replay', ...STARWARS, '--bpf-policy-map-max', '67108864', '--backend', backend]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Verdicts/m);
  });
});
