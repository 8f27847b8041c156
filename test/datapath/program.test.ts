/**
 * The per-packet program against Cilium's documented datapath behaviour (bpf/lib/conntrack.h:
 * replies skip policy; bpf_lxc.c: forward packets are checked every time; policy.h: frag-needed
 * passes; ipv4.h: later fragments need their first; mapstate.go allow-localhost) and hubcap's
 * replay semantics (design.md §5: one final event per packet, inherited drops, --per-packet).
 */
import { describe, expect, test } from 'vitest';
import { PolicyMap } from '../../src/maps/policy-map.js';
import { cnp } from '../helpers/agent-cluster.js';
import { CLIENT, NODE_A, NODE_B, OTHER, SERVER, clientServerCluster } from '../helpers/client-server-cluster.js';
import { ACK, FIN, finalOf, Harness, SYN, SYNACK } from '../helpers/datapath-run.js';
import { icmp4, ipv4, udp } from '../helpers/decode-build.js';

const doc = clientServerCluster(cnp('default', 'client-lockdown', { endpointSelector: { matchLabels: { app: 'client' } }, ingress: [{}] }));

describe('conntrack', () => {
  test('replies of an allowed connection pass the client\'s ingress default deny', () => {
    const h = new Harness(doc);
    const syn = h.tcp(CLIENT, SERVER, 40000, 80, SYN);
    expect(finalOf(syn)).toMatchObject({ kind: 'trace', verdict: 'FORWARDED', dstEndpoint: 'default/server' });
    expect(syn.filter((e) => e.kind === 'policy-verdict').map((e) => e.verdict)).toEqual(['FORWARDED', 'FORWARDED']);
    const synack = h.tcp(SERVER, CLIENT, 80, 40000, SYNACK);
    expect(finalOf(synack)).toMatchObject({ verdict: 'FORWARDED', isReply: true, dstEndpoint: 'default/client' });
    // Replies skip policy: no policy-verdict event.
    expect(synack.some((e) => e.kind === 'policy-verdict')).toBe(false);
    const ack = h.tcp(CLIENT, SERVER, 40000, 80, ACK);
    expect(finalOf(ack).verdict).toBe('FORWARDED');
    expect(ack.some((e) => e.kind === 'policy-verdict')).toBe(false);
  });

  test('an established connection is cut when the policy map no longer allows it', () => {
    const h = new Harness(doc);
    h.tcp(CLIENT, SERVER, 40001, 80, SYN);
    h.tcp(SERVER, CLIENT, 80, 40001, SYNACK);
    expect(finalOf(h.tcp(CLIENT, SERVER, 40001, 80, ACK)).verdict).toBe('FORWARDED');
    // Replace the server's policy map under the live conntrack entry (policy changed), as the
    // agent's regeneration does: through the state, which bumps its generation.
    const server = doc.endpoints.findIndex((e) => e.name === 'default/server');
    h.state.replacePolicyMap(server, new PolicyMap());
    const next = h.tcp(CLIENT, SERVER, 40001, 80, ACK);
    expect(finalOf(next)).toMatchObject({ kind: 'drop', verdict: 'DROPPED', dropReason: 133 });
    expect(next.some((e) => e.kind === 'policy-verdict' && e.verdict === 'DROPPED')).toBe(true);
  });

  test('LRU eviction at capacity: the oldest connection is forgotten', () => {
    const h = new Harness(doc, { ctTcpMax: 2, perPacket: true });
    h.tcp(CLIENT, SERVER, 41000, 80, SYN);
    h.tcp(CLIENT, SERVER, 41001, 80, SYN);
    h.tcp(CLIENT, SERVER, 41002, 80, SYN);
    expect(h.datapath.conntrack.evictions).toBeGreaterThanOrEqual(1);
    // The reply of the evicted first connection is a new packet from the server now: the
    // client's ingress default deny drops it.
    expect(finalOf(h.tcp(SERVER, CLIENT, 80, 41000, SYNACK))).toMatchObject({ verdict: 'DROPPED', dropReason: 133 });
    expect(finalOf(h.tcp(SERVER, CLIENT, 80, 41002, SYNACK))).toMatchObject({ verdict: 'FORWARDED', isReply: true });
  });

  test('timeouts follow capture time: a UDP reply after 60 s finds no entry', () => {
    const h = new Harness(doc, { perPacket: true });
    h.udp(CLIENT, SERVER, 5353, 53);
    expect(finalOf(h.udp(SERVER, CLIENT, 53, 5353)).isReply).toBe(true);
    h.wait(61);
    expect(finalOf(h.udp(SERVER, CLIENT, 53, 5353))).toMatchObject({ verdict: 'DROPPED', isReply: false });
  });

  test('TCP close: after FIN both ways the entry expires 10 s later', () => {
    const h = new Harness(doc, { perPacket: true });
    h.tcp(CLIENT, SERVER, 42000, 80, SYN);
    h.tcp(SERVER, CLIENT, 80, 42000, SYNACK);
    h.tcp(CLIENT, SERVER, 42000, 80, FIN | ACK);
    h.tcp(SERVER, CLIENT, 80, 42000, FIN | ACK);
    h.wait(5);
    expect(finalOf(h.tcp(SERVER, CLIENT, 80, 42000, ACK)).isReply).toBe(true);
    h.wait(11);
    expect(finalOf(h.tcp(SERVER, CLIENT, 80, 42000, ACK))).toMatchObject({ verdict: 'DROPPED' });
  });
});

describe('drops and inheritance', () => {
  test('a denied connection: the SYN drops, the SYN-ACK inherits the drop (design.md §5)', () => {
    const h = new Harness(doc);
    const syn = h.tcp(OTHER, SERVER, 43000, 80, SYN);
    expect(finalOf(syn)).toMatchObject({ kind: 'drop', dropReason: 133, inherited: false, direction: 1 });
    // Egress at `other` (no policy: allowed), then ingress at the server (denied).
    expect(syn.filter((e) => e.kind === 'policy-verdict').map((e) => `${e.direction}:${e.verdict}`)).toEqual(['2:FORWARDED', '1:DROPPED']);
    const synack = h.tcp(SERVER, OTHER, 80, 43000, SYNACK);
    expect(finalOf(synack)).toMatchObject({ kind: 'drop', dropReason: 133, inherited: true });
    expect(synack.some((e) => e.kind === 'policy-verdict')).toBe(false);
  });

  test('an inherited drop names the stage, node and rule of the drop it inherits', () => {
    // Egress deny at `other` (node-b): the drop and its inherited copies carry the CNP's rule.
    const denyDoc = clientServerCluster(
      cnp('default', 'other-no-server', { endpointSelector: { matchLabels: { app: 'other' } }, egressDeny: [{ toEndpoints: [{ matchLabels: { app: 'server' } }] }] }),
    );
    const h = new Harness(denyDoc);
    const first = finalOf(h.tcp(OTHER, SERVER, 43100, 80, SYN));
    expect(first).toMatchObject({ kind: 'drop', dropReason: 181, inherited: false, direction: 2, rule: 'CiliumNetworkPolicy/default/other-no-server#0' });
    expect(first.node).toBe(denyDoc.nodes.findIndex((n) => n.name === 'node-b'));
    for (const later of [h.tcp(SERVER, OTHER, 80, 43100, SYNACK), h.tcp(OTHER, SERVER, 43100, 80, ACK)]) {
      const { direction, node, rule, dropReason } = finalOf(later);
      expect({ inherited: finalOf(later).inherited, direction, node, rule, dropReason }).toEqual({ inherited: true, direction: 2, node: first.node, rule: first.rule, dropReason: 181 });
    }
  });

  test('--per-packet: the SYN-ACK is decided on its own (server egress is open, other has no policy)', () => {
    const h = new Harness(doc, { perPacket: true });
    h.tcp(OTHER, SERVER, 43001, 80, SYN);
    expect(finalOf(h.tcp(SERVER, OTHER, 80, 43001, SYNACK))).toMatchObject({ verdict: 'FORWARDED', inherited: false });
  });

  test('a port the policy does not open is denied; the rule that allowed is named on allows', () => {
    const h = new Harness(doc);
    expect(finalOf(h.tcp(CLIENT, SERVER, 44000, 8080, SYN))).toMatchObject({ verdict: 'DROPPED', dropReason: 133 });
    const allowed = h.tcp(CLIENT, SERVER, 44001, 80, SYN).find((e) => e.kind === 'policy-verdict' && e.direction === 1);
    expect(allowed?.rule).toBe('CiliumNetworkPolicy/default/server-ingress#0');
  });

  test('audit mode: the drop is reported as AUDIT and the traffic passes', () => {
    const h = new Harness(doc, { audit: true });
    const events = h.tcp(OTHER, SERVER, 45000, 80, SYN);
    expect(events.find((e) => e.kind === 'policy-verdict' && e.direction === 1)?.verdict).toBe('AUDIT');
    expect(finalOf(events)).toMatchObject({ kind: 'trace', verdict: 'FORWARDED', audited: true, dropReason: 133 });
    expect(finalOf(h.tcp(SERVER, OTHER, 80, 45000, SYNACK))).toMatchObject({ verdict: 'FORWARDED', isReply: true, audited: false });
  });
});

describe('ICMP', () => {
  test('echo request allowed by icmps, its reply passes as REPLY; echo from a denied peer drops', () => {
    const h = new Harness(doc);
    expect(finalOf(h.ping(CLIENT, SERVER, 8))).toMatchObject({ verdict: 'FORWARDED' });
    expect(finalOf(h.ping(SERVER, CLIENT, 0))).toMatchObject({ verdict: 'FORWARDED', isReply: true });
    expect(finalOf(h.ping(OTHER, SERVER, 8, 9))).toMatchObject({ verdict: 'DROPPED', dropReason: 133 });
  });

  test('ICMPv4 fragmentation-needed always passes (policy.h allow_icmp_frag_needed)', () => {
    const h = new Harness(doc);
    const quoted = ipv4({ src: SERVER, dst: OTHER, proto: 17 }, udp({ sport: 1, dport: 2 }));
    const events = h.send(ipv4({ src: OTHER, dst: SERVER, proto: 1 }, icmp4({ type: 3, code: 4 }, quoted)));
    expect(finalOf(events).verdict).toBe('FORWARDED');
  });
});

describe('fragments', () => {
  test('later fragments take the first fragment\'s ports; without it they drop with FRAG_NOT_FOUND (175)', () => {
    const h = new Harness(doc);
    const payload = udp({ sport: 5353, dport: 53, length: 8 + 24 }, new Array(16).fill(7));
    const first = h.send(ipv4({ src: CLIENT, dst: SERVER, proto: 17, id: 77, mf: true }, payload));
    expect(finalOf(first).verdict).toBe('FORWARDED');
    const second = h.send(ipv4({ src: CLIENT, dst: SERVER, proto: 17, id: 77, fragOffset: 24 }, new Array(8).fill(7)));
    expect(finalOf(second)).toMatchObject({ verdict: 'FORWARDED', dport: 53 });
    const orphan = h.send(ipv4({ src: CLIENT, dst: SERVER, proto: 17, id: 78, fragOffset: 24 }, new Array(8).fill(7)));
    expect(finalOf(orphan)).toMatchObject({ kind: 'drop', dropReason: 175 });
  });
});

describe('host and nodes', () => {
  test('the local host reaches its pod despite ingress default deny (allow-localhost)', () => {
    const h = new Harness(doc);
    expect(finalOf(h.tcp(NODE_A, CLIENT, 50000, 22, SYN))).toMatchObject({ verdict: 'FORWARDED', dstEndpoint: 'default/client' });
  });

  test('a remote node is remote-node, not host: denied by the client\'s ingress default deny', () => {
    const h = new Harness(doc);
    expect(finalOf(h.tcp(NODE_B, CLIENT, 50001, 22, SYN))).toMatchObject({ verdict: 'DROPPED', dropReason: 133 });
  });
});
