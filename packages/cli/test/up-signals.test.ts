// Starting and stopping like a service: `npm start` and `ehmi up` as real processes stop cleanly (print `stopped`,
// free every port) on SIGINT or SIGTERM sent to the process that was started — npm included — and on a terminal's
// Ctrl-C; the network stops when npm is killed outright; a start that fails leaves no half-built data folder; the
// hints name the data folder as it was given. Each start is a whole network in processes of its own: the tests share
// one data folder and port base, so that the keys are made once.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePortBase } from '../../server/test/e2e/helpers.ts';
import { BIN, cleanEnv, type Launched, launch, tcpFree, udpFree } from './processes.ts';

const STOP_CHILD = fileURLToPath(new URL('./stop-child.ts', import.meta.url));

/** `npm start -- --data DATA --port-base BASE`, as a user or a service manager would start it. */
function npmStart(data: string, base: number, detached = false): Launched {
  const args = ['start', '--', '--data', data, '--port-base', String(base)];
  // Under `npm test` the npm that runs the tests is the one to use; otherwise the one on PATH.
  const npmCli = process.env.npm_execpath;
  return npmCli && /npm-cli\.js$/.test(npmCli)
    ? launch(process.execPath, [npmCli, ...args], { detached })
    : launch('npm', args, { detached });
}

/** Every port the network listed: network.json's services and organisations, and each URL `ehmi up` printed. */
function networkPorts(data: string, printed: string): { tcp: number[]; udp: number[] } {
  const manifest = JSON.parse(readFileSync(join(data, 'network.json'), 'utf8')) as {
    services: Record<string, string>;
    organisations: { msh: string; ap: string }[];
  };
  const urls = [
    ...Object.values(manifest.services),
    ...manifest.organisations.flatMap((o) => [o.msh, o.ap]),
    ...(printed.match(/\b(?:https?|dns):\/\/127\.0\.0\.1:\d+/g) ?? []),
  ];
  const tcp = [...new Set(urls.map((u) => Number(new URL(u).port)))].sort((a, b) => a - b);
  const udp = [Number(new URL(manifest.services.dns!).port)];
  assert.ok(tcp.length >= 13, `expected the network's ports, got ${tcp.join(', ')}`);
  return { tcp, udp };
}

async function assertPortsFree(ports: { tcp: number[]; udp: number[] }): Promise<void> {
  const busy = [
    ...(await Promise.all(ports.tcp.map(async (p) => ((await tcpFree(p)) ? [] : [`tcp ${p}`])))).flat(),
    ...(await Promise.all(ports.udp.map(async (p) => ((await udpFree(p)) ? [] : [`udp ${p}`])))).flat(),
  ];
  assert.deepEqual(busy, [], `ports still bound: ${busy.join(', ')}`);
}

describe('npm start and ehmi up stop like a service', () => {
  const cleanup: (() => Promise<void>)[] = [];
  const running: Launched[] = [];
  after(async () => {
    for (const r of running) {
      if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    }
    for (const c of cleanup.reverse()) await c();
  });
  const tempDir = async (prefix: string) => {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    return dir;
  };

  // One data folder (an absolute path) and one port base for the npm runs: the keys are made once, at the first.
  let data = '';
  let base = 0;

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal} to the npm process: ehmi up prints stopped, npm exits 0, every port is free; an absolute --data is printed as given`, {
      timeout: 120_000,
    }, async () => {
      data ||= await tempDir('ehmi-up-sig-');
      base ||= await freePortBase();
      const npm = npmStart(data, base);
      running.push(npm);
      await npm.line(/^ready/);
      // The hints name the absolute folder as given, not a path relative to the working folder.
      assert.match(npm.out(), new RegExp(` --data ${data.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
      assert.ok(npm.out().includes(` --cacert ${data}/pki/root-ca.pem `), npm.out());
      assert.ok(npm.out().includes(`, ${data}/network.json (Ctrl-C stops)`), npm.out());
      assert.ok(!npm.out().includes(` ${basename(data)}/`), npm.out());
      const ports = networkPorts(data, npm.out());
      npm.child.kill(signal);
      assert.deepEqual(await npm.exited, { code: 0, signal: null }, npm.err());
      await npm.stdoutClosed;
      assert.match(npm.out(), /^stopped$/m);
      await assertPortsFree(ports);
    });
  }

  it("a terminal's Ctrl-C (SIGINT to npm's whole process group, which npm also passes on) stops it once, cleanly", {
    timeout: 120_000,
  }, async () => {
    data ||= await tempDir('ehmi-up-sig-');
    base ||= await freePortBase();
    const npm = npmStart(data, base, true);
    running.push(npm);
    await npm.line(/^ready/);
    const ports = networkPorts(data, npm.out());
    process.kill(-npm.child.pid!, 'SIGINT');
    assert.deepEqual(await npm.exited, { code: 0, signal: null }, npm.err());
    await npm.stdoutClosed;
    assert.match(npm.out(), /^stopped$/m);
    assert.doesNotMatch(npm.err(), /without closing/);
    await assertPortsFree(ports);
  });

  it('npm killed outright (SIGKILL, nothing passed on): ehmi up notices its parent is gone and stops', {
    timeout: 120_000,
  }, async () => {
    data ||= await tempDir('ehmi-up-sig-');
    base ||= await freePortBase();
    const npm = npmStart(data, base);
    running.push(npm);
    await npm.line(/^ready/);
    const ports = networkPorts(data, npm.out());
    npm.child.kill('SIGKILL');
    await npm.exited;
    // The orphaned ehmi up still holds the pipe: it closes when that process has stopped and exited.
    await npm.stdoutClosed;
    assert.match(npm.out(), /^stopped$/m);
    assert.match(npm.err(), /parent process .* exited: stopping/);
    await assertPortsFree(ports);
  });

  it('ehmi up with a relative --data: SIGTERM stops it; its hints name the folder as given; a second start on the same ports fails with one line and leaves no folder behind', {
    timeout: 180_000,
  }, async () => {
    const parent = await tempDir('ehmi-up-rel-');
    // The npm runs' keys and ports, when they ran (their network is stopped): a start that finds current keys.
    if (data) await cp(join(data, 'pki'), join(parent, 'net', 'pki'), { recursive: true });
    const upBase = base || (await freePortBase());
    const up = launch(process.execPath, [BIN, 'up', '--data', 'net', '--port-base', String(upBase)], {
      cwd: parent,
    });
    running.push(up);
    await up.line(/^ready/);
    const printed = up.out();
    assert.match(printed, / --data net$/m);
    assert.match(printed, / --cacert net\/pki\/root-ca\.pem /);
    assert.match(printed, /^ready .*, net\/network\.json \(Ctrl-C stops\)$/m);
    assert.doesNotMatch(printed, new RegExp(parent.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));

    // The same ports again, into a folder that does not exist yet: refused, the folder (and its parent) not made.
    const fresh = join(parent, 'fresh', 'net');
    const second = launch(process.execPath, [BIN, 'up', '--data', fresh, '--port-base', String(upBase)]);
    const refused = await second.exited;
    // The whole account on failure: its exit, its stderr and its stdout (an empty stderr would say nothing).
    assert.equal(
      refused.code,
      3,
      JSON.stringify({ exit: refused, stderr: second.err(), stdout: second.out() }),
    );
    assert.match(second.err(), /^ehmi: port \d+ is in use \(.*\)\n$/);
    assert.equal(existsSync(join(parent, 'fresh')), false);

    // Into an existing folder: left as it was (no pki/, no organisation folders).
    const existing = await tempDir('ehmi-up-existing-');
    await writeFile(join(existing, 'notes.txt'), 'mine\n');
    const third = launch(process.execPath, [BIN, 'up', '--data', existing, '--port-base', String(upBase)]);
    assert.equal((await third.exited).code, 3, third.err());
    assert.deepEqual(readdirSync(existing), ['notes.txt']);

    const ports = networkPorts(join(parent, 'net'), printed);
    up.child.kill('SIGTERM');
    assert.deepEqual(await up.exited, { code: 0, signal: null }, up.err());
    assert.match(up.out(), /^stopped$/m);
    await assertPortsFree(ports);
  });
});

describe('watchStop', () => {
  const child = (settings: { listen: boolean; graceMs?: number }) =>
    launch(process.execPath, ['--import', 'tsx', STOP_CHILD], {
      env: { ...cleanEnv(), EHMI_TEST_STOP: JSON.stringify(settings) },
    });

  it('a second signal while stopping exits at once (128 + the signal number) and says so', async () => {
    const c = child({ listen: true, graceMs: 0 });
    await c.line(/^armed$/);
    c.child.kill('SIGTERM');
    await c.line(/^stopping SIGTERM$/);
    c.child.kill('SIGINT');
    assert.equal((await c.exited).code, 130);
    assert.match(c.err(), /SIGINT again while stopping: exiting without closing/);
  });

  it('a command that does not listen ends on the first signal as without a handler', async () => {
    const c = child({ listen: false });
    await c.line(/^armed$/);
    c.child.kill('SIGHUP');
    assert.equal((await c.exited).code, 129);
    assert.equal(c.out(), 'armed\n');
  });
});
