// Prints the RE2 and Abseil sources of the `re2` npm package (the ones its own binding.gyp
// builds), relative to the current directory, for binding.gyp's hubcap_re2 target: hubcap builds
// the same RE2 that validates policy regexes, once more, to ask it what the package does not
// expose (the compiled program's size; see native/re2_size.cc). Reading the package's list keeps
// the two builds in step when the dependency is updated.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const dir = path.dirname(require.resolve('re2/package.json'));
// binding.gyp is JSON with comments and trailing commas (gyp reads it as a Python literal).
const text = fs
  .readFileSync(path.join(dir, 'binding.gyp'), 'utf8')
  .replace(/#.*$/gm, '')
  .replace(/,(\s*[\]}])/g, '$1');
const target = JSON.parse(text).targets.find((t) => t.target_name === 're2');
if (!target) throw new Error(`${dir}/binding.gyp: no target re2`);
const mode = process.argv[2] ?? 'sources';
if (mode === 'sources') {
  const sources = target.sources.filter((s) => s.startsWith('vendor/'));
  for (const s of sources) console.log(path.relative(process.cwd(), path.join(dir, s)));
} else if (mode === 'include') {
  for (const d of ['vendor/re2', 'vendor/abseil-cpp']) console.log(path.relative(process.cwd(), path.join(dir, d)));
} else {
  throw new Error(`re2-sources.cjs: unknown mode ${mode} (sources or include)`);
}
