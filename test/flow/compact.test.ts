/**
 * The compact line of `hubble observe`, checked against:
 *
 * - hubble/pkg/printer/printer_test.go (TestPrinter_WriteProtoFlow: "compact",
 *   "compact-direction-unknown", "compact-reply", "compact-policy-verdict-denied" and the
 *   "...-with-policy-name" cases), reproduced with the same addresses, identities and time;
 * - Cilium docs, Documentation/observability/hubble/hubble-cli.rst ("Inspecting Network Flows with
 *   the CLI", the Star Wars demo: `hubble observe --pod deathstar --protocol http` and
 *   `--verdict DROPPED`), whose lines come from a Hubble that did not yet print identities: they
 *   are compared after removing the `(ID:n)` / `(name)` words;
 * - the representative cases of the other flow tests (design.md §4 examples).
 */
import { describe, expect, it } from 'vitest';
import { EventKind, ObservationPoint, TrafficDirection, Verdict, type FlowEvent } from '../../src/datapath/events.js';
import { TcpFlag } from '../../src/decode/packet.js';
import { formatCompact, identityText } from '../../src/flow/compact.js';
import { FlowContext } from '../../src/flow/context.js';
import type { MapsDocument } from '../../src/maps/document.js';
import { cases, EP, event, ID, NODE, packet, starWarsDoc, type EventFields } from './fixtures.js';

const ctx = new FlowContext(starWarsDoc());
const all = cases();
const line = (name: string): string => formatCompact(all[name]!, ctx);

/** printer_test.go's flow `f`: 1.1.1.1:31793 (identity 4) -> 2.2.2.2:8080 (12345) at 1234.5678 s. */
function printerTestEvent(fields: Partial<EventFields>): FlowEvent {
  return event({
    kind: EventKind.DROP,
    verdict: Verdict.DROPPED,
    dropReason: 133,
    packet: packet({ src: '1.1.1.1', dst: '2.2.2.2', proto: 'tcp', sport: 31793, dport: 8080, flags: TcpFlag.SYN }),
    srcIdentity: 4,
    dstIdentity: 12345,
    tsSec: 1234,
    tsNsec: 567800000,
    ...fields,
  });
}

/** A document with the policy printer_test.go names (my-policy in my-policy-namespace). */
function docWithMyPolicy(): MapsDocument {
  const doc = starWarsDoc();
  doc.rules.push({
    ref: 'CiliumNetworkPolicy/my-policy-namespace/my-policy#0',
    source: 'my-policy.yaml:1',
    kind: 'CiliumNetworkPolicy',
    namespace: 'my-policy-namespace',
    name: 'my-policy',
  });
  return doc;
}

describe('printer_test.go cases', () => {
  it('compact-direction-unknown: a drop does not know its direction, so <>', () => {
    expect(formatCompact(printerTestEvent({}), ctx)).toBe(
      'Jan  1 00:20:34.567: 1.1.1.1:31793 (health) <> 2.2.2.2:8080 (ID:12345) Policy denied DROPPED (TCP Flags: SYN)',
    );
  });

  it('compact-with-node: the node after the time', () => {
    expect(formatCompact(printerTestEvent({ node: NODE.worker }), ctx, { printNodeName: true })).toBe(
      'Jan  1 00:20:34.567 [default/kind-worker]: 1.1.1.1:31793 (health) <> 2.2.2.2:8080 (ID:12345) Policy denied DROPPED (TCP Flags: SYN)',
    );
  });

  it('compact: a known forward packet gets ->', () => {
    const ev = printerTestEvent({ kind: EventKind.TRACE, verdict: Verdict.FORWARDED, dropReason: 0, observationPoint: ObservationPoint.TO_STACK });
    expect(formatCompact(ev, ctx)).toBe('Jan  1 00:20:34.567: 1.1.1.1:31793 (health) -> 2.2.2.2:8080 (ID:12345) to-stack FORWARDED (TCP Flags: SYN)');
  });

  it('compact-reply: sides swapped and <-', () => {
    const ev = printerTestEvent({
      kind: EventKind.TRACE,
      verdict: Verdict.FORWARDED,
      dropReason: 0,
      observationPoint: ObservationPoint.TO_ENDPOINT,
      isReply: true,
    });
    expect(formatCompact(ev, ctx)).toBe(
      'Jan  1 00:20:34.567: 2.2.2.2:8080 (ID:12345) <- 1.1.1.1:31793 (health) to-endpoint FORWARDED (TCP Flags: SYN)',
    );
  });

  it('compact-policy-verdict-denied', () => {
    const ev = printerTestEvent({ kind: EventKind.POLICY_VERDICT, trafficDirection: TrafficDirection.EGRESS });
    expect(formatCompact(ev, ctx)).toBe(
      'Jan  1 00:20:34.567: 1.1.1.1:31793 (health) <> 2.2.2.2:8080 (ID:12345) policy-verdict:none EGRESS DENIED (TCP Flags: SYN)',
    );
  });

  it('compact-policy-verdict-denied-with-policy-name', () => {
    const c = new FlowContext(docWithMyPolicy());
    const ev = printerTestEvent({
      kind: EventKind.POLICY_VERDICT,
      trafficDirection: TrafficDirection.EGRESS,
      dropReason: 181,
      rule: c.doc.rules.length - 1,
      node: NODE.worker,
    });
    expect(formatCompact(ev, c, { printPolicyNames: true, printNodeName: true })).toBe(
      'Jan  1 00:20:34.567 [default/kind-worker]: 1.1.1.1:31793 (health) <> 2.2.2.2:8080 (ID:12345) policy-verdict:none EGRESS DENIED BY my-policy (CiliumNetworkPolicy) (TCP Flags: SYN)',
    );
    // Without the option the names stay out, as in Hubble.
    expect(formatCompact(ev, c)).not.toContain(' BY ');
  });

  it('compact-policy-verdict-allowed-with-policy-name (the parser sets is_reply false: ->)', () => {
    const c = new FlowContext(docWithMyPolicy());
    const ev = printerTestEvent({
      kind: EventKind.POLICY_VERDICT,
      verdict: Verdict.FORWARDED,
      dropReason: 0,
      trafficDirection: TrafficDirection.INGRESS,
      matchType: 1,
      rule: c.doc.rules.length - 1,
    });
    expect(formatCompact(ev, c, { printPolicyNames: true })).toBe(
      'Jan  1 00:20:34.567: 1.1.1.1:31793 (health) -> 2.2.2.2:8080 (ID:12345) policy-verdict:L3-Only INGRESS ALLOWED BY my-policy (CiliumNetworkPolicy) (TCP Flags: SYN)',
    );
  });
});

/** hubble-cli.rst was written before Hubble printed identities. */
function withoutIdentities(text: string): string {
  return text.replace(/ \((?:ID:\d+|unknown|host|world|unmanaged|health|init|remote-node|kube-apiserver|ingress|world-ipv4|world-ipv6)\)(?= )/g, '');
}

function docWithDeathstar(podName: string): MapsDocument {
  const doc = starWarsDoc();
  const ep = doc.endpoints[EP.deathstar]!;
  ep.pod = podName;
  ep.name = `default/${podName}`;
  return doc;
}

function at(month: number, day: number, h: number, m: number, s: number, ms: number): { tsSec: number; tsNsec: number } {
  return { tsSec: Date.UTC(2021, month - 1, day, h, m, s) / 1000, tsNsec: ms * 1e6 };
}

describe('hubble-cli.rst Star Wars lines', () => {
  const c = new FlowContext(docWithDeathstar('deathstar-c74d84667-cx5kp'));
  const tie = { srcEndpoint: EP.tiefighter, dstEndpoint: EP.deathstar, srcIdentity: ID.tiefighter, dstIdentity: ID.deathstar };
  const back = { srcEndpoint: EP.deathstar, dstEndpoint: EP.tiefighter, srcIdentity: ID.deathstar, dstIdentity: ID.tiefighter };
  const landing = 'http://deathstar.default.svc.cluster.local/v1/request-landing';
  const exhaust = 'http://deathstar.default.svc.cluster.local/v1/exhaust-port';

  it('hubble observe --pod deathstar --protocol http', () => {
    const events = [
      event({
        kind: EventKind.L7,
        verdict: Verdict.FORWARDED,
        packet: packet({ src: '10.244.1.61', dst: '10.244.2.5', proto: 'tcp', sport: 42690, dport: 80 }),
        l7: { type: 'REQUEST', http: { method: 'POST', url: landing, protocol: 'HTTP/1.1' } },
        ...tie,
        ...at(5, 4, 13, 23, 40, 501),
      }),
      event({
        kind: EventKind.L7,
        verdict: Verdict.FORWARDED,
        packet: packet({ src: '10.244.2.5', dst: '10.244.1.61', proto: 'tcp', sport: 80, dport: 42690 }),
        l7: { type: 'RESPONSE', latencyNs: 400_000, http: { code: 200, method: 'POST', url: landing, protocol: 'HTTP/1.1' } },
        ...back,
        ...at(5, 4, 13, 23, 40, 502),
      }),
      event({
        kind: EventKind.L7,
        verdict: Verdict.DROPPED,
        packet: packet({ src: '10.244.1.61', dst: '10.244.2.5', proto: 'tcp', sport: 42742, dport: 80 }),
        l7: { type: 'REQUEST', http: { method: 'PUT', url: exhaust, protocol: 'HTTP/1.1' } },
        ...tie,
        ...at(5, 4, 13, 23, 43, 791),
      }),
    ];
    expect(events.map((e) => withoutIdentities(formatCompact(e, c)))).toEqual([
      'May  4 13:23:40.501: default/tiefighter:42690 -> default/deathstar-c74d84667-cx5kp:80 http-request FORWARDED (HTTP/1.1 POST http://deathstar.default.svc.cluster.local/v1/request-landing)',
      'May  4 13:23:40.502: default/tiefighter:42690 <- default/deathstar-c74d84667-cx5kp:80 http-response FORWARDED (HTTP/1.1 200 0ms (POST http://deathstar.default.svc.cluster.local/v1/request-landing))',
      'May  4 13:23:43.791: default/tiefighter:42742 -> default/deathstar-c74d84667-cx5kp:80 http-request DROPPED (HTTP/1.1 PUT http://deathstar.default.svc.cluster.local/v1/exhaust-port)',
    ]);
  });

  it('hubble observe --pod deathstar --verdict DROPPED (the xwing SYNs)', () => {
    const drop = (ms: number, s: number): FlowEvent =>
      event({
        kind: EventKind.DROP,
        verdict: Verdict.DROPPED,
        dropReason: 133,
        isFinal: true,
        packet: packet({ src: '10.244.1.60', dst: '10.244.2.5', proto: 'tcp', sport: 42818, dport: 80, flags: TcpFlag.SYN }),
        srcEndpoint: EP.xwing,
        dstEndpoint: EP.deathstar,
        srcIdentity: ID.xwing,
        dstIdentity: ID.deathstar,
        ...at(5, 4, 13, 23, s, ms),
      });
    const full = formatCompact(drop(852, 47), c);
    expect(full).toBe(
      'May  4 13:23:47.852: default/xwing:42818 (ID:6530) <> default/deathstar-c74d84667-cx5kp:80 (ID:34545) Policy denied DROPPED (TCP Flags: SYN)',
    );
    expect(withoutIdentities(full)).toBe(
      'May  4 13:23:47.852: default/xwing:42818 <> default/deathstar-c74d84667-cx5kp:80 Policy denied DROPPED (TCP Flags: SYN)',
    );
    expect(withoutIdentities(formatCompact(drop(854, 48), c))).toBe(
      'May  4 13:23:48.854: default/xwing:42818 <> default/deathstar-c74d84667-cx5kp:80 Policy denied DROPPED (TCP Flags: SYN)',
    );
  });
});

describe('representative lines', () => {
  const ds = 'default/deathstar-7848d6c4d5-th9v2';
  it.each([
    ['trace to-endpoint FORWARDED (TCP SYN)', `default/tiefighter:42746 (ID:19440) -> ${ds}:80 (ID:34545) to-endpoint FORWARDED (TCP Flags: SYN)`],
    ['trace to-endpoint FORWARDED reply (TCP SYN-ACK)', `default/tiefighter:42746 (ID:19440) <- ${ds}:80 (ID:34545) to-endpoint FORWARDED (TCP Flags: SYN, ACK)`],
    ['policy-verdict L3-L4 INGRESS ALLOWED', `default/tiefighter:42746 (ID:19440) -> ${ds}:80 (ID:34545) policy-verdict:L3-L4 INGRESS ALLOWED (TCP Flags: SYN)`],
    ['policy-verdict none INGRESS DENIED (POLICY_DENIED)', `default/xwing:41866 (ID:6530) <> ${ds}:80 (ID:34545) policy-verdict:none INGRESS DENIED (TCP Flags: SYN)`],
    ['drop POLICY_DENIED', `default/xwing:41866 (ID:6530) <> ${ds}:80 (ID:34545) Policy denied DROPPED (TCP Flags: SYN)`],
    ['drop POLICY_DENY', `default/xwing:41866 (ID:6530) <> ${ds}:80 (ID:34545) Policy denied by denylist DROPPED (TCP Flags: SYN)`],
    ['drop inherited (later packet of a dropped connection)', `default/xwing:41866 (ID:6530) <> ${ds}:80 (ID:34545) Policy denied by denylist DROPPED (TCP Flags: ACK, PSH)`],
    ['policy-verdict none INGRESS AUDITED', `default/xwing:41866 (ID:6530) -> ${ds}:80 (ID:34545) policy-verdict:none INGRESS AUDITED (TCP Flags: SYN)`],
    ['policy-verdict L3-L4 INGRESS REDIRECTED', `default/tiefighter:42746 (ID:19440) -> ${ds}:80 (ID:34545) policy-verdict:L3-L4 INGRESS ALLOWED (TCP Flags: SYN)`],
    ['trace to-proxy FORWARDED', `default/tiefighter:42746 (ID:19440) -> ${ds}:80 (ID:34545) to-proxy FORWARDED (TCP Flags: SYN)`],
    ['trace to-stack FORWARDED (ICMPv4 EchoRequest to world)', 'default/xwing (ID:6530) -> 93.184.216.34 (world-ipv4) to-stack FORWARDED (ICMPv4 EchoRequest)'],
    ['trace to-endpoint FORWARDED (ICMPv4 EchoReply)', 'default/xwing (ID:6530) <- 93.184.216.34 (world-ipv4) to-endpoint FORWARDED (ICMPv4 EchoReply)'],
    ['trace to-endpoint FORWARDED (IPv6 TCP from world)', `[2001:db8::1]:55000 (world-ipv6) -> ${ds}:443 (ID:34545) to-endpoint FORWARDED (TCP Flags: SYN)`],
    ['trace to-host FORWARDED (GRE, no L4)', '172.18.0.3 (remote-node) -> 172.18.0.2 (host) to-host FORWARDED (IPv4)'],
    ['trace to-stack FORWARDED (UDP to a CIDR identity)', 'default/xwing:33333 (ID:6530) -> 1.1.1.1:53 (ID:16777217) to-stack FORWARDED (UDP)'],
    ['TRANSLATED (ClusterIP to backend)', `default/tiefighter:42746 (ID:19440) <> ${ds}:80 (ID:34545) post-xlate-fwd TRANSLATED (TCP)`],
    ['L7 dns-request FORWARDED', 'default/xwing:33333 (ID:6530) -> 1.1.1.1:53 (ID:16777217) dns-request proxy FORWARDED (DNS Query echo.k8s.intra. A)'],
    ['trace ERROR (undecodable)', `default/xwing (ID:6530) <> ${ds} (ID:34545) unknown ERROR (IPv4)`],
  ])('%s', (name, rest) => {
    expect(line(name)).toBe(`Nov 22 03:12:36.123: ${rest}`);
  });

  it('without IP translation: addresses instead of names', () => {
    expect(formatCompact(all['trace to-endpoint FORWARDED (TCP SYN)']!, ctx, { ipTranslation: false })).toBe(
      'Nov 22 03:12:36.123: 10.244.1.61:42746 (ID:19440) -> 10.244.2.5:80 (ID:34545) to-endpoint FORWARDED (TCP Flags: SYN)',
    );
  });

  it('reserved identities print by name, others as ID', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 256, 16777217].map(identityText)).toEqual([
      '(unknown)',
      '(host)',
      '(world)',
      '(unmanaged)',
      '(health)',
      '(init)',
      '(remote-node)',
      '(kube-apiserver)',
      '(ingress)',
      '(world-ipv4)',
      '(world-ipv6)',
      '(ID:256)',
      '(ID:16777217)',
    ]);
  });

  it('a time format other than StampMilli', () => {
    expect(formatCompact(all['drop POLICY_DENIED']!, ctx, { timeFormat: 'StampNano' })).toMatch(/^Nov 22 03:12:36\.123456789: default\/xwing:41866 /);
    expect(formatCompact(all['drop POLICY_DENIED']!, ctx, { timeFormat: 'RFC3339Nano' })).toMatch(/^2025-11-22T03:12:36\.123456789Z: /);
  });

  it('a service translation names the service when the backend is no pod', () => {
    const ev = event({
      kind: EventKind.TRACE,
      verdict: Verdict.TRANSLATED,
      node: NODE.worker,
      service: 0,
      origDst: '10.96.0.50',
      origDport: 80,
      packet: packet({ src: '10.244.1.61', dst: '10.244.9.9', proto: 'tcp', sport: 42746, dport: 8080 }),
      srcEndpoint: EP.tiefighter,
      srcIdentity: ID.tiefighter,
      dstIdentity: 2,
    });
    expect(formatCompact(ev, ctx)).toBe(
      'Nov 22 03:12:36.123: default/tiefighter:42746 (ID:19440) <> default/deathstar:8080 (world) post-xlate-fwd TRANSLATED (TCP)',
    );
  });
});

describe('printer flags', () => {
  it('parse into printer options, Hubble defaults when absent', async () => {
    const { Command } = await import('commander');
    const { addTextPrinterOptions, textPrinterOptionsFrom } = await import('../../src/flow/compact.js');
    const parse = (args: string[]) => {
      const cmd = addTextPrinterOptions(new Command('replay').exitOverride());
      cmd.action(() => undefined);
      cmd.parse(args, { from: 'user' });
      return textPrinterOptionsFrom(cmd.opts());
    };
    expect(parse([])).toEqual({ timeFormat: 'StampMilli', printNodeName: false, printPolicyNames: false, ipTranslation: true });
    expect(parse(['--time-format', 'RFC3339Nano', '--print-node-name', '--print-policy-names', '--no-ip-translation'])).toEqual({
      timeFormat: 'RFC3339Nano',
      printNodeName: true,
      printPolicyNames: true,
      ipTranslation: false,
    });
    expect(() => parse(['--time-format', 'iso'])).toThrow(/^--time-format: unknown format "iso" \(use StampMilli, /);
  });
});
