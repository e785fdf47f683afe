#!/usr/bin/env node
// Runs the repository's own tests (test/**/*.test.ts) and every package's (packages/*/test/**/*.test.ts) with
// node:test through tsx, with the @ehmi/* packages resolved to their sources (the `ehmi-source` condition).
// Usage: node scripts/test.mjs [path-filter...]  e.g. `node scripts/test.mjs store` runs files whose path contains "store".
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const filters = process.argv.slice(2);

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'fixtures') continue;
    const full = join(dir, name);
    if (statSync(full).isDirectory()) walk(full, out);
    else if (name.endsWith('.test.ts')) out.push(full);
  }
  return out;
}

const files = [];
const testDirs = [
  join(root, 'test'),
  ...readdirSync(join(root, 'packages')).map((pkg) => join(root, 'packages', pkg, 'test')),
];
for (const testDir of testDirs) {
  try {
    if (statSync(testDir).isDirectory()) walk(testDir, files);
  } catch {
    // a package without tests yet
  }
}
const selected = files
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (selected.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const concurrency = process.env.EHMI_TEST_CONCURRENCY ?? '2';
// The `ehmi-source` condition makes the @ehmi/* packages resolve to their TypeScript sources, not to their dist/
// (no build step); through NODE_OPTIONS, so the processes the tests start (`node --import tsx …`) get it too.
const nodeOptions = [process.env.NODE_OPTIONS, '--conditions=ehmi-source'].filter(Boolean).join(' ');
// The run's test key cache: a network PKI made from nothing takes its RSA keys from here by a stable name, so the
// ~25 network starts of a run (in the test files and in the `ehmi up` processes they start) generate their keys
// once, not each (packages/network/src/test-keys.ts). Test keys only, removed after the run; a cache named by the
// caller is kept (to reuse it between runs).
const keyCache = process.env.EHMI_TEST_KEY_CACHE ?? mkdtempSync(join(tmpdir(), 'ehmi-test-keys-'));
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    `--test-concurrency=${concurrency}`,
    // Not --test-force-exit: a file's process then exits while its last reports may still be on their way to this
    // one, and they are lost (seen: the last four tests of a file missing from a run's count, its result unknown).
    // The usual report, then where the time went, then the failed tests listed again at the end, where a long log
    // is read first.
    `--test-reporter=${process.stdout.isTTY ? 'spec' : 'tap'}`,
    '--test-reporter-destination=stdout',
    `--test-reporter=${join(root, 'scripts', 'test-times.mjs')}`,
    '--test-reporter-destination=stdout',
    `--test-reporter=${join(root, 'scripts', 'test-failures.mjs')}`,
    '--test-reporter-destination=stdout',
    ...selected,
  ],
  {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, NODE_OPTIONS: nodeOptions, EHMI_TEST_KEY_CACHE: keyCache },
  },
);
if (!process.env.EHMI_TEST_KEY_CACHE) rmSync(keyCache, { recursive: true, force: true });
process.exit(result.status ?? 1);
