// A 100 MB payload from one access point to the other (AP gateway → AS4 over HTTPS: gzip, sign, encrypt, stream,
// decrypt, store): it arrives intact. Its time and memory use are measured in bench/e2e.bench.ts, not asserted.
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { engines, eventually, FAST, makePair, type Pair } from './helpers.ts';

const SIZE = 100 * 1024 * 1024;

for (const engine of engines()) {
  describe(`end to end on ${engine.name}: a 100 MB payload`, { skip: engine.skip }, () => {
    let pair: Pair;
    before(async () => {
      pair = await makePair(engine, {
        ...FAST,
        ap: { ...FAST.ap, send: { ...FAST.ap?.send, timeoutMs: 600_000 } },
      });
      await Promise.all([pair.start('municipality'), pair.start('gp')]);
    });
    after(async () => {
      await pair?.cleanup();
    });

    it('travels intact: the receiving AP stores exactly the bytes sent (SHA-256)', {
      timeout: 600_000,
    }, async () => {
      const file = join(pair.dataDir, 'payload.bin');
      const out = createWriteStream(file);
      const hash = createHash('sha256');
      const chunk = 1024 * 1024;
      for (let i = 0; i < SIZE / chunk; i++) {
        const bytes = randomBytes(chunk);
        hash.update(bytes);
        if (!out.write(bytes)) await new Promise<void>((r) => out.once('drain', () => r()));
      }
      out.end();
      await finished(out);
      const sha256 = `sha256:${hash.digest('hex')}`;

      const sender = pair.nodes.municipality!;
      const receiver = pair.nodes.gp!;
      const submissionId = randomUUID();
      const accepted = await sender.accessPoint!.gateway.submit({
        submissionId,
        sender: '0088:5790000123117',
        receiver: '0088:5790000127092',
        documentType: 'urn:ehmi:test:large-payload',
        process: 'urn:ehmi:test',
        envelope: { size: SIZE, open: () => createReadStream(file) },
      });
      const row = await eventually(
        'the receiving AP committed the message',
        async () =>
          receiver.store.db
            .selectFrom('ap_received')
            .selectAll()
            .where('message_id', '=', accepted.as4MessageId)
            .executeTakeFirst(),
        600_000,
        500,
      );
      assert.equal(row.blob_hash, sha256);
      assert.equal(Number(row.blob_size), SIZE);
      // Read it back through the blob store, which re-hashes as it streams.
      const back = createHash('sha256');
      for await (const c of receiver.store.blobs.open({ hash: row.blob_hash!, size: SIZE }))
        back.update(c as Buffer);
      assert.equal(`sha256:${back.digest('hex')}`, sha256);
      // The sender holds the receiver's receipt.
      const out2 = await eventually(
        'the sending AP holds the receipt',
        async () => {
          const r = await sender.store.db
            .selectFrom('ap_outbound')
            .select(['status', 'ebms_code'])
            .where('submission_id', '=', submissionId)
            .executeTakeFirst();
          return r && r.status !== 'pending' ? r : undefined;
        },
        120_000,
        200,
      );
      assert.equal(out2.status, 'sent');
    });
  });
}
