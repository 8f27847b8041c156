/**
 * Addresses at the edges of a maps document's ipcache prefixes, for tests that compare two
 * ipcache lookups (backends, the fast path's locate part): where a longest-prefix match flips.
 */
import type { MapsDocument } from '../../src/maps/document.js';
import { parseCidr } from '../../src/net/addr.js';

export interface Address {
  family: 4 | 6;
  words: Uint32Array;
}

/** The first, second and last address of every prefix (for IPv6 the last only in the low word's bits, enough to cross a boundary). */
export function prefixEdges(doc: MapsDocument): Address[] {
  const out: Address[] = [];
  const prefixes = [...doc.ipcache.shared, ...doc.ipcache.views.flatMap((v) => v.entries)].map((r) => r.prefix);
  for (const text of prefixes) {
    const c = parseCidr(text)!;
    const first = Uint32Array.from(c.words);
    const second = Uint32Array.from(c.words);
    second[3] = (second[3]! + 1) >>> 0;
    const last = Uint32Array.from(c.words);
    const hostBits = (c.family === 4 ? 32 : 128) - c.prefixLen;
    if (hostBits > 0) last[3] = (last[3]! | (hostBits >= 32 ? 0xffffffff : (1 << hostBits) - 1)) >>> 0;
    out.push({ family: c.family, words: first }, { family: c.family, words: second }, { family: c.family, words: last });
  }
  return out;
}
