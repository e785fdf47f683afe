import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { VERSION } from '../src/main.ts';
import { runEhmi } from './helpers.ts';

const BIN = fileURLToPath(new URL('../bin/ehmi.js', import.meta.url));

async function run(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const r = await runEhmi(argv, { env });
  return { code: r.code, out: r.stdout, err: r.stderr };
}

describe('ehmi CLI', () => {
  it('--help lists the commands and exits 0', async () => {
    const r = await run(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.out, /Usage: ehmi/);
    assert.match(r.out, /\bup\b/);
  });

  it('--version prints the package version and exits 0', async () => {
    const r = await run(['--version']);
    assert.equal(r.code, 0);
    assert.equal(r.out.trim(), VERSION);
  });

  it('an unknown option gives one line on stderr and exit 2', async () => {
    const r = await run(['--no-such-flag']);
    assert.equal(r.code, 2);
    assert.equal(r.err.trim().split('\n').length, 1);
    assert.match(r.err, /^ehmi: unknown option '--no-such-flag'/);
  });

  it('an unknown command gives one line and exit 2', async () => {
    const r = await run(['frobnicate']);
    assert.equal(r.code, 2);
    assert.match(r.err, /^ehmi: unknown command 'frobnicate'/);
  });

  it('a bad configuration stops `ehmi up` with the key named and exit 3', async () => {
    const r = await run(['up'], { EHMI_HTTP_PORT: 'x' });
    assert.equal(r.code, 3);
    assert.match(r.err, /^ehmi: EHMI_HTTP_PORT="x": expected a number/);
  });

  it('a bad --port is a usage error (exit 2)', async () => {
    const r = await run(['up', '--port', 'abc']);
    assert.equal(r.code, 2);
    assert.match(r.err, /--port expects/);
  });

  it('the installed bin exits 2 on a bad flag, as a real process', () => {
    const r = spawnSync(process.execPath, [BIN, '--no-such-flag'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });

  it('`ehmi up` prints the URL, answers /health with 200, and stops cleanly on SIGINT', {
    timeout: 60_000,
  }, async () => {
    const data = await mkdtemp(join(tmpdir(), 'ehmi-up-'));
    const { DATABASE_URL: _ignored, ...rest } = process.env;
    const env = { ...rest, EHMI_LOG_LEVEL: 'warn' };
    const child = spawn(process.execPath, [BIN, 'up', '--data', data, '--port', '0'], { env });
    let out = '';
    child.stdout.setEncoding('utf8');
    const ready = new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (c: string) => {
        out += c;
        if (/^ready/m.test(out)) resolve();
      });
      child.on('exit', (code) => reject(new Error(`exited ${code} before ready: ${out}`)));
    });
    await ready;
    const url = /https?:\/\/\S+/.exec(out)?.[0];
    assert.ok(url, `a URL in: ${out}`);
    const health = await fetch(`${url}/health`);
    assert.equal(health.status, 200);
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    child.kill('SIGINT');
    assert.equal(await exited, 0);
    assert.match(out, /stopped/);
  });
});
