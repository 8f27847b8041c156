/**
 * pcapng timestamps -> (seconds, nanoseconds), exact, without BigInt on the hot path.
 *
 * Mirrors: the pcapng spec's `if_tsresol` / `if_tsoffset` options (draft-ietf-opsawg-pcapng
 * §4.2) and Wireshark's wiretap/pcapng.c, which turns a 64-bit count of units into
 * `secs = ts / units_per_second`, `nsecs = (ts % units_per_second) * 1e9 / units_per_second`
 * (truncating). A 64-bit nanosecond count is about 1.7e18 today, far above 2^53, so the count
 * travels as two unsigned 32-bit words (`hi`, `lo`) and every step below keeps its
 * intermediate values under 2^53:
 *
 *  - decimal resolution 10^-k, k <= 9, the common case: one multiplication by 1/D estimates
 *    the quotient and an exact remainder modulo 2^32 corrects it (see convert()); where that
 *    bound does not hold (k <= 3 with ts >= 2^53), long division of hi:lo by D = 10^k in two
 *    steps, first `hi * 2^16 + (lo >>> 16)` (< 2^48) then `rem * 2^16 + (lo & 0xffff)`
 *    (< D * 2^16). A float quotient of integers below 2^48 never rounds across an integer
 *    (the gap to the next integer is at least 1/cur > 2^-48, wider than half an ulp), so
 *    Math.floor gives the exact quotient.
 *  - decimal resolution, k > 9 (picoseconds and finer): first divide hi:lo by 10^(k-9) with a
 *    four-digit (16-bit digits) long division, which leaves a nanosecond count, then as k = 9.
 *  - binary resolution 2^-k: seconds are a shift, and nsec = floor(frac * 1e9 / 2^k) is
 *    computed as floor(frac * 1953125 / 2^(k-9)) (1e9 = 2^9 * 1953125) with frac split into
 *    32-bit words: each word times 1953125 stays below 2^53.
 *
 * Seconds above 2^53 (years past 285 million) cannot be held exactly in a number; they are not
 * real capture times, and they round instead of failing.
 */

const TWO32 = 4294967296;
const NS_PER_SEC = 1_000_000_000;

/** Output of a conversion; the reader copies it into its Frame. */
export interface TimeOut {
  tsSec: number;
  tsNsec: number;
}

/** How a pcapng interface counts time, fixed when its IDB is read (chosen once, not per packet). */
export class TimestampUnit {
  /** The raw `if_tsresol` byte: MSB clear = 10^-value, MSB set = 2^-(value & 0x7f). */
  readonly tsresol: number;
  /** `if_tsoffset`: seconds added to every timestamp of the interface. */
  readonly offsetSec: number;
  private readonly binary: boolean;
  private readonly exp: number;
  /** Decimal k <= 9: 10^k and 10^(9-k). */
  private readonly divisor: number;
  private readonly nsMul: number;
  private readonly inverse: number;
  /** Decimal with k <= 9: the fast path of convert() applies. */
  private readonly plainDecimal: boolean;
  /** Decimal k > 9: the pre-division steps down to nanoseconds (each <= 1e9). */
  private readonly preDivisors: readonly number[];
  // Scratch of the 64-bit long division (avoids returning an object per packet).
  private qHi = 0;
  private qLo = 0;

  constructor(tsresol = 6, offsetSec = 0) {
    this.tsresol = tsresol & 0xff;
    this.offsetSec = offsetSec;
    this.binary = (this.tsresol & 0x80) !== 0;
    this.exp = this.tsresol & 0x7f;
    const pre: number[] = [];
    if (!this.binary && this.exp > 9) {
      let left = this.exp - 9;
      while (left > 0) {
        const step = Math.min(left, 9);
        pre.push(10 ** step);
        left -= step;
      }
    }
    this.preDivisors = pre;
    const k = this.binary ? 9 : Math.min(this.exp, 9);
    this.divisor = 10 ** k;
    this.nsMul = 10 ** (9 - k);
    this.inverse = 1 / this.divisor;
    this.plainDecimal = !this.binary && this.exp <= 9;
  }

  /** Units per second as text (for messages and tests): "1000000", "2^20". */
  describe(): string {
    return this.binary ? `2^${this.exp}` : `10^${this.exp}`;
  }

  /** Converts the 64-bit count hi:lo (unsigned 32-bit words) into out.tsSec / out.tsNsec. */
  convert(hi: number, lo: number, out: TimeOut): void {
    const d = this.divisor;
    if (this.plainDecimal && (d >= 10_000 || hi < 0x200000)) {
      // Fast path (no division): estimate q = floor(ts / D) with one multiplication by 1/D, then
      // correct it with the exact remainder modulo 2^32. Three roundings (ts, 1/D, the product)
      // put the estimate within 3 * 2^-53 * ts/D of the true quotient: under 0.62 for D >= 10^4
      // (ts/D < 2^64 / 10^4 < 2^51), and under 0.25 when ts < 2^53 is exact (D >= 10; D = 1 is
      // exact). So q is off by at most one, and with D <= 10^9 < 2^32 / 3 the three cases are
      // told apart by r32 = (lo - q*D) mod 2^32: q right -> r32 in [0, D); q one too small ->
      // [D, 2D); one too big -> [2^32 - D, 2^32).
      let q = Math.floor((hi * TWO32 + lo) * this.inverse);
      let r = (lo - Math.imul(q, d)) >>> 0;
      if (r >= d) {
        if (r >= 0x80000000) {
          q--;
          r = r + d - TWO32;
        } else {
          q++;
          r -= d;
        }
      }
      out.tsSec = q + this.offsetSec;
      out.tsNsec = r * this.nsMul;
      return;
    }
    // Kept out of line so that convert() stays small enough to be inlined into the reader.
    this.convertSlow(hi, lo, out);
  }

  private convertSlow(hi: number, lo: number, out: TimeOut): void {
    if (this.binary) {
      this.convertBinary(hi, lo, out);
      return;
    }
    for (let i = 0; i < this.preDivisors.length; i++) {
      this.div64(hi, lo, this.preDivisors[i]!);
      hi = this.qHi;
      lo = this.qLo;
    }
    // Two-step long division of hi:lo by D (see the module comment for why floor is exact).
    const d = this.divisor;
    const cur1 = hi * 65536 + (lo >>> 16);
    const q1 = Math.floor(cur1 / d);
    const cur2 = (cur1 - q1 * d) * 65536 + (lo & 0xffff);
    const q2 = Math.floor(cur2 / d);
    out.tsSec = q1 * 65536 + q2 + this.offsetSec;
    out.tsNsec = (cur2 - q2 * d) * this.nsMul;
  }

  private convertBinary(hi: number, lo: number, out: TimeOut): void {
    const k = this.exp;
    let sec: number;
    let fracHi: number;
    let fracLo: number;
    if (k < 32) {
      const p = 2 ** k;
      sec = hi * 2 ** (32 - k) + Math.floor(lo / p);
      fracHi = 0;
      fracLo = lo % p;
    } else if (k < 64) {
      const p = 2 ** (k - 32);
      sec = Math.floor(hi / p);
      fracHi = hi % p;
      fracLo = lo;
    } else {
      sec = 0;
      fracHi = hi;
      fracLo = lo;
    }
    let nsec: number;
    if (k <= 9) {
      // frac < 2^9, so frac * 1e9 < 2^39 and dividing by a power of two is exact.
      nsec = Math.floor((fracLo * NS_PER_SEC) / 2 ** k);
    } else {
      // frac * 1953125 = H * 2^32 + low32 with H < 2^53; then shift right by s = k - 9.
      const pLo = fracLo * 1953125; // < 2^53
      const carry = Math.floor(pLo / TWO32);
      const low32 = pLo - carry * TWO32;
      const h = fracHi * 1953125 + carry; // < 2^53
      const s = k - 9;
      if (s >= 32) nsec = Math.floor(h / 2 ** (s - 32));
      else nsec = h * 2 ** (32 - s) + Math.floor(low32 / 2 ** s);
    }
    out.tsSec = sec + this.offsetSec;
    out.tsNsec = nsec;
  }

  /** hi:lo / d for d < 2^32 with 16-bit digits; quotient into qHi:qLo (remainder dropped). */
  private div64(hi: number, lo: number, d: number): void {
    let cur = hi >>> 16;
    const q3 = Math.floor(cur / d);
    cur = (cur - q3 * d) * 65536 + (hi & 0xffff);
    const q2 = Math.floor(cur / d);
    cur = (cur - q2 * d) * 65536 + (lo >>> 16);
    const q1 = Math.floor(cur / d);
    cur = (cur - q1 * d) * 65536 + (lo & 0xffff);
    const q0 = Math.floor(cur / d);
    this.qHi = q3 * 65536 + q2;
    this.qLo = q1 * 65536 + q0;
  }
}
