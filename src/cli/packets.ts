/**
 * `hubcap packets CAPTURE [-o json]`: decoded packets, tcpdump-like text or JSON (design.md §3).
 *
 * One DecodedPacket is reused for the whole capture (decode allocates nothing); the formatter
 * builds one string per packet and LineWriter batches them. Reader warnings (a cut last record,
 * odd headers) go to stderr after the packets, as tcpdump reports them at the end.
 */
import type { Command } from 'commander';
import { openCapture } from '../capture/open.js';
import { decodeFrame } from '../decode/decode.js';
import { formatPacketJson, formatPacketText } from '../decode/format.js';
import { DecodedPacket } from '../decode/packet.js';
import { UsageError } from '../errors.js';
import type { CliContext } from './main.js';
import { LineWriter, warn } from './output.js';

const FORMATS = ['text', 'json'] as const;
type PacketsFormat = (typeof FORMATS)[number];

interface PacketsOptions {
  output: string;
}

export function registerPacketsCommand(program: Command, _ctx: CliContext): void {
  program
    .command('packets')
    .description('print the decoded packets of a capture (pcap, pcapng; - for stdin)')
    .argument('<capture>', 'capture file, or - for stdin')
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (capture: string, opts: PacketsOptions) => {
      await runPackets(capture, parseFormat(opts.output));
    });
}

function parseFormat(text: string): PacketsFormat {
  if ((FORMATS as readonly string[]).includes(text)) return text as PacketsFormat;
  throw new UsageError(`packets: unknown output format '${text}' (use ${FORMATS.join(' or ')})`);
}

export async function runPackets(capture: string, format: PacketsFormat, fd = 1): Promise<void> {
  const source = openCapture(capture);
  const out = new LineWriter(fd);
  const pkt = new DecodedPacket();
  const json = format === 'json';
  const stats = await source.run((frame) => {
    // The reader went away (`| head`): keep draining quietly, nothing left to print.
    if (out.isClosed) return;
    decodeFrame(frame, pkt);
    out.line(json ? formatPacketJson(frame, pkt) : formatPacketText(frame, pkt));
  });
  out.flush();
  for (const w of stats.warnings) warn(w);
}
