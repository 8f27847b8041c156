/**
 * What the per-packet program derived for a connection, kept for its later packets: the outcome
 * of the egress and ingress policy lookups of its forward packets (the endpoints at both ends and
 * their identities, which every packet needs, live in the conntrack entry itself).
 *
 * Mirrors: Cilium keeps per-connection facts in the conntrack entry (bpf/lib/conntrack.h
 * `struct ct_entry`: `src_sec_id`, `rev_nat_index`, `proxy_redirect`), but re-reads the policy
 * map for every forward packet, so a policy change cuts a live connection. hubcap's cache keeps
 * that: every fact carries the state's `generation` (datapath/state.ts), which moves whenever an
 * ipcache or policy map changes, and a fact from an older generation is derived again. Within a
 * generation the facts are pure functions of what the cache compares (the connection, the
 * packet's direction, and for policy the inputs `policyInputKey` packs), so a hit gives exactly
 * what the lookups would.
 *
 * Layout: direct-mapped rows in one Int32Array, row = connection id mod size. Connection ids are
 * handed out in order, so the rows of the connections alive at one time sit together and a row
 * is only reused by a connection `size` ids younger; each row names its connection (id words)
 * and a stale or foreign row is a miss. When ids outrun it the table grows from INITIAL_ROWS
 * straight to MAX_ROWS (see GROWTH); nothing is allocated per packet.
 */
import { tableInt32 } from '../maps/table-memory.js';

/** Words per row: one 64-byte line. */
const STRIDE = 16;
const ID_LO = 0;
const ID_HI = 1;
const GEN = 2;
const FLAGS = 3;
/** Per stage (egress 0, ingress 1) a block of six words from STAGE_BASE + stage * 6. */
const STAGE_BASE = 4;
const S_KEY = 0;
const S_VERDICT = 1;
const S_STAGE_VERDICT = 2;
const S_MATCH = 3;
const S_RULE = 4;
const S_REMOTE = 5;

/** Per stage flags, shifted by 4 * stage. */
const F_STAGE = 2;
const F_BYPASS = 4;
const F_AUDITED = 8;
const F_FROM_VNI = 16;
const STAGE_FLAGS = F_STAGE | F_BYPASS | F_AUDITED | F_FROM_VNI;

const INITIAL_ROWS = 4096;
/** 2^18 rows of 64 bytes (16 MiB): the connections of a quarter million ids. */
const MAX_ROWS = 1 << 18;
/**
 * How much the table grows at once (see grow): from INITIAL_ROWS straight to MAX_ROWS, so a
 * replay moves 4,096 rows once, where growing eightfold moved 4,096 then 32,768.
 */
const GROWTH = 64;
const TWO32 = 4294967296;

/** The outcome of one stage's policy check, as `ConnectionCache.stage` returns it. */
export class CachedStage {
  /** The stage's verdict after audit (what `Datapath.policy` returns). */
  verdict = 0;
  /** The lookup's own verdict (negative when audit turned a drop into an allow). */
  stageVerdict = 0;
  matchType = 0;
  rule = -1;
  /** Passed before any lookup (frag-needed, neighbour discovery). */
  bypass = false;
  /** Audit mode let a drop through. */
  audited = false;
}

export class ConnectionCache {
  private rows = tableInt32(INITIAL_ROWS * STRIDE);
  private mask = INITIAL_ROWS - 1;

  /** @internal The rows (replaced when the table grows), for the native fast path. */
  get nativeRows(): Int32Array {
    return this.rows;
  }

  /**
   * The row of connection `id` when it holds facts of generation `gen`, else -1. Facts of
   * another generation are dropped here, so a -1 row can be claimed afresh.
   */
  find(id: number, gen: number): number {
    const o = (id & this.mask) * STRIDE;
    const r = this.rows;
    if (r[o + ID_LO] !== (id | 0) || r[o + ID_HI] !== ((id / TWO32) | 0) || r[o + GEN] !== (gen | 0)) return -1;
    return o;
  }

  /** Takes the row of connection `id` for generation `gen`, with no facts yet; returns it. */
  claim(id: number, gen: number): number {
    if (id > this.mask && this.mask + 1 < MAX_ROWS) this.grow(id);
    const o = (id & this.mask) * STRIDE;
    const r = this.rows;
    r[o + ID_LO] = id | 0;
    r[o + ID_HI] = (id / TWO32) | 0;
    r[o + GEN] = gen | 0;
    r[o + FLAGS] = 0;
    return o;
  }

  /**
   * Fills `out` from the cached outcome of `stage` when it was derived from the same inputs:
   * the packet's policy inputs `key`, and for a remote identity taken from the VNI (`fromVni`)
   * the same identity `remote`. False on a miss.
   */
  stage(o: number, stage: number, key: number, fromVni: boolean, remote: number, out: CachedStage): boolean {
    const r = this.rows;
    const flags = r[o + FLAGS]! >>> (4 * stage);
    const b = o + STAGE_BASE + stage * 6;
    if ((flags & F_STAGE) === 0 || r[b + S_KEY] !== key || ((flags & F_FROM_VNI) !== 0) !== (fromVni === true)) return false;
    if (fromVni === true && r[b + S_REMOTE] !== (remote | 0)) return false;
    out.verdict = r[b + S_VERDICT]!;
    out.stageVerdict = r[b + S_STAGE_VERDICT]!;
    out.matchType = r[b + S_MATCH]!;
    out.rule = r[b + S_RULE]!;
    out.bypass = (flags & F_BYPASS) !== 0;
    out.audited = (flags & F_AUDITED) !== 0;
    return true;
  }

  /** Records the outcome `from` of `stage` for the inputs `key` (and `remote` when `fromVni`). */
  setStage(o: number, stage: number, key: number, fromVni: boolean, remote: number, from: CachedStage): void {
    const r = this.rows;
    const b = o + STAGE_BASE + stage * 6;
    r[b + S_KEY] = key;
    r[b + S_VERDICT] = from.verdict;
    r[b + S_STAGE_VERDICT] = from.stageVerdict;
    r[b + S_MATCH] = from.matchType;
    r[b + S_RULE] = from.rule;
    r[b + S_REMOTE] = remote | 0;
    const flags = F_STAGE | (from.bypass === true ? F_BYPASS : 0) | (from.audited === true ? F_AUDITED : 0) | (fromVni === true ? F_FROM_VNI : 0);
    r[o + FLAGS] = (r[o + FLAGS]! & ~(STAGE_FLAGS << (4 * stage))) | (flags << (4 * stage));
  }

  /**
   * Grows the table by factors of GROWTH until `id` has a row of its own (or MAX_ROWS), moving
   * the rows: a replay's ids only climb, so growing in large steps moves far fewer rows than
   * doubling (every row moved is a copy and a page touched twice). The rows past the live ids
   * are table memory (maps/table-memory.ts) no one touches yet: address space, not memory.
   */
  private grow(id: number): void {
    let rows = this.mask + 1;
    while (rows <= id && rows < MAX_ROWS) rows = Math.min(MAX_ROWS, rows * GROWTH);
    const old = this.rows;
    const oldRows = this.mask + 1;
    this.rows = tableInt32(rows * STRIDE);
    this.mask = rows - 1;
    // Two rows never meet in the larger table: ids equal modulo the new size are equal modulo
    // the old one, and there they had one row.
    const rowsNow = this.rows;
    for (let i = 0; i < oldRows; i++) {
      const from = i * STRIDE;
      const lo = old[from + ID_LO]!;
      const hi = old[from + ID_HI]!;
      if (lo === 0 && hi === 0) continue; // never claimed (ids start at 1)
      const to = ((lo & this.mask) >>> 0) * STRIDE;
      for (let k = 0; k < STRIDE; k++) rowsNow[to + k] = old[from + k]!;
    }
  }
}

/**
 * The packet fields `Datapath.policy` reads, besides the connection's protocol: for ICMP and
 * ICMPv6 the type and code (the type is the policy key's port; frag-needed and neighbour
 * discovery pass before the lookup), for other protocols the destination port when the packet
 * has ports. One int32.
 */
export function policyInputKey(proto: number, hasPorts: boolean, dport: number, icmpType: number, icmpCode: number): number {
  if (proto === 1 || proto === 58) return (proto << 24) | ((icmpType & 0x3ff) << 10) | (icmpCode & 0x3ff);
  return (proto << 24) | (hasPorts ? 0x10000 | dport : 0);
}
