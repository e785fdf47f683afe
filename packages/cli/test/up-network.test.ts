// `ehmi up` as a real process (what `npm start` runs) with a temp --data and a free --port-base, and the network
// commands against it: the local network's acceptance check.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EDS_STEPS } from '@ehmi/sbdh';
import pg from 'pg';
import { engines, eventually, freePortBase } from '../../server/test/e2e/helpers.ts';
import { runEhmi } from './helpers.ts';

const BIN = fileURLToPath(new URL('../bin/ehmi.js', import.meta.url));

async function ehmi(...argv: string[]) {
  const r = await runEhmi(argv);
  const lines = r.stdout.trimEnd().split('\n');
  return { code: r.code, out: r.stdout, err: r.stderr, last: lines[lines.length - 1]! };
}

interface Up {
  child: ChildProcess;
  out: () => string;
  /** What it logged on stderr (EHMI_LOG_LEVEL=warn: its warnings and errors). */
  err: () => string;
  ready: Promise<void>;
  exited: Promise<number | null>;
}

function up(data: string, portBase: number, env: NodeJS.ProcessEnv): Up {
  const child = spawn(process.execPath, [BIN, 'up', '--data', data, '--port-base', String(portBase)], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (c: string) => {
    err += c;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c: string) => {
      out += c;
      if (/^ready/m.test(out)) resolve();
    });
    void exited.then((code) => reject(new Error(`ehmi up exited ${code} before ready:\n${out}\n${err}`)));
  });
  return { child, out: () => out, err: () => err, ready, exited };
}

/** `waiting`, failing with what `ehmi up` logged on stderr: the reason a wait on the running network ran out. */
async function withLog<T>(node: Up, waiting: Promise<T>): Promise<T> {
  try {
    return await waiting;
  } catch (err) {
    const log = node.err().trimEnd();
    if (err instanceof Error && log)
      err.message += `\nehmi up logged (last 4000 characters):\n${log.slice(-4000)}`;
    throw err;
  }
}

for (const engine of engines()) {
  describe(`ehmi up (local network) on ${engine.name}`, { skip: engine.skip }, () => {
    const cleanup: (() => Promise<void>)[] = [];
    after(async () => {
      for (const c of cleanup.reverse()) await c();
    });

    it('prints the services and ready, writes network.json; send → track receipted → inbox; three submissions of one message are one inbox item; Ctrl-C stops; a restart keeps the inbox', {
      timeout: 300_000,
    }, async () => {
      const data = await mkdtemp(join(tmpdir(), 'ehmi-up-net-'));
      const schema = `up_${randomBytes(4).toString('hex')}`;
      cleanup.push(async () => {
        await rm(data, { recursive: true, force: true });
        if (engine.databaseUrl) {
          const c = new pg.Client({ connectionString: engine.databaseUrl });
          await c.connect();
          for (const org of ['municipality', 'gp', 'hospital', 'central', 'archive'])
            await c.query(`DROP SCHEMA IF EXISTS "${schema}_${org}" CASCADE`);
          await c.end();
        }
      });
      const { DATABASE_URL: _omit, ...rest } = process.env;
      const env: NodeJS.ProcessEnv = {
        ...rest,
        EHMI_LOG_LEVEL: 'warn',
        ...(engine.databaseUrl ? { DATABASE_URL: engine.databaseUrl, EHMI_DATABASE_SCHEMA: schema } : {}),
      };
      const base = await freePortBase();
      let node = up(data, base, env);
      cleanup.push(async () => {
        if (node.child.exitCode === null && node.child.signalCode === null) node.child.kill('SIGKILL');
      });
      await node.ready;

      // One line per service with its URL and an example command, then `ready`.
      const lines = node.out().trimEnd().split('\n');
      const readyAt = lines.findIndex((l) => l.startsWith('ready'));
      const services = lines.slice(0, readyAt);
      assert.equal(services.length, 19, services.join('\n'));
      for (const l of services.slice(0, 9))
        assert.match(l, /^(municipality|gp|hospital) +(msh|ap|node) +https?:\/\/127\.0\.0\.1:\d+ +try: /);
      // The central services: the registers, EDS, the DNS server of the SML/BDXL zone, the central node's own server
      // (its audit log), the root CA's CRL, the document archive, the console (how to sign in) and the authorization
      // server.
      for (const l of services.slice(9))
        assert.match(
          l,
          /^(smp|eer|eas|eds|dns|node|crl|archive|console|auth) +(https?|dns):\/\/127\.0\.0\.1:\d+\S* +try: /,
        );
      assert.ok(
        services.some((l) =>
          /^console +https:\/\/\S+ +try: open \S+ and sign in as operator, the password is in \S+console-operator\.password/.test(
            l,
          ),
        ),
        services.join('\n'),
      );
      assert.match(
        services.at(-1)!,
        new RegExp(
          `^auth +https://127\\.0\\.0\\.1:${base} +try: curl --cacert \\S+ https://127\\.0\\.0\\.1:${base}/\\.well-known/oauth-authorization-server$`,
        ),
      );
      assert.match(
        services[0]!,
        new RegExp(
          `^municipality  msh   https://127\\.0\\.0\\.1:${base + 10} +try: npx ehmi send homecareobservation --from municipality --to gp --data `,
        ),
      );

      // network.json
      const manifest = JSON.parse(readFileSync(join(data, 'network.json'), 'utf8'));
      assert.deepEqual(Object.keys(manifest).sort(), [
        'maintainer',
        'operator',
        'organisations',
        'services',
        'trustAnchor',
      ]);
      assert.deepEqual(Object.keys(manifest.services).sort(), [
        'archive',
        'auth',
        'console',
        'crl',
        'dns',
        'eas',
        'eds',
        'eer',
        'node',
        'smp',
      ]);
      for (const name of ['operator', 'maintainer']) {
        const c = manifest[name];
        assert.deepEqual(Object.keys(c).sort(), ['clientId', 'name', 'scope', 'tls']);
        assert.ok(existsSync(c.tls.cert) && existsSync(c.tls.key), name);
      }
      assert.ok(existsSync(manifest.trustAnchor) && manifest.trustAnchor.startsWith(data));
      assert.deepEqual(
        manifest.organisations.map((o: { name: string; role: string }) => [o.name, o.role]),
        [
          ['municipality', 'municipality'],
          ['gp', 'gp'],
          ['hospital', 'hospital'],
        ],
      );
      for (const o of manifest.organisations) {
        assert.deepEqual(Object.keys(o).sort(), [
          'ap',
          'certificates',
          'clientId',
          'gln',
          'msh',
          'name',
          'node',
          'role',
          'scope',
          'sor',
          'title',
          'tls',
          ...(o.role === 'gp' ? ['ydernummer'] : []),
        ]);
        assert.match(o.gln, /^\d{13}$/);
        assert.ok(existsSync(o.tls.cert) && existsSync(o.tls.key));
        assert.ok(node.out().includes(o.msh) && node.out().includes(o.ap));
        const ports = [o.msh, o.ap].map((u: string) => Number(new URL(u).port));
        for (const p of ports) assert.ok(p >= base + 10 && p < base + 50);
      }

      // send → track receipted → inbox lists it
      const saved = join(data, 'sent.json');
      const sent = await ehmi(
        'send',
        'homecareobservation',
        '--from',
        'municipality',
        '--to',
        'gp',
        '--data',
        data,
        '--save',
        saved,
      );
      assert.equal(sent.code, 0, sent.err);
      const id = sent.last;
      assert.match(id, /^[0-9a-f-]{36}$/);
      await withLog(
        node,
        eventually('ehmi track shows receipted', async () => {
          const t = await ehmi('track', id, '--json', '--data', data);
          assert.equal(t.code, 0, t.err);
          const j = JSON.parse(t.out);
          return j.status === 'receipted' ? j : undefined;
        }),
      );
      const human = await ehmi('track', id, '--data', data);
      assert.match(human.out, /^receipted/);
      // Each step from EDS with its meaning, its station and its outcome.
      assert.match(
        human.out,
        /^ {2}\S+Z {2}01\.1 +sender's EUA created and sent the message +municipality\/EUA +success$/m,
      );
      assert.match(
        human.out,
        /^ {2}\S+Z {2}03\.2 +sender's AP sent the message over AS4 +municipality\/AP +success$/m,
      );
      const messageHeaderId = JSON.parse(readFileSync(saved, 'utf8')).entry[0].resource.id;
      const listed = async () => {
        const r = await ehmi('inbox', 'gp', '--json', '--data', data);
        assert.equal(r.code, 0, r.err);
        return (JSON.parse(r.out) as { messageHeaderId: string; id: string }[]).filter(
          (i) => i.messageHeaderId === messageHeaderId,
        );
      };
      assert.equal((await listed()).length, 1);

      // The same message twice more, from the saved file: the same tracking id, still one inbox item.
      for (let i = 0; i < 2; i++) {
        const again = await ehmi(
          'send',
          'homecareobservation',
          '--from',
          'municipality',
          '--file',
          saved,
          '--data',
          data,
        );
        assert.equal(again.code, 0, again.err);
        assert.equal(again.last, id);
      }
      const items = await listed();
      assert.equal(items.length, 1);

      // ehmi metrics: the operator reads a server's /metrics (its node server's queue depths, the gp's MSH by name);
      // the SMP, plain HTTP, is no resource of the authorization server.
      const nodeUrl = /^municipality +node +(https:\/\/\S+) /m.exec(node.out())?.[1];
      assert.ok(nodeUrl, node.out());
      const queues = await ehmi('metrics', nodeUrl, '--data', data);
      assert.equal(queues.code, 0, queues.err);
      assert.match(queues.out, /^# TYPE ehmi_queue_jobs gauge$/m);
      const gpMsh = await ehmi('metrics', 'gp', '--data', data);
      assert.equal(gpMsh.code, 0, gpMsh.err);
      assert.match(gpMsh.out, /ehmi_http_requests_total\{[^}]*service="msh"/);
      const smp = await ehmi('metrics', 'smp', '--data', data);
      assert.notEqual(smp.code, 0);
      assert.match(smp.err, /invalid_target/);

      // ehmi audit: the operator searches a node's audit log; the gp's inbox reads are there, about the patient.
      const audited = await ehmi('audit', 'gp', '--json', '--data', data);
      assert.equal(audited.code, 0, audited.err);
      const bundle = JSON.parse(audited.out) as {
        resourceType: string;
        entry?: { resource: { agent: unknown } }[];
      };
      assert.equal(bundle.resourceType, 'Bundle');
      assert.ok(
        (bundle.entry ?? []).some((e) => JSON.stringify(e.resource.agent).includes('gp-eua')),
        audited.out,
      );
      const auditLines = await ehmi('audit', 'gp', '--count', '5', '--data', data);
      assert.equal(auditLines.code, 0, auditLines.err);
      assert.match(auditLines.out, /^\S+ +(success|failure) +(msh|node) +(GET|POST) /m);

      // ack → acknowledged
      const ack = await ehmi('ack', 'gp', items[0]!.id, '--data', data);
      assert.equal(ack.code, 0, ack.err);
      // The whole journey in EDS: every step the table names for our stations (the EUA's through its MSH), from both
      // organisations, the message's, its receipt's, the acknowledgement's and its receipt's; nothing missing.
      const ourSteps = EDS_STEPS.filter((s) => !(s.station === 'EUA' && s.code.endsWith('.2'))).map(
        (s) => s.code,
      );
      const journey = await withLog(
        node,
        eventually('ehmi track shows the whole journey, acknowledged', async () => {
          const j = JSON.parse((await ehmi('track', id, '--json', '--data', data)).out);
          const codes = new Set(j.events.map((e: { code: string }) => e.code));
          return j.status === 'acknowledged' && ourSteps.every((c) => codes.has(c)) ? j : undefined;
        }),
      );
      assert.deepEqual(journey.missing, []);
      assert.deepEqual(journey.pending, []);
      assert.ok(journey.events.every((e: { outcome: string }) => e.outcome === 'success'));
      assert.equal(journey.events.find((e: { code: string }) => e.code === '11.1').station, 'gp/EUA');

      // Ctrl-C stops it cleanly; the commands then say it is not running.
      node.child.kill('SIGINT');
      assert.equal(await node.exited, 0);
      assert.match(node.out(), /stopped/);
      const down = await ehmi('inbox', 'gp', '--data', data);
      assert.equal(down.code, 4);
      assert.match(down.err, /not running/);

      // A restart keeps the keys and the inbox.
      const rootBefore = readFileSync(manifest.trustAnchor, 'utf8');
      node = up(data, base, env);
      await node.ready;
      assert.equal(readFileSync(manifest.trustAnchor, 'utf8'), rootBefore);
      assert.equal((await listed()).length, 1);
      node.child.kill('SIGINT');
      assert.equal(await node.exited, 0);
    });
  });
}
