// `ehmi up --network FILE --processes`: four organisations (two municipalities), the archive and the central node, each in a
// process of its own, come up from a network description and exchange a message; SIGTERM to the parent stops every
// child and frees every port; a child that ends before it is ready stops the start with a message naming it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { eventually, freePortBase } from '../../server/test/e2e/helpers.ts';
import { runEhmi } from './helpers.ts';
import { BIN, cleanEnv, type Launched, launch, ROOT, tcpFree } from './processes.ts';

const NETWORK = join(ROOT, 'examples/networks/two-municipalities.json');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('ehmi up --network FILE --processes', () => {
  const running: Launched[] = [];
  let data = '';
  let base = 0;
  after(async () => {
    for (const r of running) {
      if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    }
    if (data) await rm(data, { recursive: true, force: true });
  });

  it("four organisations and the archive in six processes: randers sends the GP a prøvesvar, it is in the GP's inbox; SIGTERM stops them all", {
    timeout: 600_000,
  }, async () => {
    data = await mkdtemp(join(tmpdir(), 'ehmi-up-processes-'));
    base = await freePortBase();
    const up = launch(process.execPath, [
      BIN,
      'up',
      '--network',
      NETWORK,
      '--processes',
      '--data',
      data,
      '--port-base',
      String(base),
    ]);
    running.push(up);
    const ready = await up.line(/^ready in/);
    assert.match(
      ready,
      /: 4 organisations \(municipality, randers, gp, hospital\), store sqlite, in 6 processes/,
    );
    const pids = Object.fromEntries(
      [...ready.matchAll(/(central|municipality|randers|gp|hospital|archive) (\d+)/g)].map((m) => [
        m[1]!,
        Number(m[2]),
      ]),
    );
    assert.deepEqual(Object.keys(pids).sort(), [
      'archive',
      'central',
      'gp',
      'hospital',
      'municipality',
      'randers',
    ]);
    for (const pid of Object.values(pids)) {
      assert.ok(alive(pid), `pid ${pid} runs`);
      assert.notEqual(pid, up.child.pid);
    }
    // Each process starts with its role's V8 flags (the central node's own young generation) and the node's
    // environment (Linux shows both in /proc).
    if (process.platform === 'linux') {
      const { CENTRAL_NODE_V8_FLAGS, NODE_ENVIRONMENT, NODE_V8_FLAGS } = await import('@ehmi/server');
      for (const [name, pid] of Object.entries(pids)) {
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        const flags = name === 'central' ? CENTRAL_NODE_V8_FLAGS : NODE_V8_FLAGS;
        assert.deepEqual(argv.slice(1, 1 + flags.length), [...flags], `${name}: ${argv.join(' ')}`);
        const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
        for (const [k, v] of Object.entries(NODE_ENVIRONMENT))
          assert.ok(environ.includes(`${k}=${v}`), `${name} has ${k}=${v}`);
      }
    }
    // network.json names the organisations of the file, with their titles; the organisations' nodes listen.
    const manifest = JSON.parse(readFileSync(join(data, 'network.json'), 'utf8')) as {
      services: Record<string, string>;
      organisations: { name: string; title: string; msh: string; ap: string; node: string }[];
    };
    assert.deepEqual(
      manifest.organisations.map((o) => [o.name, o.title]),
      [
        ['municipality', 'Pleje og Rehabilitering'],
        ['randers', 'Hjemmeplejen Randers'],
        ['gp', 'Skødstrup Lægepraksis'],
        ['hospital', 'Hospital'],
      ],
    );

    const sent = await runEhmi([
      'send',
      'homecareobservation',
      '--from',
      'randers',
      '--to',
      'gp',
      '--data',
      data,
    ]);
    assert.equal(sent.code, 0, sent.stderr);
    assert.match(sent.stdout, /accepted by randers's MSH for gp/);
    const item = await eventually(
      "the prøvesvar in the gp's inbox",
      async () => {
        const r = await runEhmi(['inbox', 'gp', '--json', '--data', data]);
        assert.equal(r.code, 0, r.stderr);
        const items = JSON.parse(r.stdout) as { type: string; sender: string }[];
        return items.find((i) => i.sender.includes('0088:5790000124107'));
      },
      120_000,
    );
    assert.match(item.type, /homecareobservation/);

    // SIGTERM to the parent: it stops the organisations, then the central node, and exits 0.
    const ports = [
      ...Object.values(manifest.services),
      ...manifest.organisations.flatMap((o) => [o.msh, o.ap, o.node]),
    ]
      .filter((u) => u.startsWith('http'))
      .map((u) => Number(new URL(u).port));
    up.child.kill('SIGTERM');
    const exit = await up.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, up.err());
    assert.match(up.out(), /^stopped$/m);
    for (const name of Object.keys(pids)) assert.match(up.out(), new RegExp(`^\\[${name}\\] stopped$`, 'm'));
    for (const pid of Object.values(pids)) assert.equal(alive(pid), false, `pid ${pid} ended`);
    const busy = (await Promise.all(ports.map(async (p) => ((await tcpFree(p)) ? [] : [p])))).flat();
    assert.deepEqual(busy, []);
  });

  it('a child that ends before it is ready stops the start, naming it; the data folder keeps what it had', {
    timeout: 300_000,
  }, async () => {
    assert.ok(data, 'the data folder of the network above');
    const before = (await readdir(data)).sort();
    // The same ports as above (another port base would issue every certificate again: their CRL URL names it), the
    // authorization server's (base+0) taken: the central node cannot start.
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen({ host: '127.0.0.1', port: base }, resolve));
    try {
      const up = launch(
        process.execPath,
        [BIN, 'up', '--network', NETWORK, '--processes', '--data', data, '--port-base', String(base)],
        { env: cleanEnv() },
      );
      running.push(up);
      const exit = await up.exited;
      assert.notEqual(exit.code, 0);
      assert.match(up.err(), /^\[central\] ehmi: .*port \d+ is in use/m);
      assert.match(up.err(), /^ehmi: central exited with code \d+ before it was ready/m);
      assert.doesNotMatch(up.out() + up.err(), /^\[(municipality|randers|gp|hospital)\]/m);
      assert.deepEqual((await readdir(data)).sort(), before);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });
});
