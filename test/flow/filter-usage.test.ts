/**
 * Filter flags on a commander Command, and the one-line UsageErrors for values and combinations
 * Hubble refuses (hubble/cmd/observe/flows_filter.go: "filters --X and --Y cannot be combined",
 * namespace conflicts, unknown verdicts, types, protocols).
 */
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { addFilterOptions, compileFlowFilter, type FlowFilterOptions } from '../../src/flow/filter.js';
import { filterCtx, kept } from './filter-helpers.js';

function parse(args: string[]): FlowFilterOptions {
  const cmd = addFilterOptions(new Command('replay').exitOverride().allowUnknownOption(false));
  cmd.action(() => undefined);
  cmd.parse(args, { from: 'user' });
  return cmd.opts<FlowFilterOptions>();
}

function error(opts: FlowFilterOptions): UsageError {
  try {
    compileFlowFilter(opts, filterCtx);
  } catch (err) {
    if (err instanceof UsageError) return err;
    throw err;
  }
  throw new Error('no error');
}

describe('commander options', () => {
  it('collects repeated flags into lists, -t as --type', () => {
    const opts = parse(['--verdict', 'DROPPED', '--verdict', 'AUDIT', '-t', 'drop', '--type', 'trace:to-proxy', '--pod', 'xwing', '--to-port', '80']);
    expect(opts).toMatchObject({ verdict: ['DROPPED', 'AUDIT'], type: ['drop', 'trace:to-proxy'], pod: ['xwing'], toPort: ['80'] });
  });

  it('no flags: no filter at all', () => {
    expect(compileFlowFilter(parse([]), filterCtx)).toBeUndefined();
  });

  it('parsed flags filter as the same options do', () => {
    expect(kept(parse(['--from-pod', 'xwing', '--verdict', 'DROPPED']))).toEqual([
      'policy-verdict none INGRESS DENIED (POLICY_DENIED)',
      'drop POLICY_DENIED',
      'policy-verdict L3-Only INGRESS DENIED (POLICY_DENY)',
      'drop POLICY_DENY',
      'drop inherited (later packet of a dropped connection)',
      'drop FRAG_NOT_FOUND (no connection)',
    ]);
  });
});

describe('usage errors', () => {
  it.each<[string, FlowFilterOptions, RegExp]>([
    ['unknown verdict', { verdict: ['ALLOWED'] }, /^--verdict: unknown verdict "ALLOWED" \(use FORWARDED, DROPPED, ERROR, AUDIT, REDIRECTED, TRACED, TRANSLATED\)$/],
    ['unknown type', { type: ['drops'] }, /^--type: unknown event type "drops"/],
    ['unknown trace point', { type: ['trace:to-nowhere'] }, /^--type: unknown sub-type "to-nowhere" of "trace" \(use to-endpoint, /],
    ['unknown protocol', { protocol: ['quic'] }, /^--protocol: unknown protocol "quic"/],
    ['bad address', { fromIp: ['10.0.0.300'] }, /^--from-ip: invalid address or prefix "10\.0\.0\.300"$/],
    ['bad prefix on --ip', { ip: ['10.0.0.0/33'] }, /^--ip: invalid address or prefix/],
    ['bad port', { port: ['http'] }, /^--port: invalid port "http" \(0-65535\)$/],
    ['port too large', { toPort: ['65536'] }, /^--to-port: invalid port "65536"/],
    ['empty pod', { pod: [''] }, /^invalid pod filter "", must be \[namespace\/\]\[<name>\]$/],
    ['--from-pod with --namespace', { fromPod: ['xwing'], namespace: ['default'] }, /^filters --namespace and --from-pod cannot be combined$|^filters --from-pod and --namespace cannot be combined$/],
    ['--ip with --from-ip', { ip: ['1.1.1.1'], fromIp: ['1.1.1.1'] }, /cannot be combined$/],
    ['--port with --to-port', { port: ['80'], toPort: ['80'] }, /^filters --port and --to-port cannot be combined$|^filters --to-port and --port cannot be combined$/],
    ['pod in another namespace', { pod: ['kube-system/coredns'], namespace: ['default'] }, /^namespace conflict: "default" does not contain "kube-system\/coredns"$/],
  ])('%s', (_name, opts, message) => {
    const err = error(opts);
    expect(err.code).toBe('HUBCAP_ERR_USAGE');
    expect(err.message).toMatch(message);
    expect(err.message).not.toContain('\n');
  });

  it('allows what Hubble allows: --pod with --namespace, --from-pod with --to-pod', () => {
    expect(() => compileFlowFilter({ pod: ['xwing'], namespace: ['default'] }, filterCtx)).not.toThrow();
    expect(() => compileFlowFilter({ fromPod: ['xwing'], toPod: ['deathstar'] }, filterCtx)).not.toThrow();
  });
});
