/**
 * The `hubcap` command: parses argv with commander, runs one subcommand, and turns every
 * HubcapError into one line on stderr with exit status 2 (design.md §3: 0 done, 1 an
 * expectation failed, 2 bad input or usage). Nothing else in src/ imports this folder.
 */
import { Command, CommanderError } from 'commander';
import { isHubcapError } from '../errors.js';
import { registerBenchCommand } from './bench.js';
import { registerMapsCommand } from './maps.js';
import { registerPacketsCommand } from './packets.js';
import { registerReplayCommand } from './replay.js';

export const EXIT_OK = 0;
export const EXIT_EXPECTATION_FAILED = 1;
export const EXIT_BAD_INPUT = 2;

/** Mutable state a subcommand reports back through (commander actions return nothing). */
export interface CliContext {
  exitCode: number;
}

export function buildProgram(ctx: CliContext): Command {
  const program = new Command();
  program
    .name('hubcap')
    .description(
      "Replay packet captures through a userspace model of Cilium's policy datapath:\n" +
        'identities, ipcache, per-endpoint policy maps, conntrack and the L7 proxy, with Hubble-style flows.',
    )
    .version('0.1.0')
    .exitOverride()
    .configureOutput({
      writeErr: (str) => process.stderr.write(str),
      // One line per usage error, prefixed like every other hubcap error.
      outputError: (str, write) => write(`hubcap: ${str.replace(/^error: /, '')}`),
    });
  registerPacketsCommand(program, ctx);
  registerMapsCommand(program, ctx);
  registerReplayCommand(program, ctx);
  registerBenchCommand(program, ctx);
  return program;
}

/** Runs the CLI and returns the exit status (tests call this in-process). */
export async function main(argv: string[]): Promise<number> {
  const ctx: CliContext = { exitCode: EXIT_OK };
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end with a CommanderError carrying exit code 0.
      if (err.exitCode === 0) return EXIT_OK;
      return EXIT_BAD_INPUT;
    }
    if (isHubcapError(err)) {
      process.stderr.write(`hubcap: ${err.message}\n`);
      return EXIT_BAD_INPUT;
    }
    // A bug, not bad input: still one line first, then the stack for the bug report.
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`hubcap: internal error: ${message}\n`);
    if (process.env.HUBCAP_DEBUG) process.stderr.write(`${(err as Error).stack ?? ''}\n`);
    return 70;
  }
}
