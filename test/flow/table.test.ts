/**
 * `-o table`: text/tabwriter columns (padding 3) under TIMESTAMP SOURCE DESTINATION TYPE VERDICT
 * SUMMARY, no arrows and no swapping for replies. Checked against hubble/pkg/printer/printer_test.go
 * ("tabular", "tabular-with-node") and the table of the Cilium docs' Hubble getting-started guide
 * (Documentation/gettingstarted/hubble_cli.rst, `hubble observe --pod deathstar --protocol http`
 * and `--verdict DROPPED`, from the Hubble versions whose default output was the table).
 */
import { describe, expect, it } from 'vitest';
import { EventKind, Verdict, type FlowEvent } from '../../src/datapath/events.js';
import { TcpFlag } from '../../src/decode/packet.js';
import { TablePrinter, tabwriterLines } from '../../src/flow/compact.js';
import { FlowContext } from '../../src/flow/context.js';
import { compileFlowFilter } from '../../src/flow/filter.js';
import type { MapsDocument } from '../../src/maps/document.js';
import { EP, event, ID, NODE, packet, starWarsDoc } from './fixtures.js';

describe('printer_test.go tabular', () => {
  const ctx = new FlowContext(starWarsDoc());
  const ev = event({
    kind: EventKind.DROP,
    verdict: Verdict.DROPPED,
    dropReason: 133,
    node: NODE.worker,
    packet: packet({ src: '1.1.1.1', dst: '2.2.2.2', proto: 'tcp', sport: 31793, dport: 8080, flags: TcpFlag.SYN }),
    srcIdentity: 4,
    dstIdentity: 12345,
    tsSec: 1234,
    tsNsec: 567800000,
  });

  it('tabular', () => {
    const t = new TablePrinter(ctx);
    t.add(ev);
    expect(t.lines().join('\n')).toBe(
      'TIMESTAMP             SOURCE          DESTINATION    TYPE            VERDICT   SUMMARY\n' +
        'Jan  1 00:20:34.567   1.1.1.1:31793   2.2.2.2:8080   Policy denied   DROPPED   TCP Flags: SYN',
    );
  });

  it('tabular-with-node (node names carry the cluster, as GetAbsoluteNodeName)', () => {
    const t = new TablePrinter(ctx, { printNodeName: true });
    t.add(ev);
    expect(t.lines().join('\n')).toBe(
      'TIMESTAMP             NODE                  SOURCE          DESTINATION    TYPE            VERDICT   SUMMARY\n' +
        'Jan  1 00:20:34.567   default/kind-worker   1.1.1.1:31793   2.2.2.2:8080   Policy denied   DROPPED   TCP Flags: SYN',
    );
  });

  it('prints nothing without rows', () => {
    expect(new TablePrinter(ctx).lines()).toEqual([]);
  });
});

/** The guide's cluster: two deathstar replicas. */
function guideDoc(): MapsDocument {
  const doc = starWarsDoc();
  const ds = doc.endpoints[EP.deathstar]!;
  ds.pod = 'deathstar-5b7489bc84-8wvng';
  ds.name = `default/${ds.pod}`;
  doc.endpoints.push({ ...ds, id: 2002, pod: 'deathstar-5b7489bc84-v4s7d', name: 'default/deathstar-5b7489bc84-v4s7d', addresses: ['10.244.2.6'] });
  return doc;
}

function at(h: number, m: number, s: number, ms: number): { tsSec: number; tsNsec: number } {
  return { tsSec: Date.UTC(2020, 5, 18, h, m, s) / 1000, tsNsec: ms * 1e6 };
}

describe('hubble_cli.rst tables', () => {
  const ctx = new FlowContext(guideDoc());
  const ds2 = 5;
  const landing = 'http://deathstar.default.svc.cluster.local/v1/request-landing';
  const tie = { srcEndpoint: EP.tiefighter, dstEndpoint: EP.deathstar, srcIdentity: ID.tiefighter, dstIdentity: ID.deathstar };
  const events: FlowEvent[] = [
    event({
      kind: EventKind.L7,
      verdict: Verdict.FORWARDED,
      packet: packet({ src: '10.244.1.61', dst: '10.244.2.5', proto: 'tcp', sport: 52568, dport: 80 }),
      l7: { type: 'REQUEST', http: { method: 'POST', url: landing, protocol: 'HTTP/1.1' } },
      ...tie,
      ...at(13, 52, 23, 843),
    }),
    event({
      kind: EventKind.L7,
      verdict: Verdict.FORWARDED,
      packet: packet({ src: '10.244.2.5', dst: '10.244.1.61', proto: 'tcp', sport: 80, dport: 52568 }),
      l7: { type: 'RESPONSE', latencyNs: 300_000, http: { code: 200, method: 'POST', url: landing, protocol: 'HTTP/1.1' } },
      srcEndpoint: EP.deathstar,
      dstEndpoint: EP.tiefighter,
      srcIdentity: ID.deathstar,
      dstIdentity: ID.tiefighter,
      ...at(13, 52, 23, 844),
    }),
    event({
      kind: EventKind.L7,
      verdict: Verdict.DROPPED,
      packet: packet({ src: '10.244.1.61', dst: '10.244.2.5', proto: 'tcp', sport: 52628, dport: 80 }),
      l7: { type: 'REQUEST', http: { method: 'PUT', url: 'http://deathstar.default.svc.cluster.local/v1/exhaust-port', protocol: 'HTTP/1.1' } },
      ...tie,
      ...at(13, 52, 31, 19),
    }),
    ...[
      [38, 321],
      [38, 321],
      [39, 327],
    ].map(([s, ms]) =>
      event({
        kind: EventKind.DROP,
        verdict: Verdict.DROPPED,
        dropReason: 133,
        isFinal: true,
        packet: packet({ src: '10.244.1.60', dst: '10.244.2.6', proto: 'tcp', sport: 34138, dport: 80, flags: TcpFlag.SYN }),
        srcEndpoint: EP.xwing,
        dstEndpoint: ds2,
        srcIdentity: ID.xwing,
        dstIdentity: ID.deathstar,
        ...at(13, 52, s!, ms!),
      }),
    ),
  ];

  it('hubble observe --pod deathstar --protocol http', () => {
    const keep = compileFlowFilter({ pod: ['deathstar'], protocol: ['http'] }, ctx)!;
    const t = new TablePrinter(ctx);
    for (const ev of events) if (keep(ev)) t.add(ev);
    expect(t.lines()).toEqual([
      'TIMESTAMP             SOURCE                                  DESTINATION                             TYPE            VERDICT     SUMMARY',
      'Jun 18 13:52:23.843   default/tiefighter:52568                default/deathstar-5b7489bc84-8wvng:80   http-request    FORWARDED   HTTP/1.1 POST http://deathstar.default.svc.cluster.local/v1/request-landing',
      'Jun 18 13:52:23.844   default/deathstar-5b7489bc84-8wvng:80   default/tiefighter:52568                http-response   FORWARDED   HTTP/1.1 200 0ms (POST http://deathstar.default.svc.cluster.local/v1/request-landing)',
      'Jun 18 13:52:31.019   default/tiefighter:52628                default/deathstar-5b7489bc84-8wvng:80   http-request    DROPPED     HTTP/1.1 PUT http://deathstar.default.svc.cluster.local/v1/exhaust-port',
    ]);
  });

  it('hubble observe --pod deathstar --verdict DROPPED', () => {
    const keep = compileFlowFilter({ pod: ['deathstar'], verdict: ['DROPPED'] }, ctx)!;
    const t = new TablePrinter(ctx);
    for (const ev of events) if (keep(ev)) t.add(ev);
    expect(t.lines()).toEqual([
      'TIMESTAMP             SOURCE                     DESTINATION                             TYPE            VERDICT   SUMMARY',
      'Jun 18 13:52:31.019   default/tiefighter:52628   default/deathstar-5b7489bc84-8wvng:80   http-request    DROPPED   HTTP/1.1 PUT http://deathstar.default.svc.cluster.local/v1/exhaust-port',
      'Jun 18 13:52:38.321   default/xwing:34138        default/deathstar-5b7489bc84-v4s7d:80   Policy denied   DROPPED   TCP Flags: SYN',
      'Jun 18 13:52:38.321   default/xwing:34138        default/deathstar-5b7489bc84-v4s7d:80   Policy denied   DROPPED   TCP Flags: SYN',
      'Jun 18 13:52:39.327   default/xwing:34138        default/deathstar-5b7489bc84-v4s7d:80   Policy denied   DROPPED   TCP Flags: SYN',
    ]);
  });
});

describe('tabwriter', () => {
  it('pads every cell but the last to the widest plus 3', () => {
    expect(
      tabwriterLines([
        ['a', 'bb', 'c'],
        ['dddd', '', 'last cell is never padded'],
      ]),
    ).toEqual(['a      bb   c', 'dddd        last cell is never padded']);
  });
});
