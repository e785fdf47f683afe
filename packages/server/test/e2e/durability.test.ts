// Two nodes on SQLite, municipality → gp through a recording proxy: the sending MSH's answer, the sending AP's AS4
// message and the receiving AP's AS4 receipt each wait for the sync of the WAL that makes their commits durable
// (docs/architecture.md "Durability"), asserted by the order of events while the syncs are held.
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

  it('the MSH answers the submission, the AP sends the AS4 message and the receiving AP answers its receipt, each after the sync', async () => {
    const municipality = pair.nodes.municipality!;
    const gp = pair.nodes.gp!;
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

    // 1. The MSH's 202: committed, then held until a sync completes. Other commits of the node sync too: each held
    // sync gets a round trip elsewhere (the answer's chance to leave, were it not waiting) before it is released.
    let answered = false;
    const submitted = submit(pair).then((s) => {
      answered = true;
      events.push(`submit answered ${s.status}`);
      return s;
    });
    while (!answered) {
      await Promise.race([sender.held(), submitted]);
      if (answered) break;
      await roundTrip();
      sender.release();
    }
    await submitted;
    const at = events.indexOf('submit answered 202');
    assert.equal(events[at - 1], 'municipality released', `the answer follows a sync: ${events.join(', ')}`);

    // 2. The AS4 message: the AP commits its attempt, then the request waits for the sync that covers it.
    await eventually('the AP has tried to send', async () => {
      const row = await municipality.store.db.selectFrom('ap_outbound').select('attempts').executeTakeFirst();
      return row && row.attempts > 0 ? true : undefined;
    });
    await roundTrip();
    assert.equal(proxy.seen.length, 0, `the AS4 message waits for the sync: ${events.join(', ')}`);
    let receiptBack = false;
    const receipted = proxy
      .answered('the AS4 message', () => true)
      .then((p) => {
        receiptBack = true;
        events.push('AS4 receipt answered');
        return p;
      });
    sender.free();

    // 3. The receiving AP's receipt: held until a sync of gp's completes.
    while (!receiptBack) {
      await Promise.race([receiver.held(), receipted]);
      if (receiptBack) break;
      await roundTrip();
      receiver.release();
    }
    const answer = await receipted;
    receiver.free();
    assert.equal(answer.answer.status, 200);
    assert.ok(
      events.indexOf('AS4 message arrived') > events.indexOf('municipality freed'),
      events.join(', '),
    );
    const back = events.indexOf('AS4 receipt answered');
    assert.equal(events[back - 1], 'gp released', `the receipt follows a sync: ${events.join(', ')}`);
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
