import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { engines } from '../helpers/engines.ts';
import {
  homecare,
  type Node,
  ORG_A,
  ORG_B,
  removeDir,
  startNode,
  stopNode,
  type TestPki,
  testPki,
} from './helpers.ts';

const A = `0088:${ORG_A.gln}`;
const B = `0088:${ORG_B.gln}`;
const LIMIT = 4096;

for (const engine of engines()) {
  describe(`MSH: a received envelope over msh.maxInboundEnvelopeBytes (${engine.name})`, {
    skip: engine.skip,
  }, () => {
    let pki: TestPki;
    let b: Node;
    before(async () => {
      pki = await testPki();
      b = await startNode(engine, pki, 'b', { maxInboundEnvelopeBytes: LIMIT });
    });
    after(async () => {
      await stopNode(b);
      await removeDir(pki.dir);
    });

    const deliver = (as4MessageId: string, envelope: { size?: number; open(): Readable }) =>
      b.msh.backend.deliver({
        as4MessageId,
        sender: A,
        receiver: B,
        process: 'urn:test:process',
        documentType: 'urn:test:document',
        receivedAt: Date.now(),
        envelope,
      });
    const outcome = (as4MessageId: string) =>
      b.test.store.db
        .selectFrom('msh_received')
        .selectAll()
        .where('as4_message_id', '=', as4MessageId)
        .executeTakeFirst();

    it('is ignored without a read when its size is known', async () => {
      let opened = 0;
      await deliver('known-size@test', {
        size: LIMIT + 1,
        open: () => {
          opened++;
          return Readable.from([Buffer.alloc(LIMIT + 1)]);
        },
      });
      assert.equal(opened, 0);
      const row = await outcome('known-size@test');
      assert.equal(row?.outcome, 'ignored');
      assert.match(row?.detail ?? '', /larger than 4096 bytes \(msh\.maxInboundEnvelopeBytes\)/);
    });

    it('is ignored once the limit is passed when its size is not known, reading no further', async () => {
      let chunks = 0;
      const source = Readable.from(
        (function* () {
          for (let i = 0; i < 1000; i++) {
            chunks++;
            yield Buffer.alloc(1024);
          }
        })(),
      );
      await deliver('unknown-size@test', { open: () => source });
      const row = await outcome('unknown-size@test');
      assert.equal(row?.outcome, 'ignored');
      assert.match(row?.detail ?? '', /larger than 4096 bytes/);
      assert.ok(chunks < 100, `${chunks} chunks read`);
    });

    it('at the limit is read and judged as an envelope', async () => {
      const bytes = Buffer.from(JSON.stringify(homecare())).subarray(0, LIMIT);
      await deliver('at-limit@test', { size: bytes.length, open: () => Readable.from([bytes]) });
      const row = await outcome('at-limit@test');
      assert.doesNotMatch(row?.detail ?? '', /maxInboundEnvelopeBytes/);
    });
  });
}
