#!/usr/bin/env node
// The full fault suite (packages/server/test/faults): sender and receiver nodes in processes of their own under
// kill -9 (at least 200 messages), a faulty proxy between the access points, the database unavailable, the
// receiver's disk full and the hostile-input corpus; prints accepted, delivered, lost, duplicated and unhandled
// errors for each fault, and fails unless nothing was lost or duplicated and no process crashed. `npm test` runs a
// short version of the same file.
// Usage: npm run test:faults [-- --seed N]   (or EHMI_FAULTS_SEED=N); the records stay in EHMI_FAULTS_DIR (default:
// a folder under the temp folder, printed).
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const at = args.indexOf('--seed');
const seed = at >= 0 ? args[at + 1] : (process.env.EHMI_FAULTS_SEED ?? String(randomInt(2 ** 32)));
if (!/^\d+$/.test(seed ?? '')) {
  console.error('usage: npm run test:faults [-- --seed <non-negative integer>]');
  process.exit(2);
}
const dir = process.env.EHMI_FAULTS_DIR ?? join(tmpdir(), `ehmi-faults-${Date.now()}-${seed}`);
console.log(`fault suite: seed ${seed} (replay: npm run test:faults -- --seed ${seed}), records in ${dir}`);
const result = spawnSync(
  process.execPath,
  [join(root, 'scripts', 'test.mjs'), 'packages/server/test/faults/'],
  {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, EHMI_FAULTS: 'full', EHMI_FAULTS_SEED: seed, EHMI_FAULTS_DIR: dir },
  },
);
console.log(`fault suite: seed ${seed}, records in ${dir}`);
process.exit(result.status ?? 1);
