// The console's own readings of the nodes' counters (console/sampler.ts, console/readings.ts): taken with no page
// open, stored on both engines, read back as the health page's series; the retention, a node that is down.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createTcpServer, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { consoleConfigSchema } from '../../src/console/config.ts';
import { createConsoleRole } from '../../src/console/index.ts';
import { ConsoleReadings, seriesOf } from '../../src/console/readings.ts';
import { MetricsSampler, type SampleRound } from '../../src/console/sampler.ts';
import type { ConsoleStore } from '../../src/console/tables.ts';
import { engines, type TestStore } from '../helpers/engines.ts';

const logger = pino({ level: 'silent' });
const MINUTE = 60_000;

/** A node's server: `/metrics` in the Prometheus text format, its request counter going up 30 at each read. */
async function metricsServer(): Promise<{ server: Server; url: string; reads: () => number }> {
  let reads = 0;
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    reads++;
    res
      .writeHead(200, { 'content-type': 'text/plain; version=0.0.4' })
      .end(
        [
          '# TYPE ehmi_http_requests_total counter',
          `ehmi_http_requests_total{method="GET",route="/inbox",status="200",service="msh"} ${reads * 30}`,
          `ehmi_http_requests_total{method="POST",route="/messages",status="503",service="msh"} ${reads * 3}`,
          `ehmi_msh_receipt_seconds_sum ${reads * 2}`,
          `ehmi_msh_receipt_seconds_count ${reads * 20}`,
        ].join('\n'),
      );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, reads: () => reads };
}

/** A port nothing listens on: a node that is down. */
async function closedPort(): Promise<string> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return `http://127.0.0.1:${port}`;
}

for (const engine of engines()) {
  describe(`the console's readings of the nodes' counters (${engine.name})`, { skip: engine.skip }, () => {
    let test: TestStore;
    let gp: Awaited<ReturnType<typeof metricsServer>>;
    let services: Record<string, string>;
    let readings: ConsoleReadings;
    let clock: number;
    const T0 = Date.UTC(2026, 11, 7, 10);

    const sampler = (intervalMs = 15_000) =>
      new MetricsSampler({
        readings,
        nodes: () => [
          { key: 'gp', services: ['msh:gp', 'node:gp'] },
          { key: 'hospital', services: ['msh:hospital'] },
        ],
        read: async (service, signal) => {
          const res = await fetch(`${services[service]}/metrics`, { signal });
          if (!res.ok) throw new Error(`${service}: status ${res.status}`);
          return res.text();
        },
        intervalMs,
        retentionMs: 60 * MINUTE,
        logger,
        now: () => clock,
      });

    before(async () => {
      test = await engine.open();
      readings = new ConsoleReadings(test.store as unknown as ConsoleStore);
      gp = await metricsServer();
      const down = await closedPort();
      services = { 'msh:gp': gp.url, 'node:gp': gp.url, 'msh:hospital': down };
    });
    after(async () => {
      gp?.server.close();
      await test?.cleanup();
    });

    it('readings taken with no page open come back as series; a node that is down is a gap, and no failure', async () => {
      const s = sampler();
      const rounds: SampleRound[] = [];
      for (const minutes of [0, 1, 2]) {
        clock = T0 + minutes * MINUTE;
        rounds.push(await s.sample());
      }
      assert.deepEqual(
        rounds.map((r) => r.nodes.map((n) => [n.key, n.ok])),
        Array(3).fill([
          ['gp', true],
          ['hospital', false],
        ]),
      );
      assert.match(rounds[0]!.nodes[1]!.reason!, /fetch failed|ECONNREFUSED/);
      assert.equal(gp.reads(), 6, 'each round read both of the gp node’s servers');

      const stored = await readings.since(['gp', 'hospital'], T0 - 60 * MINUTE);
      assert.equal(stored.get('gp')?.length, 3);
      assert.deepEqual(
        stored.get('hospital')?.map((r) => r.counters),
        [null, null, null],
        'the down node’s readings are kept, as gaps',
      );
      // The gp node's two servers share one counter here: round k reads it for the (2k-1)th and (2k)th time, each
      // read answering 33 requests (3 of them 503) and 20 receipts taking 2 s in all, per read so far.
      const at1 = stored.get('gp')![1]!.counters!;
      assert.deepEqual(at1, { requests: 33 * 7, failures: 3 * 7, receiptSum: 2 * 7, receiptCount: 20 * 7 });

      const series = seriesOf(stored, ['gp', 'hospital']);
      assert.deepEqual(series.times, [(T0 + MINUTE) / 1000, (T0 + 2 * MINUTE) / 1000]);
      assert.deepEqual(series.nodes[0]?.requests, [33 * 4, 33 * 4]);
      assert.deepEqual(series.nodes[0]?.failures, [3 * 4, 3 * 4]);
      assert.deepEqual(series.nodes[0]?.latencyMs, [100, 100]);
      assert.deepEqual(series.nodes[1]?.requests, [null, null]);
    });

    it('a node that comes back: the interval next to its gap stays unknown, then rates again', async () => {
      const server = await metricsServer();
      services['msh:hospital'] = server.url;
      try {
        const s = sampler();
        for (const minutes of [3, 4]) {
          clock = T0 + minutes * MINUTE;
          await s.sample();
        }
      } finally {
        server.server.close();
      }
      const series = seriesOf(await readings.since(['hospital'], T0), ['hospital']);
      assert.deepEqual(series.nodes[0]?.requests, [null, null, null, 33]);
    });

    it('the retention: each round deletes the readings older than an hour', async () => {
      clock = T0 + 61 * MINUTE + 1;
      const round = await sampler().sample();
      // The readings at T0 and T0 + 1 min, of both nodes, are older than an hour.
      assert.equal(round.purged, 4);
      const left = await readings.since(['gp', 'hospital'], 0);
      const kept = [2 * MINUTE, 3 * MINUTE, 4 * MINUTE, 61 * MINUTE + 1];
      assert.deepEqual(
        left.get('gp')?.map((r) => r.at - T0),
        kept,
      );
      assert.deepEqual(
        left.get('hospital')?.map((r) => r.at - T0),
        kept,
      );
    });

    it('on its interval by itself: a sampled event per round, until stopped', async () => {
      clock = T0 + 62 * MINUTE;
      const s = sampler(1_000);
      const first = once(s, 'sampled');
      s.start();
      const [round] = (await first) as [SampleRound];
      assert.equal(round.at, clock);
      clock += 1_000;
      const [second] = (await once(s, 'sampled')) as [SampleRound];
      assert.equal(second.at, T0 + 62 * MINUTE + 1_000);
      await s.stop();
      const rows = await readings.since(['gp'], T0 + 62 * MINUTE);
      assert.ok(rows.get('gp')!.length >= 2);
    });

    it('a server that takes the connection and never answers: stopping aborts the round, the node is a gap', async () => {
      // A TCP server that accepts and never writes (a port taken by something else, a hung process).
      const held: Socket[] = [];
      const hung = createTcpServer((socket) => {
        socket.on('error', () => {});
        held.push(socket);
      });
      hung.listen(0, '127.0.0.1');
      await once(hung, 'listening');
      const connected = once(hung, 'connection');
      services['msh:hospital'] = `http://127.0.0.1:${(hung.address() as AddressInfo).port}`;
      try {
        clock = T0 + 70 * MINUTE;
        const s = sampler(60_000);
        const sampled = once(s, 'sampled');
        s.start();
        await connected;
        await s.stop();
        const [round] = (await sampled) as [SampleRound];
        const hospital = round.nodes.find((n) => n.key === 'hospital');
        assert.equal(hospital?.ok, false);
        assert.match(hospital?.reason ?? '', /stopping/);
      } finally {
        for (const socket of held) socket.destroy();
        hung.close();
      }
    });
  });
}

describe('the console sampler when storing a reading fails', () => {
  it("stopping still aborts another node's read in flight after one node's gap could not be stored", async () => {
    let aFailed!: () => void;
    const aFailedNow = new Promise<void>((resolve) => {
      aFailed = resolve;
    });
    let bAborted!: (reason: unknown) => void;
    const bReason = new Promise<unknown>((resolve) => {
      bAborted = resolve;
    });
    const s = new MetricsSampler({
      readings: {
        add: async (key: string) => {
          if (key === 'a') {
            aFailed();
            throw new Error('the database is down');
          }
        },
        purge: async () => 0,
      } as unknown as ConsoleReadings,
      nodes: () => [
        { key: 'a', services: ['msh:a'] },
        { key: 'b', services: ['msh:b'] },
      ],
      // a refuses at once; b never answers until its signal aborts.
      read: (service, signal) =>
        new Promise<string>((_, reject) => {
          if (service === 'msh:a') return reject(new Error('a refuses'));
          signal.addEventListener(
            'abort',
            () => {
              bAborted(signal.reason);
              reject(signal.reason);
            },
            { once: true },
          );
        }),
      intervalMs: 60_000,
      retentionMs: 60 * MINUTE,
      logger,
    });
    s.start();
    await aFailedNow;
    // The failed store has gone through the round's promises (microtasks) before the next turn of the loop.
    await new Promise(setImmediate);
    await s.stop();
    assert.match(((await bReason) as Error).message, /stopping/);
  });
});

describe('the console role: sampling needs its own client', () => {
  it('a console configured to sample without a client id refuses to start, saying what to set', async () => {
    const config = consoleConfigSchema.parse({ enabled: true, issuer: 'https://auth.example' });
    assert.equal(config.sampling.enabled, true);
    assert.equal(config.sampling.intervalSeconds, 15);
    assert.equal(config.sampling.retentionMinutes, 60);
    await assert.rejects(
      createConsoleRole({ config, logger, tls: { ca: [], cert: 'x', key: 'x', client: {} } } as never),
      (err: Error & { code?: string }) =>
        err.code === 'EHMI_CONFIG_INVALID' && /console\.sampling\.clientId/.test(err.message),
    );
  });
});
