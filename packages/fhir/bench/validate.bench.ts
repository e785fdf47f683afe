// Profile validation speed with the shipped conformance resources: loading them (cold), the first validation of
// each message (element trees, FHIRPath compilation), then warm validations, as `shippedValidator().issues()` runs
// them on a received message (a fresh parse each time, outside the measured part).
//
// "Warm" means after the JIT has settled: the first few hundred validations of a message run at 3–6× the cost of
// later ones (tier-up of the walker and of fhirpath.js), so each message is validated `warmup` times first (300,
// about a second) before anything is measured. The headline figure is **CPU time** per validation (the process's
// user + system time, so GC threads count): one thread validates 1000 / cpuMs messages per second. It does not move
// with the load of other processes on a shared machine, where wall time does (a run at load average 10 waits for a
// core most of the time); the wall-clock mean and p99 are printed beside it, with the load average.
//
// Run: node --conditions=ehmi-source --import tsx packages/fhir/bench/validate.bench.ts [iterations, default 300]
// [--json] (or EHMI_BENCH_ITERATIONS). With EHMI_BENCH_RESULT the figures are also written there as JSON for
// scripts/bench.mjs: `messagesPerSecond` is the HomeCareObservation's (a MedCom message of 14 entries).
// `measureValidator()` and `CASES` are exported for compare.bench.ts.
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { shippedConformance, shippedValidator } from '../src/index.ts';

const FIXTURES = fileURLToPath(new URL('../../../fixtures/', import.meta.url));

export const CASES = {
  homeCareObservation:
    'fhir/examples/medcom-homecareobservation-1.2.1/Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json',
  homeCareObservationMedia:
    'fhir/examples/medcom-homecareobservation-1.2.1/Bundle-add5e7e2-0c0f-4a4a-bfff-f6f984fa7e3c.json',
  acknowledgement:
    'fhir/examples/medcom-acknowledgement-2.0.3/Bundle-bc9535ef-ed94-4060-a928-7baddec7ee71.json',
  edsAuditEvent: 'eds/json/AuditEvent-EDS-PDS-03.2.json',
} as const;

const LABELS: Record<keyof typeof CASES, string> = {
  homeCareObservation: 'HomeCareObservation (14 entries)',
  homeCareObservationMedia: 'HomeCareObservation with Media (19 entries)',
  acknowledgement: 'Acknowledgement fatal-error',
  edsAuditEvent: 'EDS AuditEvent PDS 03.2',
};

export interface CaseResult {
  /** 1000 / cpuMs: validations per second on one thread. */
  perSecond: number;
  cpuMs: number;
  firstMs: number;
  wallMeanMs: number;
  wallP50Ms: number;
  wallP99Ms: number;
  n: number;
}

export interface ValidatorBenchResult {
  loadConformanceMs: number;
  cases: Record<keyof typeof CASES, CaseResult>;
  /** HomeCareObservation messages per second on one thread, warm (the figure the validator target is about). */
  messagesPerSecond: number;
  /** EDS AuditEvents (PDS 03.2) per second on one thread, warm. */
  edsEventsPerSecond: number;
  loadAverage: { before: number[]; after: number[] };
}

const cpuNow = (): number => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};

/** Warm validations of each case: `warmup` unmeasured, then `iterations` measured (CPU and wall time each). */
export function measureValidator(
  options: { iterations?: number; warmup?: number } = {},
): ValidatorBenchResult {
  const iterations = options.iterations ?? 300;
  const warmup = options.warmup ?? 300;
  const before = load();
  let t = performance.now();
  shippedConformance();
  const loadConformanceMs = performance.now() - t;
  const validator = shippedValidator();
  const cases = {} as ValidatorBenchResult['cases'];
  for (const [name, file] of Object.entries(CASES) as [keyof typeof CASES, string][]) {
    const text = readFileSync(join(FIXTURES, file), 'utf8');
    t = performance.now();
    validator.issues(JSON.parse(text));
    const firstMs = performance.now() - t;
    for (let i = 0; i < warmup; i++) validator.issues(JSON.parse(text));
    const wall: number[] = [];
    let cpu = 0;
    for (let i = 0; i < iterations; i++) {
      const resource = JSON.parse(text); // a fresh object each time, as a received message would be
      const c = cpuNow();
      const s = performance.now();
      validator.issues(resource);
      wall.push(performance.now() - s);
      cpu += cpuNow() - c;
    }
    wall.sort((a, b) => a - b);
    const pct = (p: number) => wall[Math.min(wall.length - 1, Math.floor(p * wall.length))] ?? 0;
    const cpuMs = cpu / iterations;
    cases[name] = {
      perSecond: Math.round(1000 / cpuMs),
      cpuMs: round(cpuMs),
      firstMs: round(firstMs),
      wallMeanMs: round(wall.reduce((a, b) => a + b, 0) / wall.length),
      wallP50Ms: round(pct(0.5)),
      wallP99Ms: round(pct(0.99)),
      n: iterations,
    };
  }
  return {
    loadConformanceMs: Math.round(loadConformanceMs),
    cases,
    messagesPerSecond: cases.homeCareObservation.perSecond,
    edsEventsPerSecond: cases.edsAuditEvent.perSecond,
    loadAverage: { before, after: load() },
  };
}

const round = (x: number) => Math.round(x * 1000) / 1000;
const load = () => loadavg().map((x) => Math.round(x * 100) / 100);

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = process.argv.slice(2).find((a) => /^\d+$/.test(a));
  const iterations = Number(arg ?? process.env.EHMI_BENCH_ITERATIONS ?? 300);
  const r = measureValidator({ iterations });
  if (process.argv.includes('--json')) console.log(JSON.stringify(r));
  else {
    console.log(
      `load average before: ${r.loadAverage.before.join(' ')}; after: ${r.loadAverage.after.join(' ')}`,
    );
    console.log(`load shipped conformance: ${r.loadConformanceMs} ms`);
    for (const [name, c] of Object.entries(r.cases) as [keyof typeof CASES, CaseResult][]) {
      console.log(
        `${LABELS[name]}: first ${c.firstMs.toFixed(0)} ms; warm ${c.cpuMs.toFixed(2)} ms CPU = ${c.perSecond}/s on one thread (wall mean ${c.wallMeanMs.toFixed(2)} ms, p50 ${c.wallP50Ms.toFixed(2)} ms, p99 ${c.wallP99Ms.toFixed(2)} ms; ${c.n} validations)`,
      );
    }
  }
  if (process.env.EHMI_BENCH_RESULT) {
    writeFileSync(
      process.env.EHMI_BENCH_RESULT,
      JSON.stringify({
        messagesPerSecond: r.messagesPerSecond,
        message:
          'HomeCareObservation (14 entries), FHIR profile validation with the shipped conformance resources, warm (after 300 validations), one thread: 1000 / CPU ms per validation',
        cpuMsPerMessage: r.cases.homeCareObservation.cpuMs,
        wallMeanMs: r.cases.homeCareObservation.wallMeanMs,
        iterations,
        byMessage: Object.fromEntries(
          Object.entries(r.cases).map(([k, c]) => [LABELS[k as keyof typeof CASES], c.perSecond]),
        ),
        edsEventsPerSecond: r.edsEventsPerSecond,
        loadAverage: r.loadAverage,
      }),
    );
  }
}
