/**
 * The per-connection cache (src/datapath/conn-cache.ts) must give exactly what the lookups would:
 * unit checks of its rows, then the datapath replayed twice over every example capture and a
 * random stream, once as it runs and once with the state's generation bumped before every packet
 * (every cached fact stale, so every packet is derived from the maps, as before the cache): the
 * two event streams are equal. Map changes through the state cut cached verdicts at once
 * (design.md §4: NEW and ESTABLISHED forward packets are checked against the current policy).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { LinkType } from '../../src/capture/frame.js';
import { openCapture } from '../../src/capture/open.js';
import { compileFromFlags } from '../../src/cli/inputs.js';
import { decodeFrame } from '../../src/decode/decode.js';
import { DecodedPacket } from '../../src/decode/packet.js';
import { CachedStage, ConnectionCache, policyInputKey } from '../../src/datapath/conn-cache.js';
import type { FlowEvent } from '../../src/datapath/events.js';
import { Datapath, type DatapathOptions } from '../../src/datapath/program.js';
import { DatapathState } from '../../src/datapath/state.js';
import type { MapsDocument } from '../../src/maps/document.js';
import { parseIp } from '../../src/net/addr.js';
import { cnp } from '../helpers/agent-cluster.js';
import { CLIENT, OTHER, SERVER, clientServerCluster } from '../helpers/client-server-cluster.js';
import { ACK, finalOf, Harness, SYN, SYNACK } from '../helpers/datapath-run.js';
import { frameOf, icmp4, ipv4, tcp, udp } from '../helpers/decode-build.js';

const ROOT = join(import.meta.dirname, '..', '..');

describe('ConnectionCache rows', () => {
  const key80 = policyInputKey(6, true, 80, -1, -1);
  /** Stage `stage` of connection `id` recorded with verdict `v` at generation `gen`. */
  const remember = (c: ConnectionCache, id: number, gen: number, stage: number, v: number): void => {
    const row = c.find(id, gen) >= 0 ? c.find(id, gen) : c.claim(id, gen);
    c.setStage(row, stage, key80, false, 0, Object.assign(new CachedStage(), { verdict: v, stageVerdict: v, rule: id % 1000 }));
  };
  /** The cached verdict of stage `stage` of connection `id` at `gen`, or null. */
  const recall = (c: ConnectionCache, id: number, gen: number, stage: number): number | null => {
    const row = c.find(id, gen);
    const out = new CachedStage();
    return row >= 0 && c.stage(row, stage, key80, false, 0, out) ? out.verdict : null;
  };

  test('a row answers for its connection and generation only', () => {
    const c = new ConnectionCache();
    expect(c.find(7, 0)).toBe(-1);
    remember(c, 7, 3, 0, -133);
    remember(c, 7, 3, 1, 10001);
    expect([recall(c, 7, 3, 0), recall(c, 7, 3, 1)]).toEqual([-133, 10001]);
    expect(recall(c, 7, 4, 0)).toBeNull(); // another generation: stale
    expect(recall(c, 8, 3, 0)).toBeNull(); // another connection
    // Reclaimed at a new generation: no facts.
    c.claim(7, 4);
    expect([recall(c, 7, 4, 0), recall(c, 7, 4, 1)]).toEqual([null, null]);
  });

  test('stage outcomes are keyed by the policy inputs and, from the VNI, by the remote identity', () => {
    const c = new ConnectionCache();
    const row = c.claim(1, 0);
    const s = Object.assign(new CachedStage(), { verdict: 0, stageVerdict: -133, matchType: 0, rule: -1, bypass: false, audited: true });
    const key = policyInputKey(6, true, 80, -1, -1);
    c.setStage(row, 1, key, true, 4242, s);
    const out = new CachedStage();
    expect(c.stage(row, 0, key, true, 4242, out)).toBe(false); // the other stage
    expect(c.stage(row, 1, policyInputKey(6, true, 81, -1, -1), true, 4242, out)).toBe(false);
    expect(c.stage(row, 1, key, true, 4243, out)).toBe(false);
    expect(c.stage(row, 1, key, false, 4242, out)).toBe(false);
    expect(c.stage(row, 1, key, true, 4242, out)).toBe(true);
    expect(out).toMatchObject({ verdict: 0, stageVerdict: -133, audited: true, bypass: false, rule: -1 });
  });

  test('policy inputs: ICMP type and code, the port only when the packet has ports', () => {
    expect(policyInputKey(1, false, 0, 3, 4)).not.toBe(policyInputKey(1, false, 0, 3, 1));
    expect(policyInputKey(58, false, 0, 128, 0)).not.toBe(policyInputKey(1, false, 0, 128, 0));
    expect(policyInputKey(1, false, 0, -1, -1)).not.toBe(policyInputKey(1, false, 0, 0, 0));
    expect(policyInputKey(17, false, 53, -1, -1)).toBe(policyInputKey(17, false, 0, -1, -1));
    expect(policyInputKey(17, true, 53, -1, -1)).not.toBe(policyInputKey(17, false, 53, -1, -1));
    expect(policyInputKey(6, true, 0, -1, -1)).not.toBe(policyInputKey(6, false, 0, -1, -1));
  });

  test('growth keeps every row; a younger connection on the same row replaces the older', () => {
    const c = new ConnectionCache();
    for (let id = 1; id <= 20_000; id++) remember(c, id, 0, id % 2, -id);
    for (const id of [1, 4095, 4096, 4097, 12_345, 20_000]) expect(recall(c, id, 0, id % 2)).toBe(-id);
    // Past the largest table (2^18 rows) ids share rows: the younger wins, the older misses.
    const big = 1 + 2 ** 18;
    remember(c, big, 0, 1, 5);
    expect(recall(c, big, 0, 1)).toBe(5);
    expect(recall(c, 1, 0, 1)).toBeNull();
    expect(c.find(2 ** 32 + 2, 0)).toBe(-1); // same low word as connection 2, another id
  });
});

/** A stable text per event: every field the printers and summary read. */
function eventText(ev: FlowEvent): string {
  const p = ev.packet;
  return [
    ev.kind, ev.verdict, ev.dropReason, ev.trafficDirection, ev.observationPoint, ev.matchType, ev.ctStatus, ev.isReply, ev.inherited, ev.isFinal,
    ev.audited, ev.srcEndpoint, ev.dstEndpoint, ev.srcIdentity, ev.dstIdentity, ev.node, ev.rule, ev.proxyPort, ev.connection, ev.service,
    p.ipVersion, p.ipProto, p.src.join('.'), p.dst.join('.'), p.sport, p.dport,
  ].join(' ');
}

/** Replays a capture; with `stale`, every packet starts with the generation bumped (no cache hits). */
async function replayCapture(path: string, doc: MapsDocument, options: Partial<DatapathOptions>, stale: boolean): Promise<string[]> {
  const state = new DatapathState(doc);
  const out: string[] = [];
  const dp = new Datapath(state, (ev) => out.push(eventText(ev)), options);
  const pkt = new DecodedPacket();
  await openCapture(path).run((frame) => {
    decodeFrame(frame, pkt);
    if (stale) state.generation++;
    dp.process(pkt, frame.tsSec, frame.tsNsec, frame);
  });
  return out;
}

/** Every example expectation file names its capture, cluster and policies in its header. */
function exampleCases(): Array<{ capture: string; cluster: string; policy: string }> {
  const cases = new Map<string, { capture: string; cluster: string; policy: string }>();
  const visit = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) visit(p);
      else if (/^expect.*\.yaml$/.test(e.name)) {
        const head = readFileSync(p, 'utf8').split('\n').slice(0, 12).join(' ').replace(/[#\\]/g, ' ');
        const m = /hubcap replay (\S+) --cluster (\S+)\s+--policy (\S+)/.exec(head);
        if (m) cases.set(`${m[1]} ${m[3]}`, { capture: m[1]!, cluster: m[2]!, policy: m[3]! });
      }
    }
  };
  visit(join(ROOT, 'examples'));
  return [...cases.values()];
}

describe('cached facts equal derived ones', () => {
  const cases = exampleCases();
  test('the example captures are found', () => {
    expect(cases.length).toBeGreaterThanOrEqual(10);
  });
  const modes: Array<[string, Partial<DatapathOptions>]> = [
    ['default', {}],
    ['--audit', { audit: true }],
    ['--per-packet', { perPacket: true }],
    ['--trust-vni, no dedup', { trustVni: true, dedupWindowNs: 0 }],
  ];
  for (const c of cases) {
    test(`${c.capture} with ${c.policy}`, async () => {
      const doc = compileFromFlags({ cluster: [join(ROOT, c.cluster)], policy: [join(ROOT, c.policy)] });
      for (const [, options] of modes) {
        const cached = await replayCapture(join(ROOT, c.capture), doc, options, false);
        const derived = await replayCapture(join(ROOT, c.capture), doc, options, true);
        expect(cached.length).toBeGreaterThan(0);
        expect(cached).toEqual(derived);
      }
    });
  }
});

const WORLD = '203.0.113.9';

const doc = clientServerCluster(
  cnp('default', 'client-egress', {
    endpointSelector: { matchLabels: { app: 'client' } },
    egress: [{ toEndpoints: [{}] }, { toCIDR: ['203.0.113.0/24'], toPorts: [{ ports: [{ port: '443', protocol: 'TCP' }] }] }],
  }),
);

describe('a random stream', () => {
  const addr = fc.constantFrom(CLIENT, SERVER, OTHER, WORLD);
  const packet = fc.record({
    src: addr,
    dst: addr,
    kind: fc.constantFrom('tcp', 'udp', 'icmp'),
    sport: fc.constantFrom(40000, 40001, 53, 80),
    dport: fc.constantFrom(80, 443, 53, 40000),
    flags: fc.constantFrom(SYN, SYNACK, ACK, 0x11, 0x04),
    icmpType: fc.constantFrom(0, 8, 3, 13),
    // A map change before this packet: a deny for the client at the server, or an ipcache entry
    // giving the world address another identity.
    change: fc.constantFrom('none', 'none', 'none', 'none', 'deny', 'ipcache'),
  });
  test.each([
    ['default', {}],
    ['--audit', { audit: true }],
    ['--per-packet', { perPacket: true }],
  ] as Array<[string, Partial<DatapathOptions>]>)('%s: events equal with and without cached facts', (_, options) => {
    fc.assert(
      fc.property(fc.array(packet, { minLength: 1, maxLength: 60 }), (stream) => {
        const run = (stale: boolean): string[] => {
          const state = new DatapathState(doc);
          const out: string[] = [];
          const dp = new Datapath(state, (ev) => out.push(eventText(ev)), { dedupWindowNs: 0, ...options });
          const pkt = new DecodedPacket();
          const server = doc.endpoints.findIndex((e) => e.name === 'default/server');
          const clientId = doc.endpoints.find((e) => e.name === 'default/client')!.identity;
          let t = 1_700_000_000;
          for (const s of stream) {
            if (s.change === 'deny') {
              state.policyMaps[server]!.set({
                identity: clientId, direction: 0, protocol: 6, port: 80, prefixLen: 24, deny: true,
                proxyPort: 0, proxyPortPriority: 0, authType: 0, hasExplicitAuthType: false, cookie: 0,
              });
            } else if (s.change === 'ipcache') {
              state.sharedView.shared.upsert(4, parseIp(WORLD)!.words, 32, 16777300);
            }
            const bytes =
              s.kind === 'tcp'
                ? ipv4({ src: s.src, dst: s.dst, proto: 6 }, tcp({ sport: s.sport, dport: s.dport, flags: s.flags }))
                : s.kind === 'udp'
                  ? ipv4({ src: s.src, dst: s.dst, proto: 17 }, udp({ sport: s.sport, dport: s.dport }, [1, 2]))
                  : ipv4({ src: s.src, dst: s.dst, proto: 1 }, icmp4({ type: s.icmpType, code: 0, id: 7, seq: 1 }, [0, 1]));
            decodeFrame(frameOf(bytes, LinkType.RAW, { tsSec: t }), pkt);
            if (stale) state.generation++;
            dp.process(pkt, t, 0);
            t += 1;
          }
          return out;
        };
        expect(run(false)).toEqual(run(true));
      }),
      { numRuns: 200 },
    );
  });
});

describe('map changes reach live connections', () => {
  test('a deny entry set in the server\'s live map cuts the established connection at its next packet', () => {
    const h = new Harness(doc);
    h.tcp(CLIENT, SERVER, 40001, 80, SYN);
    h.tcp(SERVER, CLIENT, 80, 40001, SYNACK);
    expect(finalOf(h.tcp(CLIENT, SERVER, 40001, 80, ACK)).verdict).toBe('FORWARDED');
    const server = doc.endpoints.findIndex((e) => e.name === 'default/server');
    const gen = h.state.generation;
    h.state.policyMaps[server]!.set({
      identity: doc.endpoints.find((e) => e.name === 'default/client')!.identity,
      direction: 0, protocol: 6, port: 80, prefixLen: 24, deny: true,
      proxyPort: 0, proxyPortPriority: 0, authType: 0, hasExplicitAuthType: false, cookie: 0,
    });
    expect(h.state.generation).toBeGreaterThan(gen);
    expect(finalOf(h.tcp(CLIENT, SERVER, 40001, 80, ACK))).toMatchObject({ kind: 'drop', dropReason: 181 });
  });

  test('an ipcache entry that changes the world address\'s identity re-decides the client\'s egress', () => {
    const h = new Harness(doc);
    expect(finalOf(h.tcp(CLIENT, WORLD, 40002, 443, SYN)).verdict).toBe('FORWARDED');
    h.tcp(WORLD, CLIENT, 443, 40002, SYNACK);
    expect(finalOf(h.tcp(CLIENT, WORLD, 40002, 443, ACK)).verdict).toBe('FORWARDED');
    // The address now belongs to an identity no rule allows (as an FQDN or CIDR update would do).
    const gen = h.state.generation;
    h.state.sharedView.shared.upsert(4, parseIp(WORLD)!.words, 32, 16777300);
    expect(h.state.generation).toBeGreaterThan(gen);
    expect(finalOf(h.tcp(CLIENT, WORLD, 40002, 443, ACK))).toMatchObject({ kind: 'drop', dropReason: 133 });
  });
});
