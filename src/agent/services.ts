/**
 * Services -> load-balancer frontends with their backends, for the datapath's translation step.
 *
 * Mirrors: pkg/loadbalancer + pkg/k8s service handling (ClusterIP, NodePort on every node
 * address, externalIPs; backends from EndpointSlices/Endpoints, or from the selector's pods when
 * the dump has none; a named targetPort resolves per backend pod).
 */
import type { ServiceBackends, ServiceInfo, ServicePort } from '../k8s/types.js';
import type { ServiceFrontendRecord } from '../maps/document.js';
import { formatIp } from '../net/addr.js';
import type { AgentNode, AgentPod } from './cluster-model.js';

interface PodForService {
  pod: AgentPod;
  labels: Record<string, string>;
}

function backendsFor(
  svc: ServiceInfo,
  port: ServicePort,
  backends: ServiceBackends[],
  pods: ReadonlyMap<string, PodForService[]>,
): Array<{ address: string; port: number }> {
  const out: Array<{ address: string; port: number }> = [];
  const listed = backends.filter((b) => b.serviceName === svc.name && b.namespace === svc.namespace);
  if (listed.length > 0) {
    for (const b of listed) {
      const bp =
        b.ports.find((p) => p.name === port.name && p.protocol === port.protocol) ??
        (b.ports.length === 1 && svc.ports.length === 1 ? b.ports[0] : undefined);
      if (!bp) continue;
      for (const a of b.addresses) out.push({ address: formatIp(a.words, a.family), port: bp.port });
    }
  } else if (svc.selector) {
    const selector = svc.selector;
    for (const { pod, labels } of pods.get(svc.namespace) ?? []) {
      if (!Object.entries(selector).every(([k, v]) => labels[k] === v)) continue;
      let targetPort: number | undefined;
      if (typeof port.targetPort === 'number') targetPort = port.targetPort;
      else targetPort = pod.namedPorts.find((np) => np.name === port.targetPort && np.protocol === port.protocol)?.port;
      if (targetPort === undefined) continue;
      for (const a of pod.addresses) out.push({ address: formatIp(a.words, a.family), port: targetPort });
    }
  }
  const seen = new Set<string>();
  return out
    .filter((b) => {
      const k = `${b.address}/${b.port}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    })
    .sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.port - b.port));
}

export function buildServiceFrontends(
  services: ServiceInfo[],
  backends: ServiceBackends[],
  pods: PodForService[],
  nodes: AgentNode[],
): ServiceFrontendRecord[] {
  const out: ServiceFrontendRecord[] = [];
  const podsByNamespace = new Map<string, PodForService[]>();
  for (const p of pods) {
    const list = podsByNamespace.get(p.pod.namespace);
    if (list) list.push(p);
    else podsByNamespace.set(p.pod.namespace, [p]);
  }
  const backendsByService = new Map<string, ServiceBackends[]>();
  for (const b of backends) {
    const k = `${b.namespace}/${b.serviceName}`;
    const list = backendsByService.get(k);
    if (list) list.push(b);
    else backendsByService.set(k, [b]);
  }
  for (const svc of services) {
    if (svc.type === 'ExternalName') continue;
    const name = `${svc.namespace}/${svc.name}`;
    for (const port of svc.ports) {
      const be = backendsFor(svc, port, backendsByService.get(name) ?? [], podsByNamespace);
      const add = (type: ServiceFrontendRecord['type'], address: string, p: number): void => {
        out.push({ service: name, type, address, port: p, protocol: port.protocol, backends: be });
      };
      for (const ip of svc.clusterIPs) add('ClusterIP', formatIp(ip.words, ip.family), port.port);
      for (const ip of svc.externalIPs) add('ExternalIP', formatIp(ip.words, ip.family), port.port);
      if (port.nodePort !== undefined && (svc.type === 'NodePort' || svc.type === 'LoadBalancer')) {
        for (const node of nodes) for (const a of node.addresses) add('NodePort', formatIp(a.words, a.family), port.nodePort);
      }
    }
  }
  return out.sort(
    (a, b) =>
      (a.address < b.address ? -1 : a.address > b.address ? 1 : 0) ||
      a.port - b.port ||
      (a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0),
  );
}
