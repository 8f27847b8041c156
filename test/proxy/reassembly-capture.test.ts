/**
 * Reassembly of real captures (pcaps/README.md) against an independent oracle: tshark's own TCP
 * reassembly (`-z follow,tcp,raw,N`), per connection and direction. The node captures hold
 * every packet twice (seen on two bridge ports), so there every payload byte arrives twice and
 * must be delivered once and counted once as a retransmission.
 */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ReassemblyBudget, TcpStreamReassembler } from '../../src/proxy/reassembly.js';
import { Collector, PCAPS, tcpConnections, tsharkStreams } from './helpers.js';

async function reassembleAll(path: string) {
  const conns = await tcpConnections(path);
  const budget = new ReassemblyBudget();
  return conns.map((c) => {
    const sides = [new Collector(), new Collector()] as const;
    const rs = [
      new TcpStreamReassembler(budget, 1 << 20, sides[0].sink),
      new TcpStreamReassembler(budget, 1 << 20, sides[1].sink),
    ] as const;
    let payload = [0, 0];
    for (const s of c.segments) {
      rs[s.dir].segment(s.seq, s.flags, s.payload, 0, s.payload.length, s.ts);
      payload[s.dir]! += s.payload.length;
    }
    return { c, sides, rs, payload, budget };
  });
}

describe.each([
  ['starwars-deathstar.pcap', false],
  ['foundation-client.pcap', false],
  ['foundation-server-ns.pcap', false],
  ['starwars-node-sll2.pcap', true],
  ['foundation-node-sll2.pcap', true],
])('%s', (file, doubled) => {
  const path = resolve(PCAPS, file);

  it('every direction of every connection equals tshark\'s reassembly', async () => {
    const ours = await reassembleAll(path);
    const theirs = tsharkStreams(path);
    expect(ours.length).toBe(theirs.length);
    expect(ours.length).toBeGreaterThan(0);
    for (const o of ours) {
      const t = theirs.find((x) => x.ports.includes(o.c.clientPort) && x.ports.includes(o.c.serverPort));
      expect(t, `tshark stream for ${o.c.clientPort}/${o.c.serverPort}`).toBeDefined();
      // tshark's node 0 is whichever endpoint it saw first.
      const clientIsNode0 = t!.ports[0] === o.c.clientPort;
      const clientSent = t!.sent[clientIsNode0 ? 0 : 1];
      const serverSent = t!.sent[clientIsNode0 ? 1 : 0];
      expect(o.sides[0].total).toEqual(new Uint8Array(clientSent));
      expect(o.sides[1].total).toEqual(new Uint8Array(serverSent));
      for (const r of o.rs) expect(r.bufferedBytes).toBe(0);
    }
  });

  it(doubled ? 'each duplicated byte is delivered once and counted once' : 'nothing is retransmitted', async () => {
    const ours = await reassembleAll(path);
    for (const o of ours) {
      for (const d of [0, 1] as const) {
        const delivered = o.rs[d].deliveredBytes;
        expect(o.rs[d].retransmittedBytes).toBe(doubled ? delivered : 0);
        expect(o.payload[d]).toBe(doubled ? 2 * delivered : delivered);
      }
    }
  });

  it('connections that closed with FIN ended their streams', async () => {
    const ours = await reassembleAll(path);
    const withFin = ours.filter((o) => o.c.segments.some((s) => s.flags & 0x01));
    expect(withFin.length).toBeGreaterThan(0);
    for (const o of withFin) {
      for (const d of [0, 1] as const) {
        if (o.c.segments.some((s) => s.dir === d && s.flags & 0x01)) expect(o.rs[d].ended).toBe(true);
      }
    }
  });
});
