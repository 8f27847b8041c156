/**
 * The same traffic as microsecond pcap, nanosecond pcap, pcapng and Kuznetzov's modified pcap
 * (all written by editcap) yields identical frame streams.
 */
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readAllFrames } from '../../src/capture/open.js';
import { frameSummary, makeTempDir, tcpdumpCaptures, tool } from '../helpers/capture-fixtures.js';

const tmp = makeTempDir();
afterAll(tmp.cleanup);

const PCAPS = join(import.meta.dirname, '../../pcaps');
const recorded = readdirSync(PCAPS)
  .filter((f) => /\.pcap(ng)?$/.test(f))
  .map((f) => join(PCAPS, f));

describe('same traffic in every format', () => {
  const sources = [...tcpdumpCaptures(), ...recorded];

  it('has captures to convert', () => {
    expect(sources.length).toBeGreaterThanOrEqual(10);
  });

  it.each(sources.map((p) => [basename(p), p]))('%s', async (name, path) => {
    const convert = (format: string): string => {
      const out = join(tmp.dir, `${name}.${format}`);
      tool('editcap', ['-F', format, path, out]);
      return out;
    };
    const nsec = (await readAllFrames(convert('nsecpcap'))).map(frameSummary);
    const ng = (await readAllFrames(convert('pcapng'))).map(frameSummary);
    expect(nsec.length).toBeGreaterThan(0);
    expect(ng).toEqual(nsec);
    // A microsecond file keeps only whole microseconds; compare the truncated timestamps.
    const micro = (await readAllFrames(convert('pcap'))).map(frameSummary);
    const mod = (await readAllFrames(convert('modpcap'))).map(frameSummary);
    const truncated = nsec.map((f) => ({ ...f, tsNsec: Math.floor(f.tsNsec / 1000) * 1000 }));
    expect(micro).toEqual(truncated);
    expect(mod).toEqual(truncated);
  });
});
