/**
 * The text printers of `hubble observe`: the compact line and the table.
 *
 * Mirrors: hubble/pkg/printer/printer.go (`WriteProtoFlow`: compact is
 * `TIME[ [NODE]]: SRC SRC_ID ARROW DST DST_ID TYPE VERDICT (SUMMARY)`, with `->`, `<-` for a
 * reply (source and destination swapped so the client stays on the left) and `<>` when the event
 * does not know; `Hostname`: `ns/pod`, else `ns/service`, else the address, then `:port` with Go's
 * net.JoinHostPort; `fmtIdentity`: `(ID:n)`, reserved identities by name as `(world)`; the table
 * mode is text/tabwriter with padding 3 under `TIMESTAMP SOURCE DESTINATION TYPE VERDICT SUMMARY`,
 * no arrow and no swap) and hubble's `--time-format` names (Go layouts; times are UTC, as
 * timestamppb.AsTime gives them). The default layout is Hubble's, StampMilli
 * (`Jan _2 15:04:05.000`).
 *
 * Deliberate difference: `StampMicro` and `StampNano` are offered besides Hubble's names, for
 * captures whose timestamps are finer than a millisecond.
 */
import type { Command } from 'commander';
import type { FlowEvent } from '../datapath/events.js';
import { formatAddress, formatTimeRfc3339 } from '../decode/format.js';
import { IpProto } from '../decode/packet.js';
import { UsageError } from '../errors.js';
import { RESERVED_IDENTITY_NAMES } from '../identity/reserved.js';
import type { FlowContext, HubbleEndpoint } from './context.js';
import { flowSummary, flowTypeText, hubbleEventType, isReplyOf, joinHostPort, MessageType, policyProvenance, verdictText } from './flow.js';

// ---------------------------------------------------------------------------------------------
// Time layouts

export const TIME_FORMATS = [
  'StampMilli',
  'StampMicro',
  'StampNano',
  'YearMonthDay',
  'YearMonthDayHour',
  'RFC3339',
  'RFC3339Milli',
  'RFC3339Micro',
  'RFC3339Nano',
  'RFC1123Z',
] as const;
export type TimeFormat = (typeof TIME_FORMATS)[number];

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** Go's `.999...`: the fraction with trailing zeros (and the dot) removed. */
function trimmedFraction(digits: string): string {
  const t = digits.replace(/0+$/, '');
  return t === '' ? '' : `.${t}`;
}

/**
 * A capture time in one of the `--time-format` layouts, UTC. Fractions are truncated, as Go
 * formats them.
 */
export function formatFlowTime(sec: number, nsec: number, format: TimeFormat = 'StampMilli'): string {
  // formatTimeRfc3339 caches the calendar part per second: `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`.
  const rfc = formatTimeRfc3339(sec, nsec);
  const t = rfc.indexOf('T', 1);
  const date = rfc.slice(0, t);
  const clock = rfc.slice(t + 1, t + 9);
  const nanos = rfc.slice(t + 10, t + 19);
  const dash2 = date.lastIndexOf('-');
  const dash1 = date.lastIndexOf('-', dash2 - 1);
  const month = Number(date.slice(dash1 + 1, dash2));
  const day = Number(date.slice(dash2 + 1));
  switch (format) {
    case 'StampMilli':
    case 'StampMicro':
    case 'StampNano': {
      const digits = format === 'StampMilli' ? 3 : format === 'StampMicro' ? 6 : 9;
      // Go's `_2`: the day padded with a space.
      return `${MONTHS[month - 1]} ${day < 10 ? ` ${day}` : day} ${clock}.${nanos.slice(0, digits)}`;
    }
    case 'YearMonthDay':
      return date;
    case 'YearMonthDayHour':
      return `${date}T${clock.slice(0, 2)}Z`;
    case 'RFC3339':
      return `${date}T${clock}Z`;
    case 'RFC3339Milli':
      return `${date}T${clock}${trimmedFraction(nanos.slice(0, 3))}Z`;
    case 'RFC3339Micro':
      return `${date}T${clock}${trimmedFraction(nanos.slice(0, 6))}Z`;
    case 'RFC3339Nano':
      return `${date}T${clock}${trimmedFraction(nanos)}Z`;
    case 'RFC1123Z': {
      const days = Math.floor(Math.floor(sec) / 86400);
      const weekday = WEEKDAYS[(((days + 4) % 7) + 7) % 7]!;
      const year = date.slice(0, dash1);
      return `${weekday}, ${pad(day, 2)} ${MONTHS[month - 1]} ${year} ${clock} +0000`;
    }
  }
}

export function isTimeFormat(text: string): text is TimeFormat {
  return (TIME_FORMATS as readonly string[]).includes(text);
}

// ---------------------------------------------------------------------------------------------
// Host names and identities

export interface TextPrinterOptions {
  /** `--time-format`; StampMilli by default, as Hubble. */
  timeFormat?: TimeFormat;
  /** `--print-node-name`: ` [node]` after the time (compact) or a NODE column (table). */
  printNodeName?: boolean;
  /** `--ip-translation` (on by default): pod and service names instead of addresses. */
  ipTranslation?: boolean;
  /** `--print-policy-names`: `ALLOWED BY rule1 (CiliumNetworkPolicy)` on policy verdicts. */
  printPolicyNames?: boolean;
}

/**
 * printer.go getVerdict with policy names: the policies of the deciding rule after the verdict,
 * `DENIED BY my-policy (CiliumNetworkPolicy)`, when the flow lists any.
 */
function verdictColumn(ev: FlowEvent, ctx: FlowContext, opts: TextPrinterOptions): string {
  const text = verdictText(ev);
  if (!opts.printPolicyNames) return text;
  const provenance = policyProvenance(ev, ctx);
  if (provenance === undefined) return text;
  return `${text} BY ${provenance.policies.map((p) => `${p.name ?? ''} (${p.kind ?? ''})`).join(', ')}`;
}

/** printer.go fmtIdentity: reserved identities by name (`(world)`), others `(ID:n)`. */
export function identityText(identity: number): string {
  const name = RESERVED_IDENTITY_NAMES[identity];
  return name !== undefined ? `(${name})` : `(ID:${identity})`;
}

/** The ports Hubble's GetPorts shows: TCP, UDP and SCTP only. */
function hasShownPorts(ev: FlowEvent): boolean {
  const p = ev.packet;
  if (p === undefined || !p.hasPorts) return false;
  return p.ipProto === IpProto.TCP || p.ipProto === IpProto.UDP || p.ipProto === IpProto.SCTP;
}

/** printer.go Hostname: `ns/pod`, else `ns/svc`, else the address; `:port` unless it is 0. */
function hostname(ip: string, port: number, ep: HubbleEndpoint, svcNs: string | undefined, svc: string | undefined, translate: boolean): string {
  let host = ip;
  if (translate) {
    const ns = svcNs ?? ep.namespace ?? '';
    if (ep.pod_name !== undefined && ep.pod_name !== '') host = ns === '' ? ep.pod_name : `${ns}/${ep.pod_name}`;
    else if (svc !== undefined) host = ns === '' ? svc : `${ns}/${svc}`;
  }
  return port !== 0 ? joinHostPort(host, port) : host;
}

interface Sides {
  src: string;
  dst: string;
  srcIdentity: number;
  dstIdentity: number;
}

/** printer.go GetHostNames and GetSecurityIdentities for one event. */
function sides(ev: FlowEvent, ctx: FlowContext, translate: boolean): Sides {
  const srcEp = ctx.endpoint(ev.srcEndpoint, ev.srcIdentity, ev.node);
  const dstEp = ctx.endpoint(ev.dstEndpoint, ev.dstIdentity, ev.node);
  const p = ev.packet;
  let src = '';
  let dst = '';
  if (p !== undefined && p.ipVersion !== 0) {
    const withPorts = hasShownPorts(ev);
    let svcNs: string | undefined;
    let svcName: string | undefined;
    if (hubbleEventType(ev) === MessageType.TRACE_SOCK && ev.service >= 0 && ev.service < ctx.services.length) {
      const svc = ctx.services[ev.service]!;
      svcNs = svc.namespace ?? '';
      svcName = svc.name;
    }
    src = hostname(formatAddress(p.src, p.ipVersion), withPorts ? p.sport : 0, srcEp, undefined, undefined, translate);
    dst = hostname(formatAddress(p.dst, p.ipVersion), withPorts ? p.dport : 0, dstEp, svcNs, svcName, translate);
  }
  return { src, dst, srcIdentity: srcEp.identity ?? 0, dstIdentity: dstEp.identity ?? 0 };
}

// ---------------------------------------------------------------------------------------------
// Compact

/**
 * One compact line, e.g.
 * `May  4 13:23:47.852: default/xwing:42818 (ID:6530) <> default/deathstar-c74d84667-cx5kp:80 (ID:34545) Policy denied DROPPED (TCP Flags: SYN)`.
 */
export function formatCompact(ev: FlowEvent, ctx: FlowContext, opts: TextPrinterOptions = {}): string {
  const s = sides(ev, ctx, opts.ipTranslation ?? true);
  let src = s.src;
  let dst = s.dst;
  let srcId = identityText(s.srcIdentity);
  let dstId = identityText(s.dstIdentity);
  const reply = isReplyOf(ev);
  let arrow = '->';
  if (reply === undefined) {
    arrow = '<>';
  } else if (reply) {
    // Flip the arrow and the sides so the connection's client stays on the left.
    [src, dst] = [dst, src];
    [srcId, dstId] = [dstId, srcId];
    arrow = '<-';
  }
  const time = formatFlowTime(ev.tsSec, ev.tsNsec, opts.timeFormat);
  const node = opts.printNodeName ? ` [${ctx.nodeName(ev.node) ?? ''}]` : '';
  return `${time}${node}: ${src} ${srcId} ${arrow} ${dst} ${dstId} ${flowTypeText(ev)} ${verdictColumn(ev, ctx, opts)} (${flowSummary(ev)})`;
}

// ---------------------------------------------------------------------------------------------
// Table

/**
 * `-o table`: rows are kept until `lines()`, as text/tabwriter buffers them until Hubble's
 * printer closes (column widths need every row). Memory grows with the rows printed.
 */
export class TablePrinter {
  private readonly rows: string[][] = [];
  private readonly header: string[];

  constructor(
    private readonly ctx: FlowContext,
    private readonly opts: TextPrinterOptions = {},
  ) {
    this.header = opts.printNodeName
      ? ['TIMESTAMP', 'NODE', 'SOURCE', 'DESTINATION', 'TYPE', 'VERDICT', 'SUMMARY']
      : ['TIMESTAMP', 'SOURCE', 'DESTINATION', 'TYPE', 'VERDICT', 'SUMMARY'];
  }

  add(ev: FlowEvent): void {
    const s = sides(ev, this.ctx, this.opts.ipTranslation ?? true);
    const time = formatFlowTime(ev.tsSec, ev.tsNsec, this.opts.timeFormat);
    const row = this.opts.printNodeName
      ? [time, this.ctx.nodeName(ev.node) ?? '', s.src, s.dst, flowTypeText(ev), verdictColumn(ev, this.ctx, this.opts), flowSummary(ev)]
      : [time, s.src, s.dst, flowTypeText(ev), verdictColumn(ev, this.ctx, this.opts), flowSummary(ev)];
    this.rows.push(row);
  }

  get size(): number {
    return this.rows.length;
  }

  /** The aligned lines, header first; empty when no row was added (Hubble prints nothing then). */
  lines(): string[] {
    if (this.rows.length === 0) return [];
    return tabwriterLines([this.header, ...this.rows]);
  }
}

/**
 * text/tabwriter with minwidth 2, padding 3, padchar ' ' and no flags: every cell but the last of
 * a line is padded to its column's widest cell plus 3; the last cell is written as is.
 */
export function tabwriterLines(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    for (let i = 0; i < row.length - 1; i++) widths[i] = Math.max(widths[i] ?? 0, row[i]!.length);
  }
  return rows.map((row) => {
    let line = '';
    for (let i = 0; i < row.length - 1; i++) line += row[i]!.padEnd(Math.max(2, widths[i]! + 3));
    return line + (row[row.length - 1] ?? '');
  });
}

// ---------------------------------------------------------------------------------------------
// Command-line options of the text printers

/** The option values commander collects for the printer flags. */
export interface TextPrinterFlags {
  timeFormat?: string;
  printNodeName?: boolean;
  printPolicyNames?: boolean;
  ipTranslation?: boolean;
}

/** Adds `hubble observe`'s printer flags: --time-format, --print-node-name, --print-policy-names, --no-ip-translation. */
export function addTextPrinterOptions(cmd: Command): Command {
  return cmd
    .option('--time-format <format>', `time layout of compact and table output: ${TIME_FORMATS.join(', ')}`, 'StampMilli')
    .option('--print-node-name', 'print the node that decided each flow')
    .option('--print-policy-names', 'print the policies that allowed or denied policy verdicts')
    .option('--no-ip-translation', 'print addresses instead of pod and service names');
}

/** Flags -> printer options; a one-line UsageError for an unknown time format. */
export function textPrinterOptionsFrom(flags: TextPrinterFlags): TextPrinterOptions {
  const format = flags.timeFormat ?? 'StampMilli';
  if (!isTimeFormat(format)) throw new UsageError(`--time-format: unknown format "${format}" (use ${TIME_FORMATS.join(', ')})`);
  return {
    timeFormat: format,
    printNodeName: flags.printNodeName === true,
    printPolicyNames: flags.printPolicyNames === true,
    ipTranslation: flags.ipTranslation !== false,
  };
}
