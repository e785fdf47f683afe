// Validator throughput on one core, warm: MedCom messages/s (HomeCareObservation, Acknowledgement) and EDS
// AuditEvents/s, with the shipped conformance resources, as `shippedValidator().issues(resource)` runs them.
// Each measurement validates a fresh parse of the fixture (as a received message would be) for `seconds`
// after a warm-up; the parse is outside the timed part. The load average is printed beside the numbers: the
// machine may be shared, so compare runs made back to back.
// Run: node --conditions=ehmi-source --import tsx packages/fhir/bench/throughput.bench.ts [--json] [--seconds=N]
// `measureValidatorThroughput()` is exported for the repository-wide bench.
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { shippedValidator } from '../src/index.ts';

const FIXTURES = fileURLToPath(new URL('../../../fixtures/', import.meta.url));

export const CASES = {
  homeCareObservation:
    'fhir/examples/medcom-homecareobservation-1.2.1/Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json',
  acknowledgement:
    'fhir/examples/medcom-acknowledgement-2.0.3/Bundle-bc9535ef-ed94-4060-a928-7baddec7ee71.json',
  edsAuditEvent: 'eds/json/AuditEvent-EDS-PDS-03.2.json',
} as const;

export interface ThroughputResult {
  /** Per case: validations per second, mean and p99 milliseconds per validation, number of validations. */
  cases: Record<keyof typeof CASES, { perSecond: number; meanMs: number; p99Ms: number; n: number }>;
  /** HomeCareObservation messages per second (the figure the validator target is about). */
  messagesPerSecond: number;
  /** EDS AuditEvents (PDS 03.2) per second. */
  edsEventsPerSecond: number;
  loadAverage: number[];
}

export function measureValidatorThroughput(options: { seconds?: number } = {}): ThroughputResult {
  const seconds = options.seconds ?? 3;
  const validator = shippedValidator();
  const cases = {} as ThroughputResult['cases'];
  for (const [name, file] of Object.entries(CASES) as [keyof typeof CASES, string][]) {
    const text = readFileSync(join(FIXTURES, file), 'utf8');
    const warmUntil = performance.now() + Math.min(1000, seconds * 300);
    while (performance.now() < warmUntil) validator.issues(JSON.parse(text));
    const times: number[] = [];
    const end = performance.now() + seconds * 1000;
    while (performance.now() < end) {
      const resource = JSON.parse(text);
      const s = performance.now();
      validator.issues(resource);
      times.push(performance.now() - s);
    }
    const mean = times.reduce((a, b) => a + b, 0) / times.length;
    times.sort((a, b) => a - b);
    const p99 = times[Math.min(times.length - 1, Math.floor(0.99 * times.length))] ?? 0;
    cases[name] = {
      perSecond: Math.round(1000 / mean),
      meanMs: round(mean),
      p99Ms: round(p99),
      n: times.length,
    };
  }
  return {
    cases,
    messagesPerSecond: cases.homeCareObservation.perSecond,
    edsEventsPerSecond: cases.edsAuditEvent.perSecond,
    loadAverage: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

const round = (x: number) => Math.round(x * 1000) / 1000;

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = process.argv.find((a) => a.startsWith('--seconds='));
  const before = loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
  const r = measureValidatorThroughput({ seconds: arg ? Number(arg.slice(10)) : undefined });
  if (process.argv.includes('--json')) console.log(JSON.stringify(r));
  else {
    console.log(`load average before: ${before}; after: ${r.loadAverage.join(' ')}`);
    for (const [name, c] of Object.entries(r.cases))
      console.log(`${name}: ${c.perSecond}/s, mean ${c.meanMs} ms, p99 ${c.p99Ms} ms (${c.n} validations)`);
  }
}
