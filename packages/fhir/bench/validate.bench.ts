// Profile validation speed: load (cold), first validation (compiles element trees and FHIRPath), then warm
// validations of MedCom messages with the shipped conformance resources.
// Target: a warm HomeCareObservation message in well under 50 ms (docs/architecture.md "Scale": 2.5
// messages/s on average for all of Denmark, so validation must never be the bottleneck of a node).
// Run: node --conditions=ehmi-source --import tsx packages/fhir/bench/validate.bench.ts [iterations, default 200]
// (or EHMI_BENCH_ITERATIONS). With EHMI_BENCH_RESULT, the warm rates are also written there as JSON for
// scripts/bench.mjs: `messagesPerSecond` is the HomeCareObservation's (a MedCom message of 14 entries).

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { shippedConformance, shippedValidator } from '../src/index.ts';
import { FIXTURES } from '../test/fixtures.ts';

const iterations = Number(process.argv[2] ?? process.env.EHMI_BENCH_ITERATIONS ?? 200);
const rates: Record<string, number> = {};
const examples = join(FIXTURES, 'fhir', 'examples');
const messages: Record<string, string> = {
  'HomeCareObservation (14 entries)':
    'medcom-homecareobservation-1.2.1/Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json',
  'HomeCareObservation with Media (19 entries)':
    'medcom-homecareobservation-1.2.1/Bundle-add5e7e2-0c0f-4a4a-bfff-f6f984fa7e3c.json',
  'Acknowledgement fatal-error':
    'medcom-acknowledgement-2.0.3/Bundle-bc9535ef-ed94-4060-a928-7baddec7ee71.json',
};

let t = performance.now();
shippedConformance();
console.log(`load shipped conformance: ${(performance.now() - t).toFixed(0)} ms`);

const validator = shippedValidator();
for (const [name, file] of Object.entries(messages)) {
  const text = readFileSync(join(examples, file), 'utf8');
  t = performance.now();
  validator.issues(JSON.parse(text));
  const first = performance.now() - t;
  const times: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const resource = JSON.parse(text); // a fresh object each time, as a received message would be
    const s = performance.now();
    validator.issues(resource);
    times.push(performance.now() - s);
  }
  times.sort((a, b) => a - b);
  const pct = (p: number) =>
    (times[Math.min(times.length - 1, Math.floor(p * times.length))] ?? 0).toFixed(1);
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  rates[name] = 1000 / mean;
  console.log(
    `${name}: first ${first.toFixed(0)} ms; warm mean ${mean.toFixed(1)} ms, p50 ${pct(0.5)} ms, p95 ${pct(0.95)} ms, ${(1000 / mean).toFixed(0)} msg/s`,
  );
}
if (process.env.EHMI_BENCH_RESULT) {
  writeFileSync(
    process.env.EHMI_BENCH_RESULT,
    JSON.stringify({
      messagesPerSecond: rates['HomeCareObservation (14 entries)'],
      message:
        'HomeCareObservation (14 entries), FHIR profile validation with the shipped conformance resources, warm, one thread',
      iterations,
      byMessage: rates,
    }),
  );
}
