/**
 * RE2 program sizes of HTTP rule regexes, and Envoy's limit on them.
 *
 * Mirrors: Envoy's CompiledGoogleReMatcher (source/common/common/regex.cc), which compiles every
 * `safe_regex` with RE2::Quiet and throws when `ProgramSize()` exceeds the runtime value
 * `re2.max_program_size.error_level`, 100 by default. Cilium hands an HTTP rule's `path`,
 * `method` and `host` to Envoy as such regexes (pkg/envoy/policy/envoy_l7_rules_translator.go)
 * and its Envoy bootstrap leaves the runtime value at the default (the Helm value
 * `envoy.staticRuntimeConfig` can raise it), so a larger program makes Envoy NACK the endpoint's
 * whole NetworkPolicy update: the API server accepted the policy, Go's regexp compiles it, and
 * still the endpoint's L7 policy is not applied (cilium/cilium#41314, #48773).
 *
 * The size comes from the hubcap_re2 addon (native/re2_size.cc): the same RE2 sources as the
 * `re2` package, which does not expose it. Without that addon sizes are unknown (undefined) and
 * nothing is checked.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Envoy's default `re2.max_program_size.error_level`. */
export const ENVOY_RE2_MAX_PROGRAM_SIZE = 100;

interface Re2SizeAddon {
  programSize(pattern: string): number;
}

let addon: Re2SizeAddon | null | undefined;

function load(): Re2SizeAddon | null {
  if (addon === undefined) {
    // build/Release of this package (src/policy and dist/policy are both two levels down).
    const path = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'build', 'Release', 'hubcap_re2.node');
    addon = existsSync(path) ? (createRequire(import.meta.url)(path) as Re2SizeAddon) : null;
  }
  return addon;
}

/**
 * RE2's program size for `pattern`: Infinity when RE2 with its default options cannot compile a
 * program that large (ErrorPatternTooLarge, which Envoy rejects too), undefined when the addon is
 * not built or RE2 rejects the pattern for another reason.
 */
export function re2ProgramSize(pattern: string): number | undefined {
  const a = load();
  if (a === null) return undefined;
  const size = a.programSize(pattern);
  if (size === -2) return Infinity;
  return size >= 0 ? size : undefined;
}
