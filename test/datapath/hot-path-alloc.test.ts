/**
 * The per-packet program allocates nothing per packet (design.md §6 hot path): once its
 * connections exist, a million packets through decode, dedup, conntrack, the cached endpoints
 * and policy outcomes, inherited drops, replies and the summary cause no garbage collection. GC
 * events are the counter, as in test/flow/hot-path-alloc.test.ts, with a control that allocates.
 */
import { describe, expect, it } from 'vitest';
import { LinkType } from '../../src/capture/frame.js';
import type { Frame } from '../../src/capture/frame.js';
import { decodeFrame } from '../../src/decode/decode.js';
import { DecodedPacket } from '../../src/decode/packet.js';
import { Datapath } from '../../src/datapath/program.js';
import { DatapathState } from '../../src/datapath/state.js';
import { FlowContext } from '../../src/flow/context.js';
import { FlowSummary } from '../../src/flow/summary.js';
import { CLIENT, OTHER, SERVER, clientServerCluster } from '../helpers/client-server-cluster.js';
import { controlGcs, countGcs } from '../helpers/gc-count.js';
import { ACK, SYN, SYNACK } from '../helpers/datapath-run.js';
import { frameOf, icmp4, inOneChunk, ipv4, tcp, udp } from '../helpers/decode-build.js';

const doc = clientServerCluster();

/** Lets concurrent optimizing compiles finish and install before measuring. */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 100));

describe('no allocation per packet', () => {
  it('Datapath.process with the summary, once the connections exist', async () => {
    const state = new DatapathState(doc);
    let summary: FlowSummary | undefined;
    const dp = new Datapath(state, (ev) => summary!.add(ev));
    summary = new FlowSummary(new FlowContext(doc), { counters: dp.counters });
    // An allowed TCP connection both ways, a dropped one (its later packets inherit the drop),
    // UDP both ways, an ICMP echo and its reply.
    // In one chunk, as a capture reader hands them over.
    const frames: Frame[] = inOneChunk([
      frameOf(ipv4({ src: CLIENT, dst: SERVER, proto: 6 }, tcp({ sport: 40000, dport: 80, flags: SYN })), LinkType.RAW),
      frameOf(ipv4({ src: SERVER, dst: CLIENT, proto: 6 }, tcp({ sport: 80, dport: 40000, flags: SYNACK })), LinkType.RAW),
      frameOf(ipv4({ src: CLIENT, dst: SERVER, proto: 6 }, tcp({ sport: 40000, dport: 80, flags: ACK })), LinkType.RAW),
      frameOf(ipv4({ src: OTHER, dst: SERVER, proto: 6 }, tcp({ sport: 41000, dport: 80, flags: SYN })), LinkType.RAW),
      frameOf(ipv4({ src: OTHER, dst: SERVER, proto: 6 }, tcp({ sport: 41000, dport: 80, flags: ACK })), LinkType.RAW),
      frameOf(ipv4({ src: CLIENT, dst: SERVER, proto: 17 }, udp({ sport: 5353, dport: 53 }, [1, 2, 3, 4])), LinkType.RAW),
      frameOf(ipv4({ src: SERVER, dst: CLIENT, proto: 17 }, udp({ sport: 53, dport: 5353 }, [5, 6, 7, 8])), LinkType.RAW),
      frameOf(ipv4({ src: CLIENT, dst: SERVER, proto: 1 }, icmp4({ type: 8, code: 0, id: 7, seq: 1 }, [0, 1])), LinkType.RAW),
      frameOf(ipv4({ src: SERVER, dst: CLIENT, proto: 1 }, icmp4({ type: 0, code: 0, id: 7, seq: 1 }, [0, 1])), LinkType.RAW),
    ]);
    const pkt = new DecodedPacket();
    let ns = 0;
    let sec = 1_700_000_000;
    const loop = (count: number): void => {
      for (let i = 0; i < count; i++) {
        const f = frames[i % frames.length]!;
        decodeFrame(f, pkt);
        dp.process(pkt, sec, ns, f);
        // 10 us apart: within every conntrack lifetime, past the dedup window every 100 packets.
        ns += 10_000;
        if (ns >= 1e9) {
          ns -= 1e9;
          sec++;
        }
      }
    };
    loop(1_000_000);
    // Up to three measured runs of two million packets, the fewest GCs counting: on a loaded
    // machine a function may still be waiting for its optimized code in the first (unoptimized
    // code boxes its doubles), while a per-packet allocation of even one heap number (16 bytes,
    // 32 MB a run, twice the largest young generation) collects in every run.
    const before = dp.counters.ipPackets;
    let gcs = Infinity;
    let runs = 0;
    while (runs < 3 && gcs > 0) {
      await settle();
      gcs = Math.min(gcs, await countGcs(() => loop(2_000_000)));
      runs++;
    }
    expect(dp.counters.ipPackets - before).toBe(runs * 2_000_000);
    expect(dp.conntrack.tcpSize).toBe(2); // no connection was made while counting
    const j = summary.toJSON();
    expect(j.packets.DROPPED).toBeGreaterThan(0);
    expect(j.packets.FORWARDED).toBeGreaterThan(0);
    expect(gcs).toBe(0);
  });

  it('control: one allocation per packet is detected', async () => {
    expect(await controlGcs()).toBeGreaterThan(0);
  });
});
