// The validator against an earlier version of itself, in one process: both are loaded side by side and take
// turns (6 rounds of warm validations each), so a shared, busy machine weighs on both alike. Medians of the
// rounds and the fastest round, per case, in ms of CPU per validation (as validate.bench.ts measures).
// Prepare the earlier version next to the package (not committed):
//   mkdir -p packages/fhir/.compare/before && git archive <ref> packages/fhir/src | tar -x --strip-components=2 \
//     -C packages/fhir/.compare/before && ln -s ../../resources packages/fhir/.compare/before/resources
// Run: node --conditions=ehmi-source --import tsx packages/fhir/bench/compare.bench.ts before
// (each argument names a folder under packages/fhir/.compare/ holding src/index.ts; `current` is this tree).
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Validator } from '../src/index.ts';
import { CASES } from './validate.bench.ts';

const FIXTURES = fileURLToPath(new URL('../../../fixtures/', import.meta.url));
const variants: Record<string, { shippedValidator(): Validator }> = {};
for (const v of [...process.argv.slice(2), 'current'])
  variants[v] = await import(v === 'current' ? '../src/index.ts' : `../.compare/${v}/src/index.ts`);
const texts = Object.entries(CASES).map(([k, f]) => [k, readFileSync(join(FIXTURES, f), 'utf8')] as const);
const rounds: Record<string, number[]> = {};
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
console.log(`load average before: ${load()}`);
for (let round = 0; round < 6; round++) {
  for (const [name, mod] of Object.entries(variants)) {
    const validator = mod.shippedValidator();
    for (const [k, text] of texts) {
      for (let i = 0; i < (round === 0 ? 300 : 20); i++) validator.issues(JSON.parse(text));
      const n = k === 'homeCareObservation' ? 100 : 300;
      let ms = 0;
      for (let i = 0; i < n; i++) {
        const resource = JSON.parse(text);
        const c = process.cpuUsage();
        validator.issues(resource);
        const d = process.cpuUsage(c);
        ms += (d.user + d.system) / 1000;
      }
      const key = `${name} ${k}`;
      rounds[key] = [...(rounds[key] ?? []), ms / n];
    }
  }
}
console.log(`load average after: ${load()}`);
for (const [k, v] of Object.entries(rounds)) {
  v.sort((a, b) => a - b);
  const median = v[Math.floor(v.length / 2)] as number;
  console.log(
    `${k}: median ${median.toFixed(3)} ms (${Math.round(1000 / median)}/s), fastest ${(v[0] as number).toFixed(3)} ms`,
  );
}
