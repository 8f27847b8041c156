/**
 * What the two native summary twins share (test/datapath/fast-summary.test.ts for the final
 * events of cached pairs, fast-summary-new.test.ts for a new connection's events): a FlowSummary
 * whose scalars live in a block while the native side counts, handed over as the fast path does
 * (src/datapath/fast-path.ts: saved into the block when the addon takes over, loaded back before
 * TypeScript counts), and the native counting function bound again whenever an array the fast
 * path watches was replaced (grown).
 */
import { FlowSummary } from '../../src/flow/summary.js';

export abstract class SummaryTwin<Bound> {
  /** The scalars sit at `at` in a block with guard words around them (filled with -7, which must stay). */
  readonly block: Float64Array;
  readonly at = 3;
  nativeOwnsScalars = false;
  private bound: Bound | undefined;
  private boundArrays: readonly unknown[] = [];

  protected constructor(
    readonly s: FlowSummary,
    blockWords: number,
  ) {
    this.block = new Float64Array(blockWords);
    this.block.fill(-7);
  }

  /** The arrays whose replacement the fast path checks before each batch ("bind again?"). */
  protected abstract watchedArrays(): readonly unknown[];
  /** Binds the native counting function to the summary's arrays and this block. */
  protected abstract bind(): Bound;
  /** Called once per (re)binding (the twins count them). */
  protected abstract rebound(): void;

  /** The native side counts from here: the scalars into the block, the function bound to the current arrays. */
  protected toNative(): Bound {
    if (!this.nativeOwnsScalars) {
      this.s.saveScalars(this.block, this.at);
      this.nativeOwnsScalars = true;
    }
    const watched = this.watchedArrays();
    if (this.bound === undefined || watched.some((a, i) => a !== this.boundArrays[i])) {
      this.bound = this.bind();
      this.boundArrays = watched;
      this.rebound();
    }
    return this.bound;
  }

  /** TypeScript counts from here: the scalars back into the summary's fields. */
  toTs(): void {
    if (this.nativeOwnsScalars) {
      this.s.loadScalars(this.block, this.at);
      this.nativeOwnsScalars = false;
    }
  }
}
