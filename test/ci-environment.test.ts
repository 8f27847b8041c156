/**
 * The environment the suite needs, checked up front so a missing tool or missing root fails
 * with one clear line instead of tests quietly doing less. `.ci/run` installs all of this.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

/** Tools the suite runs, and what needs them. */
const TOOLS: ReadonlyArray<[tool: string, usedBy: string]> = [
  ['tshark', 'capture and decode oracle tests (Debian package tshark)'],
  ['tcpdump', 'capture oracle tests and pcaps/record.sh (tcpdump)'],
  ['editcap', 'pcapng conversions (Debian package wireshark-common, pulled in by tshark)'],
  ['ip', 'network namespaces for live capture tests (iproute2)'],
  ['ping', 'live capture traffic (iputils-ping)'],
  ['curl', 'live capture traffic (curl)'],
  ['python3', 'the HTTP server of the live capture tests (python3)'],
  ['setpriv', 'the permission test of live capture (util-linux)'],
];

function findTool(tool: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

describe('CI environment', () => {
  it.each(TOOLS)('has %s on PATH', (tool, usedBy) => {
    const path = findTool(tool);
    if (path === undefined) {
      throw new Error(`${tool} is not installed or not on PATH; it is needed by ${usedBy} (.ci/run installs it)`);
    }
    expect(path).toMatch(new RegExp(`/${tool}$`));
  });

  it('runs as root (network namespaces and packet capture)', () => {
    const uid = process.getuid?.();
    if (uid !== 0) {
      throw new Error(`the suite must run as root (uid ${uid ?? 'unknown'}): live capture tests create network namespaces and open packet sockets`);
    }
    expect(uid).toBe(0);
  });

  it('has the cap addon built against libpcap', () => {
    const require = createRequire(import.meta.url);
    let cap: { Cap?: unknown };
    try {
      cap = require('cap') as { Cap?: unknown };
    } catch (err) {
      throw new Error(`the cap package did not load (install libpcap-dev, then npm rebuild cap): ${(err as Error).message.split('\n')[0]}`);
    }
    expect(typeof cap.Cap).toBe('function');
  });
});
