import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { engines, type TestStore } from '../helpers/engines.ts';
import {
  createPki,
  DOCUMENT_TYPE,
  GLN_A,
  GLN_B,
  issueApCredentials,
  PROCESS,
  startApPair,
  waitFor,
} from './helpers.ts';

const SIZE = 100 * 1024 * 1024;

/**
 * Writes `size` bytes of base64 text (what an ehmiSBDH BinaryContent looks like: it gzips to ~75 %) to a file,
 * chunk by chunk, and returns its SHA-256.
 */
async function writePayload(file: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  const handle = await open(file, 'w');
  try {
    for (let written = 0; written < size; ) {
      const chunk = Buffer.from(randomBytes(786_432).toString('base64')).subarray(
        0,
        Math.min(1 << 20, size - written),
      );
      hash.update(chunk);
      await handle.write(chunk);
      written += chunk.length;
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

// The payload path (blob store, temporary files, streams) is the same on both engines: one run, on SQLite.
const engine = engines()[0]!;

describe('access point: a 100 MB envelope', () => {
  let dir: string;
  const stores: TestStore[] = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ehmi-ap-large-'));
  });
  after(async () => {
    for (const s of stores) await s.cleanup().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });

  it('travels A→B intact (same SHA-256), streamed end to end', { timeout: 600_000 }, async () => {
    const pki = await createPki(dir);
    const credsA = await issueApCredentials(pki, 'a');
    const credsB = await issueApCredentials(pki, 'b');
    const storeA = await engine.open();
    const storeB = await engine.open();
    stores.push(storeA, storeB);
    const { a, b, backendA, backendB } = await startApPair({
      pki,
      a: { store: storeA.store, dataDir: storeA.dataDir, creds: credsA },
      b: { store: storeB.store, dataDir: storeB.dataDir, creds: credsB },
    });
    try {
      const file = join(dir, 'payload.xml');
      const sha256 = await writePayload(file, SIZE);
      const accepted = await a.gateway.submit({
        submissionId: randomUUID(),
        sender: `0088:${GLN_A}`,
        receiver: `0088:${GLN_B}`,
        documentType: DOCUMENT_TYPE,
        process: PROCESS,
        envelope: { size: SIZE, open: () => createReadStream(file) },
      });
      const outcome = await waitFor('outcome', () => backendA.outcomes[0], 540_000);
      assert.equal(outcome.status, 'sent', outcome.reason);
      const got = await waitFor('delivery', () => backendB.delivered.get(accepted.as4MessageId), 60_000);
      assert.equal(got.size, SIZE);
      assert.equal(got.sha256, sha256);
    } finally {
      await a.close();
      await b?.close();
    }
  });
});
