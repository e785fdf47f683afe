// The libraries as others install them: `npm pack` @ehmi/as4 and the workspace packages it depends on (each
// tarball built by its prepack: dist/ only, no TypeScript sources), install the tarballs into an empty folder, and
// verify a real signed AS4 receipt there with plain `node` (no tsx, no `ehmi-source` condition): check-receipt.mjs.
// The install is offline: `npm install --offline` when the npm cache holds the third-party dependencies; else the
// tarballs are unpacked into node_modules by hand and each declared third-party dependency is linked to the
// repository's own copy (what npm would have fetched, already installed here).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RECEIPT = join(ROOT, 'fixtures', 'as4', 'phase4-receipt-helger-POP000306.as4in');
const PACKAGES = ['@ehmi/errors', '@ehmi/xml', '@ehmi/xmldsig', '@ehmi/pki', '@ehmi/as4'];
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** The environment without the test run's npm variables and without NODE_OPTIONS (it carries `ehmi-source`). */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if ((!k.startsWith('npm_') || k === 'npm_config_cache') && k !== 'NODE_OPTIONS') env[k] = v;
  return env;
}

function run(command: string, args: string[], cwd: string) {
  const r = spawnSync(command, args, { cwd, env: cleanEnv(), encoding: 'utf8', timeout: 90_000 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error };
}

interface Packed {
  name: string;
  filename: string;
  files: { path: string }[];
}

/** Unpacks each tarball into node_modules and links its declared third-party dependencies to the repository's. */
function installByHand(app: string, packed: Packed[]): string | undefined {
  for (const p of packed) {
    const dir = join(app, 'node_modules', p.name);
    mkdirSync(dir, { recursive: true });
    const r = run('tar', ['-xzf', join(app, '..', p.filename), '-C', dir, '--strip-components=1'], app);
    if (r.status !== 0) return `tar failed: ${r.stderr}`;
  }
  for (const p of packed) {
    const manifest = JSON.parse(readFileSync(join(app, 'node_modules', p.name, 'package.json'), 'utf8'));
    for (const dep of Object.keys(manifest.dependencies ?? {})) {
      const target = join(app, 'node_modules', dep);
      if (existsSync(target)) continue;
      const source = join(ROOT, 'node_modules', dep);
      if (!existsSync(source)) return `${dep} (a dependency of ${p.name}) is not installed in the repository`;
      mkdirSync(dirname(target), { recursive: true });
      symlinkSync(source, target, 'dir');
    }
  }
  return undefined;
}

test('@ehmi/as4 packed and installed from its tarball verifies a signed receipt under plain node', {
  timeout: 180_000,
}, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ehmi-pack-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  const pack = run(
    NPM,
    ['pack', '--json', '--pack-destination', dir, ...PACKAGES.flatMap((p) => ['-w', p])],
    ROOT,
  );
  assert.equal(pack.status, 0, `npm pack failed: ${pack.error ?? ''}${pack.stderr}`);
  const packed = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as Packed[];
  assert.deepEqual(packed.map((p) => p.name).sort(), [...PACKAGES].sort());
  for (const p of packed) {
    const paths = p.files.map((f) => f.path);
    assert.ok(paths.includes('dist/index.js') && paths.includes('dist/index.d.ts'), `${p.name}: ${paths}`);
    assert.ok(paths.includes('README.md'), `${p.name} ships no README.md`);
    const stray = paths.filter((f) => !f.startsWith('dist/') && f !== 'package.json' && f !== 'README.md');
    assert.deepEqual(stray, [], `${p.name} ships more than dist/, package.json and README.md`);
    assert.ok(!paths.some((f) => f.endsWith('.tsbuildinfo')), `${p.name} ships its .tsbuildinfo`);
  }

  const app = join(dir, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  const install = run(
    NPM,
    [
      'install',
      '--offline',
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
      ...packed.map((p) => join(dir, p.filename)),
    ],
    app,
  );
  if (install.status !== 0) {
    t.diagnostic('npm install --offline failed (npm cache incomplete): installing the tarballs by hand');
    rmSync(join(app, 'node_modules'), { recursive: true, force: true });
    const why = installByHand(app, packed);
    if (why) {
      t.skip(`cannot install the third-party dependencies offline: ${why}`);
      return;
    }
  }

  copyFileSync(join(ROOT, 'test', 'packaging', 'check-receipt.mjs'), join(app, 'check-receipt.mjs'));
  const check = run(process.execPath, ['check-receipt.mjs', RECEIPT], app);
  assert.equal(check.status, 0, `check-receipt.mjs failed:\n${check.stdout}${check.stderr}`);
  const result = JSON.parse(check.stdout) as {
    resolved: string;
    valid: boolean;
    kind: string;
    signer: string;
  };
  assert.match(result.resolved, /\/node_modules\/@ehmi\/as4\/dist\/index\.js$/);
  assert.equal(result.valid, true);
  assert.equal(result.kind, 'Receipt');
  assert.match(result.signer, /CN=POP000306/);
});
