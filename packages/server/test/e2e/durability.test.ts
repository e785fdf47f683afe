// Two nodes on SQLite, municipality → gp through a recording proxy: the sending MSH's answer and the receiving AP's
// AS4 receipt each wait for the sync of the WAL that makes their commits durable (docs/architecture.md
// "Durability"), asserted by the order of events while the syncs are held. An outgoing request's wait is held to
// account in test/http/durable.test.ts (the AP sends through `nodeAgent`).
import assert from 'node:assert/strict';
import { createServer, get as httpGet } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { holdSyncs } from '../helpers/durability.ts';
import {
  type ApProxy,
  engines,
  eventually,
  makePair,
  type Pair,
  reaches,
  routeThrough,
  startApProxy,
  submit,
} from './helpers.ts';

const sqlite = engines().find((e) => e.name === 'sqlite')!;

describe('end to end on SQLite: nothing leaves a node before its commits are durable', () => {
  let pair: Pair;
  let proxy: ApProxy;

  before(async () => {
    pair = await makePair(sqlite);
    proxy = await startApProxy(pair, 'gp');
    routeThrough(pair, 'municipality', 'gp', proxy);
    await Promise.all([pair.start('municipality'), pair.start('gp')]);
  });
  after(async () => {
    for (const n of Object.values(pair?.nodes ?? {})) if (n?.store.wal) n.store.wal.faults = undefined;
    await pair?.cleanup();
    await proxy?.close();
  });

  it('the MSH answers the submission and the receiving AP answers its AS4 receipt only after their syncs', async () => {
    const municipality = pair.nodes.municipality!;
    const gp = pair.nodes.gp!;
    // A first message warms both nodes up: key sets, revocation lists and connections fetched and cached, so that no
    // request of theirs waits on a held sync before the second message is committed.
    const first = await submit(pair);
    await reaches(pair, 'municipality', first.body.id, 'receipted');
    const before = proxy.seen.length;
    const count = async (table: 'msh_messages' | 'ap_received', store: typeof municipality.store) =>
      Number(
        (
          await store.db
            .selectFrom(table)
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    const messagesBefore = await count('msh_messages', municipality.store);
    const receivedBefore = await count('ap_received', gp.store);
    const events: string[] = [];
    const seen = proxy.seen;
    const push = seen.push.bind(seen);
    seen.push = (...items) => {
      events.push('AS4 message arrived');
      return push(...items);
    };
    const sender = holdSyncs(municipality.store.wal!, events, 'municipality');
    // The nodes share this process, and so its barrier: gp's syncs are held only once the message reached it.
    const receiver = holdSyncs(gp.store.wal!, events, 'gp', () => events.includes('AS4 message arrived'));

    // 1. The MSH's 202: once the submission is committed, its answer waits for a sync; held, it does not leave (a
    // round trip elsewhere gives it the chance), released, it does.
    let answered = false;
    const submitted = submit(pair).then((s) => {
      answered = true;
      events.push(`submit answered ${s.status}`);
      return s;
    });
    await eventually('the MSH has committed the submission', async () => {
      return (await count('msh_messages', municipality.store)) > messagesBefore ? true : undefined;
    });
    await Promise.race([sender.held(), submitted]);
    await roundTrip();
    assert.equal(answered, false, `the answer waits for the sync: ${events.join(', ')}`);
    let receiptBack = false;
    const receipted = proxy
      .answered('the AS4 message', (_p, i) => i >= before)
      .then((p) => {
        receiptBack = true;
        events.push('AS4 receipt answered');
        return p;
      });
    sender.free();
    await submitted;

    // 2. The receiving AP's AS4 receipt: once gp committed the message, the receipt waits for gp's sync.
    await receiver.held();
    await eventually('gp has committed the message', async () => {
      return (await count('ap_received', gp.store)) > receivedBefore ? true : undefined;
    });
    await roundTrip();
    assert.equal(receiptBack, false, `the AS4 receipt waits for the sync: ${events.join(', ')}`);
    receiver.free();
    const answer = await receipted;
    assert.equal(answer.answer.status, 200);
    assert.ok(
      events.indexOf('AS4 message arrived') > events.indexOf('municipality freed'),
      events.join(', '),
    );
    assert.ok(events.indexOf('AS4 receipt answered') > events.indexOf('gp freed'), events.join(', '));
  });
});

/** An HTTP round trip through a server outside both nodes: the event loop turns, sockets are written and read. */
async function roundTrip(): Promise<void> {
  const server = createServer((_req, res) => res.end('x'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  try {
    for (let i = 0; i < 3; i++) await get(url);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
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
