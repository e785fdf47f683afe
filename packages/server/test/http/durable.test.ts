// Nothing leaves the process before the commits it may report are durable (docs/architecture.md "Durability"):
// every answer of the node's servers and every request of its HTTP clients waits for the WAL's sync.
import assert from 'node:assert/strict';
import { createServer, get as httpGet, type Server } from 'node:http';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { request } from 'undici';
import { createHttpServer, nodeAgent } from '../../src/http/index.ts';
import type { WalBarrier } from '../../src/store/index.ts';
import { holdSyncs } from '../helpers/durability.ts';
import { engines, type TestStore } from '../helpers/engines.ts';

const sqlite = engines().find((e) => e.name === 'sqlite')!;

describe('answers and requests wait for the durability barrier', () => {
  let t: TestStore;
  let wal: WalBarrier;
  let app: FastifyInstance;
  let base: string;
  let n = 0;
  const commit = () =>
    t.store.db
      .insertInto('blobs')
      .values({ hash: `sha256:${(++n).toString(16).padStart(64, '0')}`, size: n, created_at: n })
      .execute();

  beforeEach(async () => {
    t = await sqlite.open();
    wal = t.store.wal!;
    await t.store.durable();
    app = await createHttpServer({
      service: 'test',
      logger: pino({ level: 'silent' }),
      bodyLimitBytes: 1024,
      metricsAccess: async () => {},
    });
    app.post('/write', async (_request, reply) => {
      await commit();
      return reply.status(201).send({ ok: true });
    });
    app.get('/read', async () => ({ ok: true }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  });
  afterEach(async () => {
    wal.faults = undefined;
    await app.close();
    await t.cleanup();
  });

  it('an answer after a commit is sent only once the sync that covers the commit completed', async () => {
    const events: string[] = [];
    const hold = holdSyncs(wal, events);
    const answered = request(`${base}/write`, { method: 'POST' }).then(async (res) => {
      events.push(`answered ${res.statusCode}`);
      await res.body.dump();
    });
    // The answer is ready on the server; it must wait for the held sync. A round trip of another server of this
    // test gives it every chance to go out if it did not wait.
    await Promise.race([hold.held(), answered]);
    await roundTrip();
    hold.release();
    await answered;
    assert.deepEqual(events, ['sync', 'released', 'answered 201']);
    hold.free();
  });

  it('an answer with nothing to sync goes out without a sync', async () => {
    const before = wal.syncs;
    const res = await request(`${base}/read`);
    await res.body.dump();
    assert.equal(res.statusCode, 200);
    assert.equal(wal.syncs, before);
  });

  it('a failed sync turns the answer into 503 EHMI_STORE_UNAVAILABLE', async () => {
    wal.faults = {
      beforeSync: () => {
        throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
      },
    };
    const res = await request(`${base}/write`, { method: 'POST' });
    const text = await res.body.text();
    assert.equal(res.statusCode, 503, text);
    assert.match(text, /EHMI_STORE_UNAVAILABLE/);
  });

  it("a request through the node's agent leaves only once the sync that covers the commits before it completed", async () => {
    const events: string[] = [];
    const hold = holdSyncs(wal, events);
    const target = await listen((_req, res) => {
      events.push('request arrived');
      res.end('ok');
    });
    const agent = nodeAgent();
    try {
      await commit();
      const sent = request(target.url, { dispatcher: agent }).then(async (res) => {
        events.push(`answered ${res.statusCode}`);
        await res.body.dump();
      });
      await Promise.race([hold.held(), sent]);
      await roundTrip();
      hold.release();
      await sent;
      assert.deepEqual(events, ['sync', 'released', 'request arrived', 'answered 200']);
      // Nothing pending: the next request does not sync.
      const before = wal.syncs;
      const again = await request(target.url, { dispatcher: agent });
      await again.body.dump();
      assert.equal(wal.syncs, before);
    } finally {
      hold.free();
      await agent.close();
      await target.close();
    }
  });

  it("a failed sync fails the agent's request before it leaves", async () => {
    let arrived = 0;
    const target = await listen((_req, res) => {
      arrived++;
      res.end('ok');
    });
    const agent = nodeAgent();
    try {
      wal.faults = {
        beforeSync: () => {
          throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
        },
      };
      await commit();
      await assert.rejects(request(target.url, { dispatcher: agent }), { code: 'EHMI_STORE_UNAVAILABLE' });
      assert.equal(arrived, 0);
    } finally {
      await agent.close();
      await target.close();
    }
  });
});

async function listen(
  handler: Parameters<typeof createServer>[1],
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** An HTTP round trip through a server outside the barrier: the event loop turns, sockets are written and read. */
async function roundTrip(): Promise<void> {
  const other = await listen((_req, res) => res.end('x'));
  try {
    for (let i = 0; i < 3; i++) await get(other.url);
  } finally {
    await other.close();
  }
}

/** GET `url` with node:http (not fetch: a node composes the global dispatcher with the barrier). */
function get(url: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    httpGet(url, (res) => {
      res.resume();
      res.on('end', () => resolve());
    }).on('error', reject);
  });
}
