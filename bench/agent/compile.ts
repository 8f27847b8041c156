/**
 * Compiling a generated cluster: 5,000 pods and 500 policies (bench/lib/gen-cluster.ts), as
 * `hubcap maps` does it: load the YAML, parse the policies strictly, run the agent
 * (identities, ipcache, per-endpoint policy maps). Target (issue 3): the compile under 2 s.
 *
 * Knobs: BENCH_COMPILE_PODS (5000), BENCH_COMPILE_POLICIES (500), BENCH_COMPILE_RUNS (5).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { compileMaps } from '../../src/agent/agent.js';
import { loadClusterObjects } from '../../src/k8s/load.js';
import { parsePolicies } from '../../src/policy/parse.js';
import { generateCluster, writeGeneratedCluster } from '../lib/gen-cluster.js';
import { median } from '../lib/measure.js';
import { fmt, type Suite } from '../lib/suite.js';

function time<T>(fn: () => T): { ms: number; value: T } {
  const t0 = process.hrtime.bigint();
  const value = fn();
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, value };
}

export const suite: Suite = {
  name: 'agent/compile',
  async run(ctx) {
    const pods = Number(process.env.BENCH_COMPILE_PODS ?? (ctx.quick ? 500 : 5000));
    const policies = Number(process.env.BENCH_COMPILE_POLICIES ?? (ctx.quick ? 50 : 500));
    const runs = Number(process.env.BENCH_COMPILE_RUNS ?? (ctx.quick ? 2 : 5));
    const dir = mkdtempSync(join(tmpdir(), 'hubcap-bench-compile-'));
    try {
      ctx.log(`generating ${pods} pods and ${policies} policies`);
      const generated = generateCluster({ pods, policies });
      const files = writeGeneratedCluster(dir, generated);
      const mb = (generated.clusterYaml.length + generated.policyYaml.length) / 1e6;

      // Correctness gate: every generated pod is an endpoint, every policy parsed, and the
      // same input compiles to the same bytes twice.
      const objects = loadClusterObjects([files.clusterFile, files.policyFile]);
      const parsed = parsePolicies(objects.policies);
      const first = compileMaps(objects, parsed);
      if (first.endpoints.filter((e) => e.kind === 'pod').length !== generated.pods.length) {
        throw new Error(`gate: ${first.endpoints.length} endpoints for ${generated.pods.length} pods`);
      }
      if (parsed.length !== policies) throw new Error(`gate: ${parsed.length} policies parsed of ${policies}`);
      if (JSON.stringify(compileMaps(objects, parsed)) !== JSON.stringify(first)) throw new Error('gate: compile is not deterministic');

      const load: number[] = [];
      const parse: number[] = [];
      const compile: number[] = [];
      for (let i = 0; i < runs; i++) {
        const l = time(() => loadClusterObjects([files.clusterFile, files.policyFile]));
        const p = time(() => parsePolicies(l.value.policies));
        const c = time(() => compileMaps(l.value, p.value));
        load.push(l.ms);
        parse.push(p.ms);
        compile.push(c.ms);
        ctx.log(`run ${i + 1}/${runs}: load ${fmt(l.ms, 0)} ms, parse ${fmt(p.ms, 0)} ms, compile ${fmt(c.ms, 0)} ms`);
      }
      const entries = first.policyMaps.reduce((n, m) => n + m.entries.length, 0);
      const distinct = new Set(first.policyMaps.map((m) => m.entries)).size;

      // `hubcap maps pressure` on the same input, as a user runs it.
      const cli = spawnSync(process.execPath, [join(import.meta.dirname, '..', '..', 'bin', 'hubcap.js'), 'maps', '--cluster', files.clusterFile, '--policy', files.policyFile, 'pressure', '-q'], {
        encoding: 'utf8',
        maxBuffer: 1 << 28,
      });
      if (cli.status !== 0) throw new Error(`hubcap maps pressure failed: ${cli.stderr}`);
      const pressure = cli.stdout.trim().split('\n').slice(0, 6);

      const row = (name: string, values: number[]): Array<string | number> => [name, fmt(median(values), 0), fmt(Math.min(...values), 0)];
      const total = load.map((l, i) => l + parse[i]! + compile[i]!);
      return {
        summary:
          `Compiling a generated cluster of ${pods} pods (${first.identities.length} identities, ${generated.nodes.length} nodes, ` +
          `${generated.namespaces.length} namespaces) and ${policies} policies (CNP, CCNP, NetworkPolicy; L7, DNS, CIDR, deny), ` +
          `${fmt(mb, 1)} MB of kubectl-style YAML, median of ${runs} runs.`,
        tables: [
          {
            title: 'Compile phases',
            columns: ['phase', 'median ms', 'min ms'],
            rows: [row('load YAML (k8s/)', load), row('parse policies strictly (policy/)', parse), row('agent: identities, ipcache, policy maps', compile), row('total', total)],
          },
          {
            title: 'What the agent produced',
            columns: ['item', 'count'],
            rows: [
              ['endpoints (pods + host endpoints)', first.endpoints.length],
              ['policy-map entries, all endpoints', entries],
              ['distinct policy maps (computed once, shared by endpoints with the same identity and view)', distinct],
              ['ipcache entries (shared)', first.ipcache.shared.length],
              ['L7 rule sets', first.l7.length],
            ],
          },
        ],
        notes: [
          `Agent compile median ${fmt(median(compile), 0)} ms (target < 2000 ms): ${median(compile) < 2000 ? 'met' : 'NOT met'}.`,
          `\`hubcap maps pressure\` on this cluster (top rows):\n\n\`\`\`\n${pressure.join('\n')}\n\`\`\``,
        ],
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
