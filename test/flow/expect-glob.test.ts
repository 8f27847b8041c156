/**
 * `--expect` entries match HTTP paths and DNS names with `*` globs (src/flow/expectations.ts).
 * The text comes from the capture, so the match must stay linear-ish on hostile input: fuzzing
 * found that the former RegExp of `.*` runs backtracked for minutes on a 3000-character path.
 */
import { describe, expect, test } from 'vitest';
import { globMatches } from '../../src/flow/expectations.js';

describe('expectation globs', () => {
  test.each([
    ['no star is an exact match', '/public', '/public', true],
    ['no star, different text', '/public', '/public/', false],
    ['a trailing star takes the rest', '/api/*', '/api/v1/items', true],
    ['a trailing star takes nothing', '/api/*', '/api/', true],
    ['a leading star', '*.example.com', 'api.example.com', true],
    ['a leading star needs the suffix', '*.example.com', 'example.com', false],
    ['stars in the middle', '/v*/items/*', '/v1/items/42', true],
    ['the last literal must end the text', '/a*b', '/aab/c', false],
    ['a star alone matches the empty text', '*', '', true],
    ['consecutive stars are one', '/**x', '/abcx', true],
    ['regex characters are literal', '/a.b?*', '/a.b?c', true],
    ['a dot is not any character', '/a.b*', '/axb', false],
    ['backtracking past a false start', '*aab', 'aaab', true],
  ])('%s', (_name, pattern, text, want) => {
    expect(globMatches(pattern, text)).toBe(want);
  });

  test('a star-heavy pattern against a long path from the capture is decided at once', () => {
    const pattern = `/${'*a'.repeat(12)}*b`;
    const path = `/${'a'.repeat(3000)}`;
    const started = performance.now();
    expect(globMatches(pattern, path)).toBe(false);
    expect(globMatches(pattern, `${path}b`)).toBe(true);
    expect(performance.now() - started).toBeLessThan(500);
  });
});
