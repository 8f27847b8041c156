/**
 * The address pools of a generated cluster (gen-cluster.ts) for the traffic generator
 * (gen-capture.ts): its pods, ClusterIPs and nodes as servers on their ports, the pods, nodes and
 * a few outside hosts as clients. Shared by the replay benchmark and the fast path's tests.
 */
import type { MapsDocument } from '../../src/maps/document.js';
import type { AddressPools } from './gen-capture.js';
import type { GeneratedCluster } from './gen-cluster.js';

export function poolsFor(cluster: GeneratedCluster, doc: MapsDocument): AddressPools {
  const appPort = new Map(cluster.apps.map((a) => [`${a.namespace}/${a.app}`, a.port]));
  const servers: AddressPools['servers'] = [];
  for (const p of cluster.pods) servers.push({ ip: p.ip, ports: [appPort.get(`${p.namespace}/${p.app}`) ?? 8080, 9090, 22] });
  for (const s of doc.services) if (s.type === 'ClusterIP' && s.protocol === 'TCP') servers.push({ ip: s.address, ports: [s.port] });
  for (const n of cluster.nodes) servers.push({ ip: n.ip, ports: [10250, 22, 6443] });
  for (let i = 1; i <= 50; i++) servers.push({ ip: `203.0.113.${i}`, ports: [443, 80] });
  const clients = [...cluster.pods.map((p) => p.ip), ...cluster.nodes.map((n) => n.ip), ...Array.from({ length: 20 }, (_, i) => `198.51.100.${i + 1}`)];
  return { name: `cluster${cluster.pods.length}`, clients, servers, dns: '10.96.0.10' };
}
