/**
 * `hubcap replay CAPTURE --cluster PATH... --policy PATH...`: every packet through the datapath,
 * Hubble-style flows out, and optionally a check of what the team expects (`--expect`).
 *
 * Streams: one frame, one decoded record and one event object are reused for the whole capture,
 * so memory depends on the connections, not on the capture's length. Output formats follow
 * `hubble observe`: compact (default), json, table; `-o summary` prints only the summary and
 * `--summary` adds it after the flows.
 *
 * `--backend ts|native` picks the maps the lookups run on (design.md §3): native by default when
 * the addon is built, else the TypeScript maps with one note line on stderr saying why (not with
 * `-q`). Both give the same flows; only the speed differs. With the native backend and `-o
 * summary` (with or without `--expect`; not with `--write-enforced`), the addon's fast path also
 * finishes the common packets itself (src/datapath/fast-path.ts); `--no-fast-path` leaves every
 * packet to the TypeScript program. The results are the same either way.
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { openCapture } from '../capture/open.js';
import type { Frame, PcapRecordSink } from '../capture/frame.js';
import { MAX_CT_ENTRIES } from '../maps/conntrack.js';
import { decodeFrame } from '../decode/decode.js';
import { DecodedPacket } from '../decode/packet.js';
import { Datapath, type DatapathOptions } from '../datapath/program.js';
import { DatapathState } from '../datapath/state.js';
import { EventKind, type FlowEvent } from '../datapath/events.js';
import { EnforcedCaptureWriter, Fate } from '../capture/enforced-writer.js';
import { UsageError } from '../errors.js';
import { FlowContext } from '../flow/context.js';
import { ExpectationChecker, loadExpectations } from '../flow/expectations.js';
import { addFilterOptions, compileFlowFilter, hasFlowFilters, type FlowFilterOptions } from '../flow/filter.js';
import { addTextPrinterOptions, formatCompact, TablePrinter, textPrinterOptionsFrom, type TextPrinterFlags } from '../flow/compact.js';
import { formatFlowJson } from '../flow/flow.js';
import { FlowSummary } from '../flow/summary.js';
import { ProxyStage, type ProxyOptions } from '../proxy/stage.js';
import type { MapsDocument } from '../maps/document.js';
import { loadNative, selectBackend } from '../maps/native.js';
import { FastPath, hasFastPath } from '../datapath/fast-path.js';
import { addCompileOptions, compileFlagsGiven, compileFromFlags, loadMapsDocument, type CompileFlags } from './inputs.js';
import { EXIT_EXPECTATION_FAILED, type CliContext } from './main.js';
import { LineWriter, warn } from './output.js';

const FORMATS = ['compact', 'json', 'jsonpb', 'table', 'summary'] as const;
type Format = (typeof FORMATS)[number];

interface ReplayFlags extends CompileFlags, FlowFilterOptions, TextPrinterFlags {
  output: string;
  /** Compile flags given on the command line (inputs.ts compileFlagsGiven), checked against --maps. */
  compileFlagsGiven?: string[];
  summary?: boolean;
  maps?: string;
  expect?: string;
  audit?: boolean;
  perPacket?: boolean;
  dedupWindow: string;
  trustVni?: boolean;
  enableSctp?: boolean;
  bpfCtGlobalTcpMax: string;
  bpfCtGlobalAnyMax: string;
  progress?: boolean;
  fqdnMinTtl: string;
  reassemblyMaxBytes: string;
  writeEnforced?: string;
  backend?: string;
  /** commander's `--no-fast-path`: false when given. */
  fastPath?: boolean;
  quiet?: boolean;
}

/** `1ms`, `500us`, `250000ns`, `0` -> nanoseconds. */
export function parseDuration(flag: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s)?$/.exec(text.trim());
  if (!m) throw new UsageError(`${flag} must be a duration such as 1ms, 500us or 0, got "${text}"`);
  const unit = m[2] ?? 'ns';
  const scale = unit === 's' ? 1e9 : unit === 'ms' ? 1e6 : unit === 'ns' ? 1 : 1e3;
  const ns = Math.round(Number(m[1]) * scale);
  if (ns > 60e9) throw new UsageError(`${flag} must be at most 60s`);
  return ns;
}

function wholeNumber(flag: string, text: string, max = 100_000_000): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > max) {
    throw new UsageError(`${flag} must be a whole number between 1 and ${max}, got "${text}"`);
  }
  return Number(text);
}

function proxyOptions(flags: ReplayFlags): Partial<ProxyOptions> {
  if (!/^\d+$/.test(flags.fqdnMinTtl)) throw new UsageError(`--fqdn-min-ttl must be a whole number of seconds, got "${flags.fqdnMinTtl}"`);
  return {
    fqdnMinTtl: Number(flags.fqdnMinTtl),
    reassemblyMaxBytes: wholeNumber('--reassembly-max-bytes', flags.reassemblyMaxBytes),
  };
}

function datapathOptions(flags: ReplayFlags): Partial<DatapathOptions> {
  return {
    audit: flags.audit === true,
    perPacket: flags.perPacket === true,
    dedupWindowNs: parseDuration('--dedup-window', flags.dedupWindow),
    trustVni: flags.trustVni === true,
    enableSctp: flags.enableSctp === true,
    ctTcpMax: wholeNumber('--bpf-ct-global-tcp-max', flags.bpfCtGlobalTcpMax, MAX_CT_ENTRIES),
    ctAnyMax: wholeNumber('--bpf-ct-global-any-max', flags.bpfCtGlobalAnyMax, MAX_CT_ENTRIES),
  };
}

export function registerReplayCommand(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('replay')
    .description("replay a capture through the policy datapath and print what Cilium would have done, as Hubble flows")
    .argument('<capture>', 'pcap or pcapng file, or - for stdin')
    .option('-o, --output <format>', `compact, json, table or summary (${FORMATS.join(', ')})`, 'compact')
    .option('--summary', 'print the summary after the flows')
    .option('--maps <file>', 'load the maps document of `hubcap maps dump` instead of compiling YAML')
    .option('--expect <file>', 'check the verdicts a team expects (YAML list of {from, to, port, protocol, expect}); exit 1 on a mismatch')
    .option('--audit', 'policy audit mode: drops become AUDIT and the traffic passes (Cilium policy-audit-mode)')
    .option('--per-packet', 'decide every packet on its own, as the kernel would, instead of inheriting a connection\'s drop')
    .option('--dedup-window <duration>', 'identical packets within this window are one (tcpdump -i any copies); 0 turns it off', '1ms')
    .option('--trust-vni', 'take the source identity of VXLAN/Geneve packets from the VNI, as Cilium\'s tunnel does')
    .option('--enable-sctp', 'SCTP support as Cilium\'s --enable-sctp (off: SCTP is an unknown protocol and dropped)')
    .option('--bpf-ct-global-tcp-max <n>', 'TCP conntrack entries', '524288')
    .option('--bpf-ct-global-any-max <n>', 'non-TCP conntrack entries', '262144')
    .option('--fqdn-min-ttl <seconds>', 'FQDN addresses stay selected at least this long (Cilium tofqdns-min-ttl)', '3600')
    .option('--reassembly-max-bytes <n>', 'bytes the L7 proxy may hold per connection direction while reassembling', '1048576')
    .option('--write-enforced <file>', "write the capture as the wire would carry it after enforcement (pcap): dropped packets removed, the proxies' 403 and REFUSED answers in place of the servers', TCP sequence numbers and checksums fixed up")
    .option('--backend <name>', 'maps the lookups run on: ts (TypeScript) or native (the addon); default native when the addon is built')
    .option('--no-fast-path', 'with the native backend and -o summary, decide every packet in the TypeScript program instead of letting the addon finish the common ones (same results, slower)')
    .option('--no-progress', 'no progress bar on stderr')
    .option('-q, --quiet', 'do not print notes on stderr (the agent\'s, and the fallback to the ts backend)');
  addCompileOptions(cmd);
  addFilterOptions(cmd);
  addTextPrinterOptions(cmd);
  cmd.action(async (capture: string, flags: ReplayFlags, command: Command) => {
    const ok = await runReplay(capture, { ...flags, compileFlagsGiven: compileFlagsGiven(command) });
    if (!ok) ctx.exitCode = EXIT_EXPECTATION_FAILED;
  });
}

function parseFormat(text: string): Format {
  if ((FORMATS as readonly string[]).includes(text)) return text as Format;
  throw new UsageError(`-o must be one of ${FORMATS.join(', ')}, got "${text}"`);
}

/** Runs one replay; false when an expectation failed. */
export async function runReplay(capture: string, flags: ReplayFlags, fd = 1): Promise<boolean> {
  const format = parseFormat(flags.output);
  if (format === 'summary' && hasFlowFilters(flags)) {
    // The summary counts every event (its verdict table is one final event per packet), so a
    // filter beside -o summary would change nothing: refused rather than silently ignored.
    throw new UsageError('filters choose the flows printed, and -o summary prints none (the summary counts every event): use a flow format, with --summary to add it');
  }
  const textOptions = textPrinterOptionsFrom(flags);
  const options = datapathOptions(flags);
  const backend = selectBackend(flags.backend);
  if (backend.note !== undefined && !flags.quiet) process.stderr.write(`${backend.note}\n`);
  let doc: MapsDocument;
  if (flags.maps !== undefined) {
    if ((flags.cluster?.length ?? 0) > 0 || (flags.policy?.length ?? 0) > 0) {
      throw new UsageError('--maps replaces --cluster/--policy: give one or the other');
    }
    const given = flags.compileFlagsGiven ?? [];
    if (given.length > 0) {
      throw new UsageError(`${given[0]} shapes the compiled maps, and with --maps the document's own setting holds: give it to \`hubcap maps dump\` instead`);
    }
    doc = loadMapsDocument(flags.maps);
  } else {
    doc = compileFromFlags(flags);
  }
  if (!flags.quiet) for (const note of doc.notes) warn(`note: ${note}`);

  const flowCtx = new FlowContext(doc);
  const expectations = flags.expect !== undefined ? new ExpectationChecker(loadExpectations(flags.expect, doc), doc) : undefined;
  const filter = compileFlowFilter(flags, flowCtx);

  const out = new LineWriter(fd);
  const table = format === 'table' ? new TablePrinter(flowCtx, textOptions) : undefined;
  const wantSummary = format === 'summary' || flags.summary === true;
  const state = new DatapathState(doc, { backend: backend.backend });

  let print: ((ev: FlowEvent) => void) | undefined;
  if (format === 'json' || format === 'jsonpb') print = (ev) => out.line(formatFlowJson(ev, flowCtx));
  else if (format === 'compact') print = (ev) => out.line(formatCompact(ev, flowCtx, textOptions));
  else if (table) print = (ev) => table.add(ev);

  let summary: FlowSummary | undefined;
  // --write-enforced: the final event of each packet decides whether it stays on the wire.
  if (flags.writeEnforced !== undefined && capture !== '-' && resolve(flags.writeEnforced) === resolve(capture)) {
    throw new UsageError('--write-enforced must name another file than the capture it reads');
  }
  const enforced = flags.writeEnforced !== undefined ? new EnforcedCaptureWriter(flags.writeEnforced) : undefined;
  let fate: number = Fate.KEEP;
  const sink = (ev: FlowEvent): void => {
    if (ev.isFinal && ev.kind === EventKind.DROP) fate = Fate.DROP;
    summary?.add(ev);
    expectations?.observe(ev);
    if (print && !out.isClosed && (filter === undefined || filter(ev))) print(ev);
  };
  const datapath = new Datapath(state, sink, options);
  // The L7 proxies (Envoy's HTTP policy, the DNS proxy and its FQDN learning) see redirected
  // connections; their events go through the same sink.
  const proxy = new ProxyStage(state, sink, proxyOptions(flags));
  proxy.enforced = enforced;
  proxy.attachConntrack(datapath.conntrack);
  datapath.l7 = proxy;
  if (wantSummary) summary = new FlowSummary(flowCtx, { counters: datapath.counters });
  // The fast path finishes packets without events: only where no flow is printed, and not for
  // --write-enforced (which writes or drops every packet by its final event).
  const native = backend.backend === 'native' ? loadNative() : undefined;
  const fast =
    native !== undefined && hasFastPath(native) && format === 'summary' && summary !== undefined && enforced === undefined && flags.fastPath !== false
      ? new FastPath(native, datapath, summary, proxy, expectations)
      : undefined;

  const source = openCapture(capture);
  const progress = startProgress(capture, flags.progress !== false);
  const pkt = new DecodedPacket();
  let n = 0;
  const counters = datapath.counters;
  const stats = await source.run(
    (frame: Frame) => {
      if (fast !== undefined) {
        fast.process(frame);
      } else if (enforced === undefined) {
        decodeFrame(frame, pkt);
        datapath.process(pkt, frame.tsSec, frame.tsNsec, frame);
      } else {
        decodeFrame(frame, pkt);
        enforced.begin(frame, pkt);
        fate = Fate.KEEP;
        const duplicates = counters.duplicates;
        datapath.process(pkt, frame.tsSec, frame.tsNsec, frame);
        enforced.end(counters.duplicates !== duplicates ? Fate.DUPLICATE : fate);
      }
      if (progress && (++n & 0xffff) === 0) progress.update(frame.fileOffset);
    },
    // The fast path decides frames in batches, before the reader reuses their chunk.
    fast !== undefined ? () => fast.chunkDone() : undefined,
    // and walks classic pcap records itself.
    fast !== undefined ? recordsWithProgress(fast, progress) : undefined,
  );
  progress?.stop();
  fast?.finish();
  if (enforced) {
    enforced.close();
    const s = enforced.stats;
    if (!flags.quiet) warn(`note: ${enforced.name}: ${s.written} packets written (${s.dropped} of ${s.frames} dropped, ${s.rewritten} rewritten, ${s.replies} proxy replies)`);
  }

  if (table) for (const l of table.lines()) out.line(l);
  if (summary) {
    if (format !== 'summary') out.line('');
    for (const l of summary.lines()) out.line(l);
    for (const l of proxySummaryLines(proxy)) out.line(l);
  }
  out.flush();
  for (const w of stats.warnings) warn(w);
  if (expectations) {
    const report = expectations.report();
    for (const l of report.lines) process.stderr.write(`${l}\n`);
    return report.ok;
  }
  return true;
}

/** The L7 proxy's part of the summary: requests and queries decided, what it could not judge. */
function proxySummaryLines(proxy: ProxyStage): string[] {
  const c = proxy.counters;
  if (c.httpRequests + c.dnsQueries + c.kafkaNotEvaluated + c.reassemblyErrors === 0) return [];
  const lines = ['', 'L7 proxy'];
  if (c.httpRequests > 0) lines.push(`HTTP requests ${c.httpRequests}, denied with 403 ${c.httpDenied}`);
  if (c.dnsQueries > 0) lines.push(`DNS queries ${c.dnsQueries}, refused ${c.dnsRefused}, FQDN addresses learned ${c.fqdnLearned}`);
  if (c.kafkaNotEvaluated > 0) {
    lines.push(`Kafka connections ${c.kafkaNotEvaluated}: kafka rules not evaluated (decided at L3/L4; hubcap does not parse Kafka)`);
  }
  if (c.reassemblyErrors > 0) lines.push(`connections the proxy stopped reassembling (limit exceeded or malformed) ${c.reassemblyErrors}`);
  if (c.retransmittedBytes > 0) lines.push(`retransmitted bytes seen by the proxy (delivered once) ${c.retransmittedBytes}`);
  return lines;
}

interface Progress {
  update(offset: number): void;
  stop(): void;
}

/** The fast path as the reader's bulk record sink, moving the progress bar as it goes. */
function recordsWithProgress(fast: FastPath, progress: Progress | undefined): PcapRecordSink {
  if (progress === undefined) return fast;
  return {
    takePcapRecords(buf, pos, end, layout, fileOffset, taken): number {
      const at = fast.takePcapRecords(buf, pos, end, layout, fileOffset, taken);
      progress.update(fileOffset + (at - pos));
      return at;
    },
  };
}

/** A progress bar on stderr for long files, only when stderr is a terminal. */
function startProgress(capture: string, wanted: boolean): Progress | undefined {
  if (!wanted || !process.stderr.isTTY || capture === '-') return undefined;
  let size = 0;
  try {
    size = statSync(capture).size;
  } catch {
    return undefined;
  }
  if (size < 64 * 1024 * 1024) return undefined;
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: 'replay [{bar}] {percentage}% | {value}/{total} MB | eta {eta}s', hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  const mb = (b: number): number => Math.round(b / 1e6);
  bar.start(mb(size), 0);
  return { update: (offset) => bar.update(mb(offset)), stop: () => bar.stop() };
}
