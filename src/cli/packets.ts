/**
 * `hubcap packets CAPTURE [-o json]`: decoded packets, tcpdump-like text or JSON (design.md §3).
 */
import type { Command } from 'commander';
import type { CliContext } from './main.js';

export function registerPacketsCommand(program: Command, _ctx: CliContext): void {
  program
    .command('packets')
    .description('print the decoded packets of a capture (pcap, pcapng; - for stdin)')
    .argument('<capture>', 'capture file, or - for stdin')
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async () => {
      throw new Error('not implemented yet');
    });
}
