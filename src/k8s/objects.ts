/**
 * Readers for the cluster kinds hubcap uses, from objects as `kubectl get -o yaml` prints them.
 *
 * Lenient about everything hubcap does not use (status conditions, managedFields, annotations,
 * fields of newer API versions), strict about the fields it does: a pod IP that is not an
 * address, a label value that is not a string or a port out of range is an InputError at the
 * offending node. Field names follow the Kubernetes API (core/v1, discovery.k8s.io/v1) and
 * Cilium's CRDs (cilium.io/v2 CiliumIdentity, CiliumEndpoint).
 */
import { parseCidr, parseIp, type IpAddress } from '../net/addr.js';
import type {
  CiliumEndpointInfo,
  CiliumIdentityInfo,
  NamedPort,
  NamespaceInfo,
  NodeInfo,
  PodInfo,
  RawObject,
  ServiceBackends,
  ServiceInfo,
  ServicePort,
} from './types.js';
import { objectField } from './documents.js';
import type { Field, FieldMap } from './yaml-node.js';

/** Label Kubernetes puts on every Namespace (since 1.21). */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';
/** Label that ties an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/** Node annotations where Cilium publishes its cilium_host (router) addresses. */
const CILIUM_HOST_ANNOTATIONS = [
  'network.cilium.io/ipv4-cilium-host',
  'network.cilium.io/ipv6-cilium-host',
  'io.cilium.network.ipv4-cilium-host',
  'io.cilium.network.ipv6-cilium-host',
];

type L4 = 'TCP' | 'UDP' | 'SCTP';

function ip(f: Field): IpAddress {
  const text = f.string();
  const addr = parseIp(text);
  if (!addr) f.fail(`not a valid IP address: ${JSON.stringify(text)}`);
  return addr;
}

function protocol(f: Field): L4 {
  if (!f.present) return 'TCP';
  const p = f.string();
  if (p !== 'TCP' && p !== 'UDP' && p !== 'SCTP') f.fail(`unsupported protocol ${JSON.stringify(p)} (TCP, UDP or SCTP)`);
  return p;
}

function metadata(root: FieldMap): FieldMap {
  return root.get('metadata').required().map();
}

function objectName(meta: FieldMap): string {
  const f = meta.get('name').required();
  const name = f.string();
  if (name === '') f.fail('must not be empty');
  return name;
}

function labels(meta: FieldMap): Record<string, string> {
  return meta.get('labels').optStringMap() ?? {};
}

/** metadata.namespace; kubectl output always has it, hand-written objects default to `default`. */
export function objectNamespace(meta: FieldMap): string {
  return meta.get('namespace').optString() || 'default';
}

export function readNamespace(raw: RawObject): NamespaceInfo {
  const root = objectField(raw, 'input').map();
  const meta = metadata(root);
  const name = objectName(meta);
  const lbls = labels(meta);
  // Kubernetes sets this label on every namespace; selectors on it must work here too.
  if (lbls[NAMESPACE_NAME_LABEL] === undefined) lbls[NAMESPACE_NAME_LABEL] = name;
  return { name, labels: lbls, position: raw.position };
}

/** Why a pod is not an endpoint, or undefined when it is one. */
export type PodSkipReason = 'finished' | 'no-ip';

export interface PodRead {
  pod: PodInfo;
  phase: string | undefined;
  skip: PodSkipReason | undefined;
}

export function readPod(raw: RawObject): PodRead {
  const root = objectField(raw, 'input').map();
  const meta = metadata(root);
  const name = objectName(meta);
  const namespace = objectNamespace(meta);
  const lbls = labels(meta);
  const spec = root.get('spec').optMap();
  const nodeName = spec?.get('nodeName').optString() || undefined;
  const hostNetwork = spec?.get('hostNetwork').optBool() ?? false;
  const serviceAccount = spec?.get('serviceAccountName').optString() || spec?.get('serviceAccount').optString() || 'default';

  // Named ports are the containers' named ports, as Cilium collects them per endpoint.
  const namedPorts: NamedPort[] = [];
  for (const c of spec?.get('containers').optList() ?? []) {
    for (const p of c.map().get('ports').optList() ?? []) {
      const pm = p.map();
      const portName = pm.get('name').optString();
      const port = pm.get('containerPort').int(1, 65535);
      const proto = protocol(pm.get('protocol'));
      pm.get('hostPort').optInt(0, 65535);
      if (portName) namedPorts.push({ name: portName, port, protocol: proto });
    }
  }

  const status = root.get('status').optMap();
  const phase = status?.get('phase').optString();
  const ips: IpAddress[] = [];
  const podIPs = status?.get('podIPs').optList();
  if (podIPs && podIPs.length > 0) {
    for (const entry of podIPs) ips.push(ip(entry.map().get('ip')));
  } else {
    const single = status?.get('podIP');
    if (single?.present) {
      const text = single.string();
      if (text !== '') ips.push(ip(single));
    }
  }

  const pod: PodInfo = {
    namespace,
    name,
    labels: lbls,
    serviceAccount,
    nodeName,
    ips,
    hostNetwork,
    namedPorts,
    position: raw.position,
  };
  let skip: PodSkipReason | undefined;
  if (phase === 'Succeeded' || phase === 'Failed') skip = 'finished';
  else if (ips.length === 0) skip = 'no-ip';
  return { pod, phase, skip };
}

export function readNode(raw: RawObject): NodeInfo {
  const root = objectField(raw, 'input').map();
  const meta = metadata(root);
  const name = objectName(meta);
  const lbls = labels(meta);
  const addresses: IpAddress[] = [];
  const annotations = meta.get('annotations').optMap();
  const status = root.get('status').optMap();
  for (const a of status?.get('addresses').optList() ?? []) {
    const am = a.map();
    const type = am.get('type').string();
    // Hostname and InternalDNS/ExternalDNS entries are names, not addresses.
    if (type === 'InternalIP' || type === 'ExternalIP') addresses.push(ip(am.get('address')));
  }
  for (const key of CILIUM_HOST_ANNOTATIONS) {
    const f = annotations?.get(key);
    if (f?.present) addresses.push(ip(f));
  }
  const spec = root.get('spec').optMap();
  const podCIDRs: string[] = [];
  const cidrFields = spec?.get('podCIDRs').optList() ?? [];
  if (cidrFields.length === 0 && spec?.get('podCIDR').present) cidrFields.push(spec.get('podCIDR'));
  for (const f of cidrFields) {
    const text = f.string();
    if (!parseCidr(text) || !text.includes('/')) f.fail(`not a valid CIDR: ${JSON.stringify(text)}`);
    podCIDRs.push(text);
  }
  return { name, labels: lbls, addresses: dedupeIps(addresses), podCIDRs, position: raw.position };
}

function dedupeIps(list: IpAddress[]): IpAddress[] {
  const seen = new Set<string>();
  const out: IpAddress[] = [];
  for (const a of list) {
    const key = `${a.family}:${Array.from(a.words).join(',')}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(a);
  }
  return out;
}

const SERVICE_TYPES = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'] as const;

export function readService(raw: RawObject): ServiceInfo {
  const root = objectField(raw, 'input').map();
  const meta = metadata(root);
  const name = objectName(meta);
  const namespace = objectNamespace(meta);
  const spec = root.get('spec').optMap();
  const typeField = spec?.get('type');
  const typeText = typeField?.optString() ?? 'ClusterIP';
  if (!(SERVICE_TYPES as readonly string[]).includes(typeText)) {
    typeField!.fail(`unknown service type ${JSON.stringify(typeText)} (${SERVICE_TYPES.join(', ')})`);
  }
  const type = typeText as ServiceInfo['type'];

  const clusterIPs: IpAddress[] = [];
  let ipFields = spec?.get('clusterIPs').optList() ?? [];
  if (ipFields.length === 0 && spec?.get('clusterIP').present) ipFields = [spec.get('clusterIP')];
  for (const f of ipFields) {
    const text = f.string();
    // "None" marks a headless service: no virtual address, DNS returns the backends.
    if (text === 'None' || text === '') continue;
    clusterIPs.push(ip(f));
  }
  const externalIPs = (spec?.get('externalIPs').optList() ?? []).map(ip);

  const ports: ServicePort[] = [];
  for (const p of spec?.get('ports').optList() ?? []) {
    const pm = p.map();
    const port = pm.get('port').int(1, 65535);
    const target = pm.get('targetPort');
    let targetPort: number | string = port;
    if (target.present) {
      const v = target.scalar();
      if (typeof v === 'number') targetPort = target.int(1, 65535);
      else if (typeof v === 'string') targetPort = /^\d+$/.test(v) ? numericTarget(target, v) : v;
      else target.fail('must be a port number or a port name');
    }
    const sp: ServicePort = { name: pm.get('name').optString() ?? '', protocol: protocol(pm.get('protocol')), port, targetPort };
    const nodePort = pm.get('nodePort').optInt(0, 65535);
    if (nodePort) sp.nodePort = nodePort;
    ports.push(sp);
  }
  const selectorMap = spec?.get('selector').optStringMap();
  // An empty selector means "no selector": endpoints are managed by someone else.
  const selector = selectorMap && Object.keys(selectorMap).length > 0 ? selectorMap : undefined;
  return { namespace, name, type, clusterIPs, externalIPs, ports, selector, position: raw.position };
}

function numericTarget(f: Field, text: string): number {
  const n = Number(text);
  if (n < 1 || n > 65535) f.fail(`${n} is out of range 1..65535`);
  return n;
}

function backendPorts(list: Field[] | undefined): ServiceBackends['ports'] {
  const ports: ServiceBackends['ports'] = [];
  for (const p of list ?? []) {
    const pm = p.map();
    const portField: Field = pm.get('port');
    // An EndpointSlice port without a number means "all ports"; hubcap needs a number.
    if (!portField.present) continue;
    ports.push({ name: pm.get('name').optString() ?? '', port: portField.int(1, 65535), protocol: protocol(pm.get('protocol')) });
  }
  return ports;
}

/** Endpoints (core/v1): one entry per subset, ready addresses only. */
export function readEndpoints(raw: RawObject): ServiceBackends[] {
  const root = objectField(raw, 'input').map();
  const meta = metadata(root);
  const serviceName = objectName(meta);
  const namespace = objectNamespace(meta);
  const out: ServiceBackends[] = [];
  for (const subset of root.get('subsets').optList() ?? []) {
    const sm = subset.map();
    const addresses = (sm.get('addresses').optList() ?? []).map((a) => ip(a.map().get('ip')));
    // notReadyAddresses are type-checked but are not backends.
    for (const a of sm.get('notReadyAddresses').optList() ?? []) ip(a.map().get('ip'));
    const ports = backendPorts(sm.get('ports').optList());
    out.push({ namespace, serviceName, addresses, ports, position: subset.position(), source: 'Endpoints' });
  }
  return out;
}

export interface EndpointSliceRead {
  /** undefined when the slice names no service (label kubernetes.io/service-name missing). */
  backends: ServiceBackends | undefined;
  /** FQDN slices list names, not addresses. */
  addressType: string;
}

/** EndpointSlice (discovery.k8s.io/v1): endpoints whose `conditions.ready` is not false. */
export function readEndpointSlice(raw: RawObject): EndpointSliceRead {
  const root = objectField(raw, 'input').map();
  const meta = metadata(root);
  objectName(meta);
  const namespace = objectNamespace(meta);
  const lbls = labels(meta);
  const addressType = root.get('addressType').optString() ?? 'IPv4';
  const serviceName = lbls[SERVICE_NAME_LABEL];
  const addresses: IpAddress[] = [];
  const isIp = addressType === 'IPv4' || addressType === 'IPv6';
  for (const ep of root.get('endpoints').optList() ?? []) {
    const em = ep.map();
    const ready = em.get('conditions').optMap()?.get('ready').optBool();
    const addrFields = em.get('addresses').required().list();
    for (const a of addrFields) {
      if (!isIp) {
        a.string();
        continue;
      }
      const addr = ip(a);
      // A nil `ready` means unknown and is treated as ready (discovery.k8s.io/v1 EndpointConditions).
      if (ready !== false) addresses.push(addr);
    }
  }
  const ports = backendPorts(root.get('ports').optList());
  if (serviceName === undefined || !isIp) return { backends: undefined, addressType };
  return {
    backends: { namespace, serviceName, addresses, ports, position: raw.position, source: 'EndpointSlice' },
    addressType,
  };
}

/** CiliumIdentity (cilium.io/v2): the name is the numeric identity, `security-labels` its labels. */
export function readCiliumIdentity(raw: RawObject): CiliumIdentityInfo {
  const root = objectField(raw, 'input').map();
  const meta = metadata(root);
  const nameField: Field = meta.get('name');
  const name = objectName(meta);
  if (!/^\d+$/.test(name)) nameField.fail(`a CiliumIdentity is named by its number, not ${JSON.stringify(name)}`);
  const id = Number(name);
  if (id < 1 || id > 0xffffffff) nameField.fail(`${id} is not a valid identity`);
  const lbls = root.get('security-labels').optStringMap() ?? {};
  return { id, labels: lbls, position: raw.position };
}

/** CiliumEndpoint (cilium.io/v2); undefined when its status has no identity yet. */
export function readCiliumEndpoint(raw: RawObject): CiliumEndpointInfo | undefined {
  const root = objectField(raw, 'input').map();
  const meta = metadata(root);
  const name = objectName(meta);
  const namespace = objectNamespace(meta);
  const status = root.get('status').optMap();
  const idField = status?.get('identity').optMap()?.get('id');
  if (!idField?.present) return undefined;
  const identity = idField.int(0, 0xffffffff);
  const addresses: IpAddress[] = [];
  for (const a of status?.get('networking').optMap()?.get('addressing').optList() ?? []) {
    const am = a.map();
    for (const key of ['ipv4', 'ipv6']) {
      const f = am.get(key);
      if (f.present) addresses.push(ip(f));
    }
  }
  return { namespace, name, identity, addresses, position: raw.position };
}
