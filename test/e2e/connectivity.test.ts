/**
 * `cilium connectivity test` cases end to end (examples/connectivity): each test's recorded
 * actions replayed against the policies the test applies. Expected verdicts: each test's
 * definition in cilium-cli's connectivity/builder (its WithExpectations function, or success when
 * it has none), cited in each expect.yaml.
 */
import { describe, test } from 'vitest';
import { CONNECTIVITY_CASES, caseName, checkCase } from './replay-case.js';

describe('cilium connectivity test', () => {
  test.each(CONNECTIVITY_CASES.map((c) => [caseName(c), c] as const))('%s', (_name, c) => {
    checkCase(c);
  });
});
