// The station's `eds.report` worker against the real EDS role over HTTPS: the due reports go as one FHIR batch
// Bundle and each job ends by its own entry's answer; one due report goes alone as before; EDS down then up loses
// nothing and stores one copy of each.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createCertificateAuthority, issueCertificate } from '@ehmi/pki';
import { parse } from '@ehmi/sbdh';
import pino from 'pino';
import { Agent } from 'undici';
import { createDeliveryStatus, type DeliveryStatusService } from '../../src/delivery-status/index.ts';
import { REPORT_MAX_ATTEMPTS } from '../../src/delivery-status/reporter.ts';
import { QUEUES } from '../../src/path.ts';
import { loadConfig } from '../../src/role-list.ts';
import { JobQueue } from '../../src/store/index.ts';
import { call, edsSamples, type Json, type RunningEds, startEds, withMessage } from '../eds/helpers.ts';
import { engines, type TestStore } from '../helpers/engines.ts';
import { FIXTURES } from '../helpers/fixtures.ts';

const ORG = { name: 'municipality', gln: '5790000121526', sor: '1144561000016002' };
// The MedCom example prøvesvar envelope (fixtures/SOURCES-ehmi-core.md): its sender is ORG's GLN.
const ENVELOPE = parse(readFileSync(join(FIXTURES, 'ehmi-sbdh/examples/ehmiSBDH_9a6ff822_HCO_full.xml')));
const logger = pino({ level: 'silent' });

for (const engine of engines()) {
  describe(`EDS reports in batches (${engine.name})`, { skip: engine.skip }, () => {
    let station: TestStore;
    let edsStore: TestStore;
    let eds: RunningEds | undefined;
    let tls: { key: string; cert: string; ca: string[] };
    let port = 0;
    let reader: Agent;
    /** The POSTs EDS has seen, by path. */
    const posts = { batch: 0, single: 0 };
    const services: DeliveryStatusService[] = [];

    const startEdsHere = async () => {
      eds = await startEds(edsStore, { port }, tls, {}, (role) => {
        role.app.addHook('onRequest', async (request) => {
          if (request.method !== 'POST') return;
          if (request.url === '/' || request.url.startsWith('/?')) posts.batch++;
          else posts.single++;
        });
      });
      port = Number(new URL(eds.url).port);
    };

    before(async () => {
      station = await engine.open();
      edsStore = await engine.open();
      const root = await createCertificateAuthority({ subject: 'CN=EDS batch test root' });
      const server = await issueCertificate(root, {
        subject: 'CN=eds.test',
        purposes: ['tls-server', 'tls-client'],
        ipAddresses: ['127.0.0.1'],
      });
      tls = { key: server.privateKeyPem, cert: server.certificatePem, ca: [root.certificatePem] };
      reader = new Agent({ connect: { ca: tls.ca } });
      await startEdsHere();
    });
    after(async () => {
      // Each test closes its own; one that failed midway is closed here (a second close only throws).
      for (const s of services) await s.close().catch(() => {});
      await eds?.close();
      await reader?.close();
      await station?.cleanup();
      await edsStore?.cleanup();
    });

    function service(deliveryStatus: Record<string, unknown> = {}) {
      const config = loadConfig({
        env: {},
        overrides: {
          insecure: true,
          organisation: ORG,
          queue: { pollIntervalMs: 20 },
          deliveryStatus: {
            url: eds!.url,
            backoffBaseMs: 20,
            backoffMaxMs: 100,
            batchSize: 50,
            ...deliveryStatus,
          },
        },
      });
      const s = createDeliveryStatus(config, {
        store: station.store,
        logger,
        tls: { ca: tls.ca, client: { key: tls.key, cert: tls.cert } },
      });
      services.push(s);
      return s;
    }

    const queue = () =>
      new JobQueue(station.store, { leaseMs: 30_000, maxAttempts: 5, backoffBaseMs: 20, backoffMaxMs: 100 });

    /** The IG's sample events, each of its own message `prefix-n`, as queued reports; their job ids. */
    async function enqueue(prefix: string, events: Json[]): Promise<string[]> {
      const q = queue();
      const ids: string[] = [];
      for (const [i, event] of events.entries()) {
        ids.push(
          await q.enqueue(station.store.db, {
            queue: QUEUES.edsReport,
            payload: { code: `x.${i}`, event: withMessage(event, `${prefix}-${i}`) },
            maxAttempts: REPORT_MAX_ATTEMPTS,
          }),
        );
      }
      return ids;
    }

    const stored = async (prefix: string) => {
      const answer = await call(
        `${eds!.url}/AuditEvent?message-id=${prefix}-&_summary=count`,
        'GET',
        undefined,
        {},
        reader,
      );
      assert.equal(answer.status, 200, answer.text);
      return answer.body.total as number;
    };
    const statuses = async (ids: string[]) => {
      const q = queue();
      return Promise.all(ids.map(async (id) => (await q.get(id))?.status));
    };

    it('the due reports go as one batch Bundle; a 422 entry dead-letters only its job', async () => {
      const samples = edsSamples().map((s) => s.event);
      const { subtype: _subtype, ...invalid } = samples[3]!;
      const events = [...samples.slice(0, 10), invalid];
      const ids = await enqueue('BQ', events);
      const before = { ...posts };
      const s = service();
      s.start();
      await s.idle({ drained: true });
      assert.equal(posts.batch - before.batch, 1, 'one batch Bundle for the eleven due reports');
      assert.equal(posts.single - before.single, 0);
      assert.deepEqual(await statuses(ids), [...Array(10).fill('done'), 'dead']);
      const dead = await queue().get(ids[10]!);
      assert.match(String(dead?.last_error), /EDS answered 422/);
      assert.equal(await stored('BQ'), 10);
      await s.close();
    });

    it('one due report is POSTed alone to [base]/AuditEvent, at once', async () => {
      const s = service();
      s.start();
      await s.idle({ drained: true });
      const before = { ...posts };
      const [id] = await enqueue('BS', [edsSamples()[0]!.event]);
      s.reporter.wake();
      await s.idle({ drained: true });
      assert.deepEqual(posts, { batch: before.batch, single: before.single + 1 });
      assert.deepEqual(await statuses([id!]), ['done']);
      assert.equal(await stored('BS'), 1);
      await s.close();
    });

    it("the reports of one batch window's steps fall due at its end and go in one POST", async () => {
      const windowMs = 400;
      const s = service({ batchWindowMs: windowMs });
      const facts = s.reporter.factsOf(ENVELOPE);
      const steps = [
        { station: 'MSH', side: 'origin', subtype: 'msg-received' },
        { station: 'MSH', side: 'origin', subtype: 'msg-sent' },
        { station: 'AP', side: 'origin', subtype: 'msg-sent' },
      ] as const;
      // Each step in a transaction of its own, as the stations take them.
      for (const step of steps) {
        await station.store.transaction((trx) => s.reporter.report(trx, { ...step, facts, at: Date.now() }));
      }
      const jobs = await station.store.db
        .selectFrom('jobs')
        .select(['id', 'run_at', 'created_at'])
        .where('queue', '=', QUEUES.edsReport)
        .where('status', '=', 'ready')
        .execute();
      assert.equal(jobs.length, steps.length);
      for (const j of jobs) {
        assert.ok(j.run_at > j.created_at && j.run_at <= j.created_at + windowMs, 'due within one window');
      }
      // Three steps taken within milliseconds share a window, unless one fell just past its end: one POST per window.
      const windows = new Set(jobs.map((j) => j.run_at));
      for (const at of windows) assert.ok([...windows].every((b) => (b - at) % windowMs === 0));
      const before = { ...posts };
      s.start();
      await s.idle({ drained: true });
      assert.equal(posts.batch - before.batch + posts.single - before.single, windows.size);
      assert.deepEqual(new Set(await statuses(jobs.map((j) => j.id))), new Set(['done']));
      await s.close();
    });

    it('with EDS down the reports wait and are retried; when it is back every one is stored once', async () => {
      await eds!.close();
      const events = edsSamples().map((s) => s.event);
      const ids = await enqueue('BD', events);
      const s = service();
      s.start();
      // Every report has failed a try and waits out its back-off.
      const waiting = await s.idle();
      assert.notEqual(waiting.next, undefined, 'the reports wait for a retry');
      assert.deepEqual(new Set(await statuses(ids)), new Set(['ready']));
      const before = { ...posts };
      await startEdsHere();
      await s.idle({ drained: true });
      assert.deepEqual(new Set(await statuses(ids)), new Set(['done']));
      assert.equal(await stored('BD'), events.length, 'each event once');
      assert.ok(posts.batch - before.batch >= 1, 'sent in batches');
      assert.ok(posts.batch - before.batch + posts.single - before.single < events.length);
      // The same reports again (a repeat after a crash): EDS answers 200 and stores nothing new.
      const again = await enqueue('BD', events);
      s.reporter.wake();
      await s.idle({ drained: true });
      assert.deepEqual(new Set(await statuses(again)), new Set(['done']));
      assert.equal(await stored('BD'), events.length);
      await s.close();
    });
  });
}
