// Memory of an access point under stalled connections (DESIGN-NOTES.md "Bounded resources"): for each kind of
// stalled client (an idle TLS connection, half a header block, 3.9 MB of SOAP root part, half of a real message,
// a body at 1 octet a second), 500 connections from another process; the AP's RSS before, while they are open, and
// after they are cut, and whether a real message is still answered meanwhile. The timeouts that would cut them are
// set long, so that what is measured is what they hold while they are there. Run with the default limits
// (ap.receive.maxConcurrent 100: most uploads are refused at once) and with maxConcurrent 1000 (the envelope pool
// alone bounds the root parts). EHMI_BENCH_N sets the connections per kind (default 500).

import { fork } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { buildOutboundMessage } from '../src/ap/index.ts';
import {
  bytes,
  collect,
  createPki,
  DOCUMENT_TYPE,
  GLN_A,
  GLN_B,
  issueApCredentials,
  PROCESS,
  post,
  RecordingBackend,
  startAp,
  testClient,
} from '../test/ap/helpers.ts';
import { engines } from '../test/helpers/engines.ts';

const N = Number(process.env.EHMI_BENCH_N ?? 500);
const dir = await mkdtemp(join(tmpdir(), 'ehmi-stalled-bench-'));
const pki = await createPki(dir);
const credsA = await issueApCredentials(pki, 'a');
const credsB = await issueApCredentials(pki, 'b');
const tls = { ca: pki.rootFile, cert: credsA.files.tlsCert, key: credsA.files.tlsKey };
const gc = (globalThis as { gc?: () => void }).gc;
const MB = 1024 * 1024;

async function rss(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc?.();
    await sleep(200);
  }
  return process.memoryUsage().rss;
}

/** V8 heap and Buffer memory: what JavaScript still holds, beside what the allocator keeps. */
function held(): string {
  const m = process.memoryUsage();
  return `heap ${(m.heapUsed / MB).toFixed(0)} MB, buffers ${(m.arrayBuffers / MB).toFixed(0)} MB`;
}

const connections = (b: {
  app: { server: { getConnections(cb: (e: Error | null, n: number) => void): void } };
}) => new Promise<number>((r) => b.app.server.getConnections((_e, c) => r(c)));

async function message(size: number) {
  const built = await buildOutboundMessage({
    messageId: `${randomUUID()}@bench.ehmi`,
    timestamp: new Date(),
    sender: `0088:${GLN_A}`,
    receiver: `0088:${GLN_B}`,
    process: PROCESS,
    documentType: DOCUMENT_TYPE,
    serviceType: 'dk-medcom-messaging',
    payload: bytes(randomBytes(size).toString('base64')),
    signing: { privateKey: credsA.signing.privateKey, chain: [credsA.signing.certificate] },
    recipientCertificate: credsB.signing.certificate,
  });
  return { contentType: built.contentType, body: await collect(built.body) };
}

async function run(label: string, maxConcurrent: number | undefined): Promise<void> {
  const store = await engines()[0]!.open();
  const long = 30 * 60_000;
  const b = await startAp({
    store: store.store,
    dataDir: store.dataDir,
    pki,
    gln: GLN_B,
    creds: credsB,
    backend: new RecordingBackend(),
    node: { http: { idleTimeoutMs: long, headersTimeoutMs: long, bodyRateWindowMs: long } },
    ...(maxConcurrent ? { ap: { receive: { maxConcurrent } } } : {}),
  });
  const client = testClient(pki, credsA);
  const big = await message(1024 * 1024);
  const prefix = { body: join(dir, 'half.bin'), contentType: big.contentType };
  await writeFile(prefix.body, big.body);
  const check = async () => {
    const m = await message(8 * 1024);
    return (await post(client, b.as4Url, m.contentType, m.body)).status;
  };
  for (let i = 0; i < 20; i++) await check(); // warm-up
  const attacker = fork(fileURLToPath(new URL('./stalled-clients.mjs', import.meta.url)), {
    stdio: 'inherit',
  });
  console.log(`\n${label}: ${N} connections of each kind`);
  console.log('kind        open  RSS before  during          after    answer meanwhile');
  for (const kind of ['idle', 'headers', 'root', 'attachment', 'slow'] as const) {
    const before = await rss();
    attacker.send({ open: kind, n: N, url: b.as4Url, tls, prefix });
    await once(attacker, 'message');
    await sleep(2_000);
    const during = await rss();
    const open = await connections(b);
    const heldDuring = held();
    const answer = await check();
    attacker.send({ cut: true });
    await once(attacker, 'message');
    for (let i = 0; i < 100; i++) {
      if ((await connections(b)) <= 1) break;
      await sleep(100);
    }
    const afterCut = await rss();
    console.log(
      `${kind.padEnd(10)} ${String(open).padStart(5)}  ${(before / MB).toFixed(0).padStart(6)} MB  ${(during / MB).toFixed(0).padStart(6)} MB (+${((during - before) / MB).toFixed(0)})  ${(afterCut / MB).toFixed(0).padStart(6)} MB   ${answer}   [during: ${heldDuring}; after: ${held()}]`,
    );
  }
  attacker.kill();
  await client.close();
  await b.close();
  await store.cleanup();
}

if (!gc) console.log('(run with --expose-gc for steadier numbers: NODE_OPTIONS=--expose-gc)');
await run('defaults (ap.receive.maxConcurrent 100, 64 MiB envelope pool)', undefined);
await run('ap.receive.maxConcurrent 1000 (the pools alone)', 1000);
await rm(dir, { recursive: true, force: true });
