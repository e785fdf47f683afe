// Access point to access point over loopback HTTPS, both in this process, each with its own store:
// 1. messages per second for 10 KB envelopes, signed + encrypted + gzipped, durable commits on both sides, from
//    gateway.submit until the receiving MSH has the envelope (receipts verified on the way);
// 2. RSS growth of the process while a 100 MB envelope goes A→B (payloads must stream, not sit in memory).
// SQLite; PostgreSQL too when DATABASE_URL is set. EHMI_BENCH_N sets the message count (default 300).
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bytes,
  createPki,
  DOCUMENT_TYPE,
  GLN_A,
  GLN_B,
  issueApCredentials,
  PROCESS,
  startApPair,
  waitFor,
} from '../test/ap/helpers.ts';
import { engines } from '../test/helpers/engines.ts';

const N = Number(process.env.EHMI_BENCH_N ?? 300);
const LARGE = 100 * 1024 * 1024;
const dir = await mkdtemp(join(tmpdir(), 'ehmi-ap-bench-'));
const pki = await createPki(dir);
const credsA = await issueApCredentials(pki, 'a');
const credsB = await issueApCredentials(pki, 'b');

async function pair(engine: ReturnType<typeof engines>[number], concurrency: number) {
  const storeA = await engine.open();
  const storeB = await engine.open();
  const { a, b, backendA, backendB } = await startApPair({
    pki,
    a: { store: storeA.store, dataDir: storeA.dataDir, creds: credsA },
    b: { store: storeB.store, dataDir: storeB.dataDir, creds: credsB },
    aAp: { send: { concurrency } },
  });
  return {
    a,
    backendA,
    backendB,
    storeB,
    async close() {
      await a.close();
      await b?.close();
      await storeA.cleanup();
      await storeB.cleanup();
    },
  };
}

async function throughput(engine: ReturnType<typeof engines>[number], concurrency: number): Promise<void> {
  const p = await pair(engine, concurrency);
  const body = randomBytes(7680).toString('base64'); // 10 KB of envelope text
  // Warm-up: first TLS connections, JIT.
  for (let i = 0; i < 5; i++) {
    await p.a.gateway.submit({
      submissionId: randomUUID(),
      sender: `0088:${GLN_A}`,
      receiver: `0088:${GLN_B}`,
      documentType: DOCUMENT_TYPE,
      process: PROCESS,
      envelope: bytes(`<sbd n="w${i}">${body}</sbd>`),
    });
  }
  await waitFor('warm-up', () => (p.backendB.delivered.size >= 5 ? true : undefined), 120_000);
  const start = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    await p.a.gateway.submit({
      submissionId: randomUUID(),
      sender: `0088:${GLN_A}`,
      receiver: `0088:${GLN_B}`,
      documentType: DOCUMENT_TYPE,
      process: PROCESS,
      envelope: bytes(`<sbd n="${i}">${body}</sbd>`),
    });
  }
  const submitted = Number(process.hrtime.bigint() - start) / 1e9;
  await waitFor('deliveries', () => (p.backendB.delivered.size >= N + 5 ? true : undefined), 600_000);
  const delivered = Number(process.hrtime.bigint() - start) / 1e9;
  await waitFor('outcomes', () => (p.backendA.outcomes.length >= N + 5 ? true : undefined), 600_000);
  const failed = p.backendA.outcomes.filter((o) => o.status !== 'sent').length;
  console.log(
    `${`${engine.name}, send concurrency ${concurrency}`.padEnd(30)} ${N} × 10 KB: submit ${(N / submitted).toFixed(0)}/s, ` +
      `delivered at B ${(N / delivered).toFixed(1)} msg/s (${delivered.toFixed(1)} s)${failed ? `, ${failed} FAILED` : ''}`,
  );
  await p.close();
}

/** One message at a time: p50/p99 of submit → envelope at the receiving MSH, and where the time goes. */
async function latency(engine: ReturnType<typeof engines>[number]): Promise<void> {
  const p = await pair(engine, 4);
  const body = randomBytes(7680).toString('base64');
  const totals: number[] = [];
  const parts: number[][] = [];
  for (let i = 0; i < 45; i++) {
    const t0 = Date.now();
    const accepted = await p.a.gateway.submit({
      submissionId: randomUUID(),
      sender: `0088:${GLN_A}`,
      receiver: `0088:${GLN_B}`,
      documentType: DOCUMENT_TYPE,
      process: PROCESS,
      envelope: bytes(`<sbd n="${i}">${body}</sbd>`),
    });
    const t1 = Date.now();
    await waitFor('delivery', () => p.backendB.delivered.get(accepted.as4MessageId), 120_000);
    const t2 = Date.now();
    const row = await p.storeB.store.db
      .selectFrom('ap_received')
      .select(['received_at', 'delivered_at'])
      .where('message_id', '=', accepted.as4MessageId)
      .executeTakeFirstOrThrow();
    if (i < 5) continue; // warm-up
    totals.push(t2 - t0);
    parts.push([t1 - t0, row.received_at - t1, (row.delivered_at ?? row.received_at) - row.received_at]);
  }
  totals.sort((x, y) => x - y);
  const pct = (q: number) => totals[Math.min(totals.length - 1, Math.floor(q * totals.length))]!;
  const avg = (k: number) => (parts.reduce((sum, r) => sum + r[k]!, 0) / parts.length).toFixed(0);
  console.log(
    `${`${engine.name}, one at a time`.padEnd(30)} submit → delivered p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms ` +
      `(submit ${avg(0)} ms, → committed at B ${avg(1)} ms, → delivered ${avg(2)} ms)`,
  );
  await p.close();
}

async function largePayload(engine: ReturnType<typeof engines>[number]): Promise<void> {
  const file = join(dir, 'large.xml');
  const hash = createHash('sha256');
  const handle = await open(file, 'w');
  for (let written = 0; written < LARGE; written += 1 << 20) {
    const chunk = Buffer.from(randomBytes(786_432).toString('base64'));
    hash.update(chunk);
    await handle.write(chunk);
  }
  await handle.close();
  const p = await pair(engine, 1);
  globalThis.gc?.();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  const start = process.hrtime.bigint();
  const accepted = await p.a.gateway.submit({
    submissionId: randomUUID(),
    sender: `0088:${GLN_A}`,
    receiver: `0088:${GLN_B}`,
    documentType: DOCUMENT_TYPE,
    process: PROCESS,
    envelope: { size: LARGE, open: () => createReadStream(file) },
  });
  const got = await waitFor('large delivery', () => p.backendB.delivered.get(accepted.as4MessageId), 900_000);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  clearInterval(sampler);
  const intact = got.sha256 === hash.digest('hex');
  const mb = (n: number) => (n / 1024 / 1024).toFixed(0);
  console.log(
    `${`${engine.name}, 100 MB envelope`.padEnd(30)} A→B in ${seconds.toFixed(1)} s, RSS ${mb(baseline)} MB → peak ${mb(peak)} MB ` +
      `(+${mb(peak - baseline)} MB, both APs in this process)${intact ? '' : ' — PAYLOAD CORRUPT'}`,
  );
  await p.close();
}

try {
  for (const engine of engines()) {
    if (engine.skip) {
      console.log(`${engine.name}: skipped (${engine.skip})`);
      continue;
    }
    // The large payload first, while the heap is still small, so its RSS growth is not hidden by earlier garbage.
    await largePayload(engine);
    await latency(engine);
    await throughput(engine, 4);
    await throughput(engine, 16);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
