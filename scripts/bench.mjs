#!/usr/bin/env node
// Runs every benchmark (packages/*/bench/*.bench.ts) one after another, each in its own process.
// Usage: npm run bench [-- filter...] [-- --quick] [-- --json]; arguments that start with -- go to every benchmark.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const filters = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const flags = process.argv.slice(2).filter((a) => a.startsWith('--'));
const files = [];
for (const pkg of readdirSync(join(root, 'packages'))) {
  const dir = join(root, 'packages', pkg, 'bench');
  try {
    if (!statSync(dir).isDirectory()) continue;
  } catch {
    continue;
  }
  for (const name of readdirSync(dir))
    if (name.endsWith('.bench.ts')) files.push(relative(root, join(dir, name)));
}
// The `ehmi-source` condition: the @ehmi/* packages resolve to their TypeScript sources, not to their dist/; through
// NODE_OPTIONS, so the processes a benchmark starts get it too.
const env = {
  ...process.env,
  NODE_OPTIONS: [process.env.NODE_OPTIONS, '--conditions=ehmi-source'].filter(Boolean).join(' '),
};
let failed = 0;
for (const file of files.sort()) {
  if (filters.length > 0 && !filters.some((f) => file.includes(f))) continue;
  console.log(`\n== ${file}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', file, ...flags], {
    cwd: root,
    stdio: 'inherit',
    env,
  });
  if (r.status !== 0) failed++;
}
process.exit(failed > 0 ? 1 : 0);
