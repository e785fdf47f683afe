// The sending node runs in its own process and is killed with SIGKILL mid-flight: after the receiving access point
// committed the message and signed its receipt, before the sender saw that receipt. Restarted on the same store,
// the sender retries with the same AS4 MessageId (eDelivery AS4 1.15 §3.3 reception awareness), the receiver
// answers the duplicate with its original receipt, and the message is in the inbox exactly once.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  type ApProxy,
  as4MessageId,
  engines,
  eventually,
  inbox,
  makePair,
  type Pair,
  reaches,
  routeThrough,
  startApProxy,
  submit,
} from './helpers.ts';

const T0 = Date.now();
const mark = (what: string) => process.env.EHMI_TEST_TRACE && console.log(`${Date.now() - T0} ms ${what}`);
const SCRIPT = fileURLToPath(new URL('./node-process.ts', import.meta.url));

function spawnNode(config: unknown): { child: ChildProcess; ready: Promise<void>; exited: Promise<unknown> } {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT], {
    env: { ...process.env, EHMI_TEST_NODE_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (c: string) => {
      out += c;
      if (out.startsWith('ready')) resolve();
    });
    void exited.then((why) => reject(new Error(`node process exited (${String(why)}) before ready: ${out}`)));
  });
  return { child, ready, exited };
}

/** The sender's config, with a short job lease so the restarted process takes over the killed one's job soon. */
function senderConfig(pair: Pair) {
  const config = structuredClone(pair.plan.organisations.find((o) => o.spec.name === 'municipality')!.config);
  config.queue.leaseMs = 3000;
  config.ap.send.timeoutMs = 2500;
  return config;
}

async function stopSender(sender: ReturnType<typeof spawnNode> | undefined): Promise<void> {
  if (!sender || sender.child.exitCode !== null || sender.child.signalCode !== null) return;
  sender.child.kill('SIGTERM');
  await sender.exited;
}

for (const engine of engines()) {
  describe(`end to end on ${engine.name}: the sender is killed mid-flight`, { skip: engine.skip }, () => {
    let pair: Pair;
    let proxy: ApProxy;
    let sender: ReturnType<typeof spawnNode> | undefined;

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
      const item = await eventually('the message in gp inbox', async () =>
        (await inbox(pair, 'gp')).find((i) => i.messageHeaderId === sent.body.messageHeaderId),
      );
      assert.ok(item);
      assert.ok(proxy.held.length >= 1);
      assert.equal(proxy.held[0]!.status, 200, 'the receiving AP committed and signed a receipt');
      sender.child.kill('SIGKILL');
      assert.equal(await sender.exited, 'SIGKILL');
      // Restart on the same store: the send job is found again and retried.
      proxy.mode = 'forward';
      sender = spawnNode(config);
      await sender.ready;
      mark('sender ready');
      await reaches(pair, 'municipality', sent.body.id, 'receipted', 60_000);
      mark('receipted');
      const ids = new Set(proxy.seen.map(as4MessageId));
      assert.ok(proxy.seen.length >= 2, 'sent again after the restart');
      assert.equal(ids.size, 1, 'with the same AS4 MessageId');
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
      const items = (await inbox(pair, 'gp')).filter((i) => i.messageHeaderId === sent.body.messageHeaderId);
      assert.equal(items.length, 1);
    });
  });
}
