// A node:test reporter that prints, after the run, where the time went: the slowest test files (the sum of their
// top-level tests' durations, and the span from their first report to their last) and the slowest tests. Used by
// scripts/test.mjs beside the usual reporter. EHMI_TEST_TIMES=<path> also writes every file's and test's figures
// there as JSON, to compare two runs.
import { writeFileSync } from 'node:fs';
import { relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const SHOWN_FILES = 15;
const SHOWN_TESTS = 15;

export default async function* times(source) {
  /** @type {Map<string, { ms: number; first: number; last: number; tests: number }>} */
  const files = new Map();
  /** @type {{ file: string; name: string; ms: number }[]} */
  const tests = [];
  const started = Date.now();
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { name, file, nesting, details } = event.data;
    const path = file ? relative(root, file) : '?';
    const now = Date.now();
    let f = files.get(path);
    if (!f) {
      f = { ms: 0, first: now, last: now, tests: 0 };
      files.set(path, f);
    }
    f.last = now;
    const ms = details?.duration_ms ?? 0;
    if (nesting === 0) f.ms += ms;
    if (details?.type !== 'suite') {
      f.tests++;
      tests.push({ file: path, name, ms });
    }
  }
  const wall = Date.now() - started;
  const byFile = [...files].map(([file, f]) => ({
    file,
    ms: f.ms,
    spanMs: f.last - f.first,
    tests: f.tests,
  }));
  byFile.sort((a, b) => b.ms - a.ms);
  tests.sort((a, b) => b.ms - a.ms);
  if (process.env.EHMI_TEST_TIMES)
    writeFileSync(
      process.env.EHMI_TEST_TIMES,
      `${JSON.stringify({ wallMs: wall, files: byFile, tests }, null, 1)}\n`,
    );
  const s = (ms) => `${(ms / 1000).toFixed(1)} s`.padStart(8);
  const lines = [
    `\n# time: ${s(wall).trim()} in all, ${files.size} files, ${tests.length} tests; the slowest files:`,
  ];
  for (const f of byFile.slice(0, SHOWN_FILES)) lines.push(`# ${s(f.ms)}  ${f.file} (${f.tests} tests)`);
  lines.push('# the slowest tests:');
  for (const t of tests.slice(0, SHOWN_TESTS)) lines.push(`# ${s(t.ms)}  ${t.name} (${t.file})`);
  yield `${lines.join('\n')}\n`;
}
