// GET /messages and GET /inbox page at the source: thousands of rows inserted through the store (not sent one by
// one), read a page at a time by following the Link rel="next" header, in a stable order, each row once, also while
// new rows arrive; the filters the console passes; the paging parameters in the OpenAPI document.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { MshInboxTable, MshMessagesTable } from '../../src/msh/tables.ts';
import { engines } from '../helpers/engines.ts';
import {
  type Json,
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
const MESSAGES = 3000;
const INBOX = 2500;
const T0 = Date.parse('2026-12-01T00:00:00Z');

function messageRow(i: number, at: number): MshMessagesTable {
  return {
    id: randomUUID(),
    kind: 'fhir',
    status: i % 3 === 0 ? 'failed' : 'receipted',
    needs_action: null,
    message_header_id: randomUUID(),
    bundle_id: randomUUID(),
    submit_key: null,
    envelope_id: randomUUID(),
    envelope_hash: 'sha256:0',
    envelope_size: 0,
    type: i % 2 === 0 ? 'homecareobservation-message' : 'acknowledgement-message',
    sender: A,
    receiver: B,
    document_type: 'urn:test:document',
    process: 'urn:test:process',
    resends: 0,
    ack_code: null,
    ack_at: null,
    failure_reason: null,
    failure_ebms: null,
    receipt_due: null,
    ack_due: null,
    inbox_id: null,
    patient_cpr: null,
    created_at: at,
    updated_at: at,
    ack_eds_facts: null,
    ack_taken_at: null,
  };
}

function inboxRow(at: number): MshInboxTable {
  return {
    id: randomUUID(),
    as4_message_id: `${randomUUID()}@test`,
    envelope_id: randomUUID(),
    message_header_id: randomUUID(),
    bundle_id: randomUUID(),
    type: 'homecareobservation-message',
    sender: B,
    receiver: A,
    mime_type: 'application/fhir+json',
    patient_cpr: null,
    envelope_hash: 'sha256:0',
    envelope_size: 0,
    received_at: at,
    removed_at: null,
    receipt_message_id: randomUUID(),
    ack_message_id: null,
    ack_hash: null,
    ack_code: null,
    acknowledged_at: null,
    acknowledged_by: null,
    eds_facts: null,
    eua_taken_at: null,
  };
}

for (const engine of engines()) {
  describe(`MSH: lists paged at the source (${engine.name})`, { skip: engine.skip }, () => {
    let pki: TestPki;
    let a: Node;
    const messages: MshMessagesTable[] = [];
    const inbox: MshInboxTable[] = [];

    before(async () => {
      pki = await testPki();
      a = await startNode(engine, pki, 'a');
      // Many rows share a time (ten per millisecond), so the order within a time is the id's.
      for (let i = 0; i < MESSAGES; i++) messages.push(messageRow(i, T0 + Math.floor(i / 10)));
      for (let i = 0; i < INBOX; i++) inbox.push(inboxRow(T0 + Math.floor(i / 10)));
      const db = a.test.store.db as unknown as import('kysely').Kysely<{
        msh_messages: MshMessagesTable;
        msh_inbox: MshInboxTable;
      }>;
      // In slices, below either engine's limit of bound parameters.
      for (let i = 0; i < messages.length; i += 200) {
        await db
          .insertInto('msh_messages')
          .values(messages.slice(i, i + 200))
          .execute();
      }
      for (let i = 0; i < inbox.length; i += 200) {
        await db
          .insertInto('msh_inbox')
          .values(inbox.slice(i, i + 200))
          .execute();
      }
    });
    after(async () => {
      await stopNode(a);
      if (pki) await removeDir(pki.dir);
    });

    /** Every page of `path`, following Link rel="next": the ids in order and the number of pages. */
    async function walk(path: string): Promise<{ ids: string[]; pages: number; sizes: number[] }> {
      const ids: string[] = [];
      const sizes: number[] = [];
      let next: string | undefined = path;
      while (next) {
        const res = await a.fetch(`${a.url}${next}`);
        assert.equal(res.status, 200, await res.clone().text());
        const page = (await res.json()) as Json[];
        sizes.push(page.length);
        ids.push(...page.map((m) => m.id as string));
        next = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get('link') ?? '')?.[1];
      }
      return { ids, pages: sizes.length, sizes };
    }

    const byTimeThenId = (rows: { id: string }[], at: (r: never) => number) =>
      [...rows].sort((x, y) => at(x as never) - at(y as never) || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));

    it('GET /messages?limit=… pages over thousands of messages: each once, oldest first, a Link to the next', async () => {
      const { ids, pages, sizes } = await walk('/messages?limit=500');
      const expected = byTimeThenId(messages, (r: MshMessagesTable) => r.created_at).map((m) => m.id);
      assert.equal(ids.length, MESSAGES);
      assert.deepEqual(ids, expected);
      assert.equal(pages, 6);
      assert.ok(sizes.every((n) => n === 500));
    });

    it('order=desc pages newest first; filters apply before paging', async () => {
      const desc = await walk('/messages?limit=700&order=desc');
      assert.deepEqual(
        desc.ids,
        byTimeThenId(messages, (r: MshMessagesTable) => r.created_at)
          .map((m) => m.id)
          .reverse(),
      );
      const failed = await walk('/messages?limit=300&status=failed&type=homecareobservation-message');
      const wanted = messages.filter(
        (m) => m.status === 'failed' && m.type === 'homecareobservation-message',
      );
      assert.equal(failed.ids.length, wanted.length);
      assert.deepEqual(new Set(failed.ids), new Set(wanted.map((m) => m.id)));
      const from = new Date(T0 + 250).toISOString();
      const to = new Date(T0 + 259).toISOString();
      const window = await walk(`/messages?limit=7&from=${from}&to=${to}&receiver=${ORG_B.gln}`);
      assert.equal(window.ids.length, 100, 'ten milliseconds of ten messages each');
      assert.equal(window.pages, 15);
    });

    it('a page is stable while new messages arrive: the walk goes on after its cursor, the new ones at the end', async () => {
      const first = await a.fetch(`${a.url}/messages?limit=1000`);
      const firstIds = ((await first.json()) as Json[]).map((m) => m.id as string);
      const next = /<([^>]+)>;\s*rel="next"/.exec(first.headers.get('link') ?? '')?.[1];
      assert.ok(next);
      // A message arrives in the middle of what was read, another after everything.
      const late = [messageRow(1, T0 + 50), messageRow(1, T0 + 10_000)];
      const db = a.test.store.db as unknown as import('kysely').Kysely<{ msh_messages: MshMessagesTable }>;
      await db.insertInto('msh_messages').values(late).execute();
      const rest = await walk(next);
      assert.equal(
        new Set([...firstIds, ...rest.ids]).size,
        firstIds.length + rest.ids.length,
        'no row twice',
      );
      assert.ok(!rest.ids.includes(late[0]!.id), 'a row before the cursor is not in the pages after it');
      assert.equal(rest.ids.at(-1), late[1]!.id);
      assert.equal(firstIds.length + rest.ids.length, MESSAGES + 1);
      await db
        .deleteFrom('msh_messages')
        .where(
          'id',
          'in',
          late.map((m) => m.id),
        )
        .execute();
    });

    it('GET /inbox?limit=… pages over thousands of items, either order', async () => {
      const asc = await walk('/inbox?limit=1000');
      const expected = byTimeThenId(inbox, (r: MshInboxTable) => r.received_at).map((m) => m.id);
      assert.deepEqual(asc.ids, expected);
      assert.deepEqual(asc.sizes, [1000, 1000, 500]);
      const desc = await walk('/inbox?limit=999&order=desc');
      assert.deepEqual(desc.ids, [...expected].reverse());
    });

    it('without limit the list is whole, as before; a bad limit or cursor is a 400 with an OperationOutcome', async () => {
      const whole = await a.fetch(`${a.url}/inbox`);
      assert.equal(((await whole.json()) as Json[]).length, INBOX);
      assert.equal(whole.headers.get('link'), null);
      for (const bad of ['limit=0', 'limit=1001', 'after=bm90LWEtY3Vyc29y', 'order=sideways']) {
        const res = await a.fetch(`${a.url}/messages?${bad}`);
        assert.equal(res.status, 400, bad);
        assert.equal(((await res.json()) as Json).resourceType, 'OperationOutcome');
      }
    });

    it('the OpenAPI document names the paging parameters and the Link header', async () => {
      const doc = (await (await a.fetch(`${a.url}/openapi.json`)).json()) as Json;
      for (const path of ['/messages', '/inbox']) {
        const get = doc.paths[path].get;
        const names = (get.parameters as { name: string }[]).map((p) => p.name);
        for (const n of ['limit', 'after', 'order']) assert.ok(names.includes(n), `${path} ${n}`);
        assert.ok(get.responses['200'].headers.Link, `${path} Link`);
      }
    });
  });
}
