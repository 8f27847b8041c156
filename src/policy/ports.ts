/**
 * `toPorts` of Cilium policies and `ports` of NetworkPolicy, into PortRule / PortSpec.
 *
 * Mirrors: pkg/policy/api/l4.go (PortProtocol, PortRule, PortDenyRule), rule_validation.go
 * (PortRule.Validate, PortProtocol.Validate: at most 40 ports, named ports are IANA service
 * names, L7 rules need TCP except DNS, no L7 on port 0, DNS needs a port and no range), and for
 * NetworkPolicy the Kubernetes validation (pkg/apis/networking/validation: protocol TCP by
 * default, port 1-65535 or a lowercase port name, endPort only with a numeric port).
 *
 * A CNP port defaults to protocol ANY (TCP, UDP and SCTP), port "0" means every port.
 */
import RE2 from 're2';
import type { Field } from '../k8s/yaml-node.js';
import { parseL7 } from './l7.js';
import type { PortProtocol, PortRule, PortSpec } from './types.js';

const MAX_PORTS = 40;

/** pkg/iana IsSvcName: 1-15 letters, digits and '-', at least one letter, no "--", no '-' at the ends. */
export function isSvcName(name: string): boolean {
  return (
    name.length > 0 &&
    name.length <= 15 &&
    /^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/.test(name) &&
    /[a-zA-Z]/.test(name) &&
    !name.includes('--')
  );
}

export interface PortContext {
  direction: 'ingress' | 'egress';
  deny: boolean;
  /** The spec has a nodeSelector (host policy). */
  hostPolicy: boolean;
  /** PolicyParseOptions.envoyRe2MaxProgramSize, defaulted. */
  re2MaxProgramSize: number;
  note(message: string): void;
}

interface CnpPort {
  spec: PortSpec;
  /** The protocol as written ('' when omitted): L7 checks compare the raw value, as Cilium does. */
  rawProtocol: string;
  field: Field;
}

/** A CNP/CCNP `ports` entry: `{port, endPort, protocol}`. */
function parseCnpPort(f: Field, ctx: PortContext): CnpPort {
  const m = f.map();
  m.allowOnly(['port', 'endPort', 'protocol']);
  const portField: Field = m.get('port');
  if (!portField.present) portField.fail('port must be specified ("0" for all ports)');
  const v = portField.scalar();
  let port: number | string;
  if (typeof v === 'number') {
    port = portField.int(0, 65535);
    ctx.note(
      `${portField.path}: port ${port} is a number; the CRD declares a string, so the API server rejects it: write "${port}"`,
    );
  } else if (typeof v === 'string') {
    if (v === '') portField.fail('port must be specified ("0" for all ports)');
    if (isSvcName(v)) {
      // Named ports compare case-insensitively (PortProtocol.Sanitize lowercases them).
      port = v.toLowerCase();
    } else if (/^\d+$/.test(v)) {
      // strconv.ParseUint(port, 0, 16): a leading 0 means octal, as in Go.
      const octal = v.length > 1 && v.startsWith('0');
      if (octal && !/^[0-7]+$/.test(v)) portField.fail(`unable to parse port ${JSON.stringify(v)}: not a valid octal number`);
      const n = octal ? parseInt(v, 8) : Number(v);
      if (n > 65535) portField.fail(`port ${v} is out of range 0..65535`);
      if (octal) ctx.note(`${portField.path}: port "${v}" has a leading 0 and is read as octal ${n}, as Cilium does`);
      port = n;
    } else {
      portField.fail(`invalid port ${JSON.stringify(v)}: a number 0-65535 or a port name (up to 15 letters, digits and '-', at least one letter)`);
    }
  } else {
    portField.fail('must be a port number or a port name');
  }

  const protoField: Field = m.get('protocol');
  const rawProtocol = protoField.optString() ?? '';
  let protocol: PortProtocol = 'ANY';
  if (rawProtocol !== '') {
    if (rawProtocol === 'TCP' || rawProtocol === 'UDP' || rawProtocol === 'SCTP' || rawProtocol === 'ANY') {
      protocol = rawProtocol;
    } else if (['TCP', 'UDP', 'SCTP', 'ANY'].includes(rawProtocol.toUpperCase())) {
      protoField.fail(`unsupported protocol ${JSON.stringify(rawProtocol)}: the CRD only accepts upper case, write "${rawProtocol.toUpperCase()}"`);
    } else {
      protoField.fail(`unsupported protocol ${JSON.stringify(rawProtocol)} (TCP, UDP, SCTP or ANY)`);
    }
  }

  const spec: PortSpec = { protocol, port };
  const endField: Field = m.get('endPort');
  const endPort = endField.optInt(0, 65535);
  if (endPort !== undefined && endPort !== 0) {
    if (typeof port === 'string') endField.fail(`endPort needs a numeric port, not the named port ${JSON.stringify(port)}`);
    if (port === 0) {
      ctx.note(`${endField.path}: endPort ${endPort} with port 0 is ignored: port 0 already means every port`);
    } else if (endPort < port) {
      endField.fail(`endPort ${endPort} must be greater than or equal to port ${port}`);
    } else if (endPort > port) {
      spec.endPort = endPort;
    }
  }
  return { spec, rawProtocol, field: f };
}

const TLS_KEYS = ['secret', 'trustedCA', 'certificate', 'privateKey'] as const;

function parseTls(f: Field): void {
  const m = f.map();
  m.allowOnly(TLS_KEYS);
  const secret = m.get('secret').required().map();
  secret.allowOnly(['name', 'namespace']);
  secret.get('name').required().string();
  secret.get('namespace').optString();
  for (const k of ['trustedCA', 'certificate', 'privateKey']) m.get(k).optString();
}

/** The CRD's pattern for `serverNames`, run with RE2 (Go regexp): `(x+\.?)+` is exponential for a backtracking RegExp. */
const SERVER_NAME = new RE2('^(\\*?\\*\\.)?([-a-zA-Z0-9_]+\\.?)+$');

/** A CNP/CCNP `toPorts` entry (`deny`: an ingressDeny/egressDeny entry, which only has `ports`). */
export function parseCnpPortRule(f: Field, ctx: PortContext): PortRule {
  const m = f.map();
  if (ctx.deny) {
    const why = `is not allowed in ${ctx.direction}Deny rules: their toPorts entries only have ports`;
    m.allowOnly(['ports'], {
      rules: `rules ${why}`,
      terminatingTLS: `terminatingTLS ${why}`,
      originatingTLS: `originatingTLS ${why}`,
      serverNames: `serverNames ${why}`,
      listener: `listener ${why}`,
    });
  } else {
    m.allowOnly(['ports', 'rules', 'terminatingTLS', 'originatingTLS', 'serverNames'], {
      listener: 'listener needs a CiliumEnvoyConfig, which hubcap does not model',
    });
  }

  const portsField: Field = m.get('ports');
  const portFields = portsField.optList() ?? [];
  if (portFields.length > MAX_PORTS) portsField.fail(`too many ports, the max is ${MAX_PORTS}`);
  const ports = portFields.map((pf) => parseCnpPort(pf, ctx));

  const rule: PortRule = {
    // No ports: every port and protocol (Cilium merges such an entry as port 0, protocol ANY).
    ports: ports.length > 0 ? ports.map((p) => p.spec) : [{ protocol: 'ANY', port: 0 }],
    position: f.position(),
  };

  const terminating = m.get('terminatingTLS');
  const originating = m.get('originatingTLS');
  if (terminating.present) parseTls(terminating);
  if (originating.present) parseTls(originating);
  if (terminating.present || originating.present) {
    ctx.note(`${f.path}: TLS interception (terminatingTLS/originatingTLS) is accepted, but hubcap cannot see inside TLS; L7 rules on this entry are not checked`);
  }

  const snField: Field = m.get('serverNames');
  const serverNames = snField.optList();
  if (serverNames) {
    if (serverNames.length === 0) snField.fail('must have at least 1 item');
    rule.serverNames = serverNames.map((sf) => {
      const s = sf.string();
      if (s === '') sf.fail('empty server name is not allowed');
      if (s.length > 255 || !SERVER_NAME.test(s)) sf.fail(`invalid server name ${JSON.stringify(s)}`);
      return s;
    });
  }

  const rulesField: Field = m.get('rules');
  if (!rulesField.present) return rule;
  const l7 = parseL7(rulesField, ctx);
  if (l7.protocol === undefined) return rule;
  rule.l7 = l7.rules;

  // PortRule.Validate, in Cilium's order.
  const isDns = l7.protocol === 'dns';
  if (isDns && ctx.direction === 'ingress') l7.field.fail('DNS rules are not allowed on ingress');
  if (ctx.hostPolicy && ctx.direction === 'ingress') l7.field.fail('L7 policy is not supported on host ingress yet');
  if (ctx.hostPolicy && !isDns) l7.field.fail(`L7 protocol ${l7.protocol.toUpperCase()} is not supported on host egress yet`);
  if (serverNames && !terminating.present) {
    snField.fail('serverNames are not allowed with L7 rules without TLS termination (terminatingTLS)');
  }
  for (const p of ports) {
    if (isDns && p.spec.endPort !== undefined) p.field.fail('DNS rules do not support port ranges');
    if (!isDns && p.rawProtocol !== 'TCP') {
      p.field.fail(`L7 rules can only apply to TCP (not ${p.rawProtocol || 'ANY'}) except for DNS rules; set protocol: TCP`);
    }
    if (p.spec.port === 0) p.field.fail('L7 rules can not be used when a port is 0');
  }
  if (isDns && ports.length === 0) rulesField.fail('port 53 must be specified for DNS rules');
  return rule;
}

/**
 * A NetworkPolicy `ports` entry. Protocol defaults to TCP; no `port` means every port of that
 * protocol; `port` is 1-65535 or a port name (a number in quotes is a name, and invalid, as the
 * API server says); `endPort` makes a range and needs a numeric port.
 */
export function parseNetpolPort(f: Field): PortSpec {
  const m = f.map();
  m.allowOnly(['protocol', 'port', 'endPort']);
  const protoField: Field = m.get('protocol');
  const proto = protoField.optString() ?? 'TCP';
  if (proto !== 'TCP' && proto !== 'UDP' && proto !== 'SCTP') {
    protoField.fail(`unsupported protocol ${JSON.stringify(proto)} (TCP, UDP or SCTP)`);
  }
  const portField: Field = m.get('port');
  let port: number | string = 0;
  if (portField.present) {
    const v = portField.scalar();
    if (typeof v === 'number') {
      port = portField.int(1, 65535);
    } else if (typeof v === 'string') {
      if (/^\d+$/.test(v)) portField.fail(`invalid port name ${JSON.stringify(v)}: must contain at least one letter (write the number without quotes)`);
      if (!isSvcName(v) || v !== v.toLowerCase()) {
        portField.fail(`invalid port name ${JSON.stringify(v)}: up to 15 lowercase letters, digits and '-', at least one letter`);
      }
      port = v;
    } else {
      portField.fail('must be a port number or a port name');
    }
  }
  const spec: PortSpec = { protocol: proto, port };
  const endField: Field = m.get('endPort');
  const endPort = endField.optInt(1, 65535);
  if (endPort !== undefined) {
    if (!portField.present) endField.fail('endPort may not be specified without port');
    if (typeof port === 'string') endField.fail(`endPort needs a numeric port, not the named port ${JSON.stringify(port)}`);
    if (endPort < port) endField.fail(`endPort ${endPort} must be greater than or equal to port ${port}`);
    if (endPort > port) spec.endPort = endPort;
  }
  return spec;
}
