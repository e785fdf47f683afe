// The sending node runs in its own process and is killed with SIGKILL mid-flight: after the receiving access point
// committed the message and signed its receipt, before the sender saw that receipt. Restarted on the same store,
// the sender retries with the same AS4 MessageId (eDelivery AS4 1.15 §3.3 reception awareness), the receiver
// answers the duplicate with its original receipt, and the message is in the inbox exactly once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type ApProxy,
  as4MessageId,
  engines,
  eventually,
  inbox,
  makePair,
  type NodeProcess,
  type Pair,
  reaches,
  routeThrough,
  spawnNode,
  startApProxy,
  status,
  submit,
} from './helpers.ts';

const T0 = Date.now();
const mark = (what: string) => process.env.EHMI_TEST_TRACE && console.log(`${Date.now() - T0} ms ${what}`);
/** The sender's config, with a short job lease so the restarted process takes over the killed one's job soon. */
function senderConfig(pair: Pair) {
  const config = structuredClone(pair.plan.organisations.find((o) => o.spec.name === 'municipality')!.config);
  config.queue.leaseMs = 3000;
  config.ap.send.timeoutMs = 2500;
  return config;
}

async function stopSender(sender: NodeProcess | undefined): Promise<void> {
  if (!sender || sender.child.exitCode !== null || sender.child.signalCode !== null) return;
  sender.child.kill('SIGTERM');
  await sender.exited;
}

for (const engine of engines()) {
  describe(`end to end on ${engine.name}: the sender is killed mid-flight`, { skip: engine.skip }, () => {
    let pair: Pair;
    let proxy: ApProxy;
    let sender: NodeProcess | undefined;

    before(async () => {
      pair = await makePair(engine);
      proxy = await startApProxy(pair, 'gp');
      routeThrough(pair, 'municipality', 'gp', proxy);
      await pair.start('gp');
    });
    after(async () => {
      await stopSender(sender);
      await proxy?.close();
      await pair?.cleanup();
    });

    it('SIGKILL after the receiver committed, restart: the message arrives exactly once', {
      timeout: 120_000,
    }, async () => {
      const config = senderConfig(pair);
      sender = spawnNode(config);
      await sender.ready;
      mark('sender ready');
      // The proxy forwards to gp's AP but keeps the receipt from the sender.
      proxy.mode = 'hold';
      const sent = await submit(pair);
      mark('submitted');
      const first = await proxy.answered('the AS4 message at gp', () => true);
      mark('committed at gp');
      assert.equal(first.answer.status, 200, 'the receiving AP committed and signed a receipt');
      const as4Id = as4MessageId(first);
      assert.ok(as4Id);
      sender.child.kill('SIGKILL');
      assert.equal(await sender.exited, 'SIGKILL');
      // Restart on the same store: once the killed process's lease on the send job has expired, the job is taken
      // again and the same AS4 message goes out again.
      const restartedAt = proxy.seen.length;
      proxy.mode = 'forward';
      sender = spawnNode(config);
      await sender.ready;
      mark('sender ready');
      const resent = await proxy.answered(
        'the AS4 message sent after the restart',
        (_p, i) => i >= restartedAt,
      );
      mark('resent');
      assert.equal(as4MessageId(resent), as4Id, 'sent again with the same AS4 MessageId');
      assert.equal(resent.answer.status, 200);
      assert.equal(
        resent.answer.body,
        first.answer.body,
        'the duplicate is answered with the original receipt',
      );
      // The restarted sender verified that receipt: its AP reports the message sent (EDS 03.2). The status alone
      // proves nothing here: gp's EnvelopeReceipt travels on an AS4 message of its own, not through this proxy,
      // and can make the message receipted before the resend.
      const outcome = await eventually('the AS4 outcome recorded after the restart', async () =>
        (await status(pair, 'municipality', sent.body.id)).events.find((e) => e.code === '03.2'),
      );
      assert.equal(outcome.outcome, 'success');
      await reaches(pair, 'municipality', sent.body.id, 'receipted', 60_000);
      mark('receipted');
      // Nothing is left for gp's access point to do (its hand-overs to the MSH ran): one inbox item.
      assert.deepEqual(await pair.nodes.gp!.accessPoint!.idle({ drained: true }), { next: undefined });
      const items = (await inbox(pair, 'gp')).filter((i) => i.messageHeaderId === sent.body.messageHeaderId);
      assert.equal(items.length, 1, 'delivered exactly once');
    });

    it('SIGKILL right after the MSH accepted the message: it is still sent after the restart', {
      timeout: 120_000,
    }, async () => {
      await stopSender(sender);
      const config = senderConfig(pair);
      // The receiver is away, so the message waits in the sender's outbox when the sender dies.
      await pair.stop('gp');
      sender = spawnNode(config);
      await sender.ready;
      mark('sender ready');
      const sent = await submit(pair);
      mark('submitted');
      sender.child.kill('SIGKILL');
      await sender.exited;
      await pair.start('gp');
      sender = spawnNode(config);
      await sender.ready;
      mark('sender ready');
      await reaches(pair, 'municipality', sent.body.id, 'receipted', 60_000);
      mark('receipted');
      assert.deepEqual(await pair.nodes.gp!.accessPoint!.idle({ drained: true }), { next: undefined });
      const items = (await inbox(pair, 'gp')).filter((i) => i.messageHeaderId === sent.body.messageHeaderId);
      assert.equal(items.length, 1);
    });
  });
}
