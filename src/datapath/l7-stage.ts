/**
 * The hook between the per-packet program and the L7 proxies.
 *
 * Mirrors: Cilium's proxy redirect (bpf/lib/proxy.h ctx_redirect_to_proxy: a policy entry with a
 * proxy port sends the connection to Envoy or the DNS proxy, and conntrack sends its replies
 * back through the proxy). The datapath only knows that a connection is redirected; the proxy
 * stage (src/proxy/stage.ts) implements this interface, so the datapath never imports the
 * proxies (imports point down the pipeline).
 */
import type { DecodedPacket } from '../decode/packet.js';
import type { CtEntry } from '../maps/conntrack.js';
import type { FlowEvent } from './events.js';

/** Which policy stage redirected the connection. */
export const ProxyStageSide = {
  /** The source endpoint's egress policy (e.g. toFQDNs DNS rules, egress HTTP rules). */
  EGRESS: 0,
  /** The destination endpoint's ingress policy (e.g. the Star Wars deathstar's HTTP rules). */
  INGRESS: 1,
} as const;

export interface L7Stage {
  /**
   * A packet of a redirected connection that L3/L4 let through, in either direction. `ev` is the
   * datapath's event for this packet (endpoints, identities, node, connection); the stage may
   * set `ev.l7NotEvaluated` and emit its own L7 events (before the packet's final event).
   * Returns 0 to deliver the packet to the proxy as usual, or a negative drop code when the
   * packet carries only data the proxy never let through (the server's answer to a denied
   * request): the datapath then reports it as an inherited drop.
   */
  onPacket(conn: CtEntry, side: number, isReply: boolean, p: DecodedPacket, ev: FlowEvent): number;

  /**
   * Every IP packet (redirected or not), before it is decided: the proxy's clock (FQDN
   * addresses expire in capture time) and which learned addresses still carry traffic.
   */
  tick(p: DecodedPacket, nowSec: number): void;
}
