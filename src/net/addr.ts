/**
 * IP addresses as four 32-bit words in network order, shared by every stage.
 *
 * An IPv4 address is stored IPv4-mapped: (0, 0, 0x0000ffff, addr). The family always travels
 * beside the words (4 or 6), so a real IPv6 packet to ::ffff:a.b.c.d is not confused with IPv4.
 * Text output is canonical: dotted quad for IPv4, RFC 5952 for IPv6 (lowercase, longest run of
 * two or more zero groups compressed, first one on a tie).
 */

export type IpFamily = 4 | 6;

export interface IpAddress {
  family: IpFamily;
  words: Uint32Array;
}

export interface Cidr {
  family: IpFamily;
  words: Uint32Array;
  /** Prefix length within the family: 0..32 or 0..128. */
  prefixLen: number;
}

export function ipv4Words(addr: number, out: Uint32Array = new Uint32Array(4)): Uint32Array {
  out[0] = 0;
  out[1] = 0;
  out[2] = 0xffff;
  out[3] = addr >>> 0;
  return out;
}

/**
 * Copies four address words to `to[at..at + 3]`. Direct stores: on the hot path
 * `TypedArray#set` is a generic (megamorphic) property load plus a builtin call per copy.
 */
export function copyWords(to: Uint32Array, from: ArrayLike<number>, at = 0): void {
  to[at] = from[0]!;
  to[at + 1] = from[1]!;
  to[at + 2] = from[2]!;
  to[at + 3] = from[3]!;
}

function parseIpv4Number(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    // Leading zeros are ambiguous (octal in some parsers); Kubernetes rejects them too.
    if (part.length > 1 && part[0] === '0') return undefined;
    const byte = Number(part);
    if (byte > 255) return undefined;
    value = value * 256 + byte;
  }
  return value >>> 0;
}

function parseIpv6Words(text: string): Uint32Array | undefined {
  if (text.length === 0 || text.length > 45) return undefined;
  let head = text;
  let embeddedV4: number | undefined;
  const lastColon = text.lastIndexOf(':');
  if (lastColon >= 0 && text.indexOf('.', lastColon) > 0) {
    embeddedV4 = parseIpv4Number(text.slice(lastColon + 1));
    if (embeddedV4 === undefined) return undefined;
    head = text.slice(0, lastColon + 1) + '0:0';
  }
  const doubleColon = head.indexOf('::');
  if (doubleColon !== head.lastIndexOf('::')) return undefined;
  const groups: number[] = [];
  const parseGroups = (part: string): boolean => {
    if (part === '') return true;
    for (const g of part.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return false;
      groups.push(parseInt(g, 16));
    }
    return true;
  };
  if (doubleColon >= 0) {
    const left = head.slice(0, doubleColon);
    const right = head.slice(doubleColon + 2);
    if (!parseGroups(left)) return undefined;
    const leftCount = groups.length;
    if (!parseGroups(right)) return undefined;
    const rightGroups = groups.splice(leftCount);
    const missing = 8 - leftCount - rightGroups.length;
    if (missing < 1) return undefined;
    for (let i = 0; i < missing; i++) groups.push(0);
    groups.push(...rightGroups);
  } else {
    if (!parseGroups(head)) return undefined;
  }
  if (groups.length !== 8) return undefined;
  const words = new Uint32Array(4);
  for (let i = 0; i < 4; i++) words[i] = ((groups[2 * i]! << 16) | groups[2 * i + 1]!) >>> 0;
  if (embeddedV4 !== undefined) words[3] = embeddedV4;
  return words;
}

/** Parses an IPv4 or IPv6 address; undefined when the text is not one. */
export function parseIp(text: string): IpAddress | undefined {
  if (text.includes(':')) {
    const words = parseIpv6Words(text);
    return words ? { family: 6, words } : undefined;
  }
  const v4 = parseIpv4Number(text);
  return v4 === undefined ? undefined : { family: 4, words: ipv4Words(v4) };
}

/** Zeroes the host bits of `words` beyond `prefixLen` (family-relative). */
export function maskWords(words: Uint32Array, family: IpFamily, prefixLen: number): Uint32Array {
  const out = new Uint32Array(words);
  // IPv4 lives in word 3; the mapped prefix above it is fixed.
  const totalBits = family === 4 ? 96 + prefixLen : prefixLen;
  for (let w = 0; w < 4; w++) {
    const bitsHere = Math.max(0, Math.min(32, totalBits - w * 32));
    out[w] = bitsHere === 0 ? 0 : bitsHere === 32 ? out[w]! : (out[w]! & (~0 << (32 - bitsHere))) >>> 0;
  }
  if (family === 4) {
    out[0] = 0;
    out[1] = 0;
    out[2] = 0xffff;
  }
  return out;
}

/**
 * Parses `a.b.c.d/n` or `x::/n`; a bare address is a host prefix. The returned words are masked
 * to the prefix; `hostBitsSet` tells whether the text had bits beyond it, so each caller can
 * follow its own source (Cilium masks such prefixes, some validators reject them).
 */
export function parseCidr(text: string): (Cidr & { hostBitsSet: boolean }) | undefined {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const addr = parseIp(addrText);
  if (!addr) return undefined;
  const maxLen = addr.family === 4 ? 32 : 128;
  let prefixLen = maxLen;
  if (slash >= 0) {
    const lenText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lenText)) return undefined;
    prefixLen = Number(lenText);
    if (prefixLen > maxLen) return undefined;
  }
  const words = maskWords(addr.words, addr.family, prefixLen);
  let hostBitsSet = false;
  for (let i = 0; i < 4; i++) if (words[i] !== addr.words[i]) hostBitsSet = true;
  return { family: addr.family, words, prefixLen, hostBitsSet };
}

export function formatIpv4(addr: number): string {
  return `${addr >>> 24}.${(addr >>> 16) & 255}.${(addr >>> 8) & 255}.${addr & 255}`;
}

/** RFC 5952 text of an IPv6 address given as four words. */
export function formatIpv6(words: ArrayLike<number>): string {
  const groups: number[] = [];
  for (let i = 0; i < 4; i++) {
    groups.push((words[i]! >>> 16) & 0xffff, words[i]! & 0xffff);
  }
  // Longest run of zero groups (length >= 2), first on a tie.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  // RFC 5952 section 5: IPv4-mapped addresses print their last 32 bits dotted.
  const mapped = bestStart === 0 && bestLen === 5 && groups[5] === 0xffff;
  if (mapped) return `::ffff:${formatIpv4(words[3]! >>> 0)}`;
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export function formatIp(words: ArrayLike<number>, family: number): string {
  return family === 4 ? formatIpv4(words[3]! >>> 0) : formatIpv6(words);
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIp(cidr.words, cidr.family)}/${cidr.prefixLen}`;
}

/** True when `words` (same family) falls inside `cidr`. */
export function cidrContains(cidr: Cidr, family: IpFamily, words: ArrayLike<number>): boolean {
  if (family !== cidr.family) return false;
  const totalBits = family === 4 ? 96 + cidr.prefixLen : cidr.prefixLen;
  for (let w = 0; w < 4; w++) {
    const bitsHere = Math.max(0, Math.min(32, totalBits - w * 32));
    if (bitsHere === 0) break;
    const mask = bitsHere === 32 ? 0xffffffff : (~0 << (32 - bitsHere)) >>> 0;
    if (((words[w]! & mask) >>> 0) !== ((cidr.words[w]! & mask) >>> 0)) return false;
  }
  return true;
}
