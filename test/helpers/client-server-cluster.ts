/**
 * The small cluster the datapath's per-packet tests replay against: two nodes, a client and a
 * server on node-a, another pod on node-b, and the server admitting the client on TCP/80,
 * UDP/53 and ICMP echo. Tests add their own policies through `extra`.
 */
import type { MapsDocument } from '../../src/maps/document.js';
import { cnp, compile, docs, node, ns, pod } from './agent-cluster.js';

export const CLIENT = '10.0.0.10';
export const SERVER = '10.0.0.20';
export const OTHER = '10.0.1.30';
export const NODE_A = '192.168.0.1';
export const NODE_B = '192.168.0.2';

export function clientServerCluster(...extra: string[]): MapsDocument {
  return compile(
    docs(
      node('node-a', NODE_A),
      node('node-b', NODE_B),
      ns('default'),
      pod('default', 'client', { app: 'client' }, CLIENT, { node: 'node-a' }),
      pod('default', 'server', { app: 'server' }, SERVER, { node: 'node-a' }),
      pod('default', 'other', { app: 'other' }, OTHER, { node: 'node-b' }),
      cnp('default', 'server-ingress', {
        endpointSelector: { matchLabels: { app: 'server' } },
        ingress: [
          { fromEndpoints: [{ matchLabels: { app: 'client' } }], toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }, { port: '53', protocol: 'UDP' }] }] },
          { fromEndpoints: [{ matchLabels: { app: 'client' } }], icmps: [{ fields: [{ type: 'EchoRequest' }] }] },
        ],
      }),
      ...extra,
    ),
  );
}
