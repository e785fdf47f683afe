// The patient each message is about, as the MSH notes it (msh_messages.patient_cpr, msh_inbox.patient_cpr), and
// the queries a token restricted to one patient is served with. The HTTP side, with real tokens, is in
// packages/network/test/access/patient-access.ts (run by access.test.ts).
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { buildHomeCareObservationMessage } from '@ehmi/fhir';
import { findInboxItem, findMessage, listInbox, listMessages } from '../../src/msh/repository.ts';
import { InboxHub } from '../../src/msh/sse.ts';
import { durableCommits } from '../../src/store/index.ts';
import { engines } from '../helpers/engines.ts';
import {
  homecareInput,
  type Node,
  ORG_A,
  ORG_B,
  removeDir,
  startNode,
  stopNode,
  type TestPki,
  testPki,
  until,
} from './helpers.ts';

const A = `0088:${ORG_A.gln}`;
const B = `0088:${ORG_B.gln}`;
const P1 = '2509479989';
const P2 = '0101701234';

for (const engine of engines()) {
  describe(`MSH: the patient of each message (${engine.name})`, { skip: engine.skip }, () => {
    let pki: TestPki;
    let a: Node;
    let b: Node;
    const sent: Record<string, string> = {};
    const inbox: Record<string, string> = {};
    let payloadId: string;
    let ackId: string;

    const submit = async (cpr: string) => {
      const input = homecareInput();
      const bundle = buildHomeCareObservationMessage({ ...input, patient: { ...input.patient, cpr } });
      const res = await a.fetch(`${a.url}/messages`, {
        method: 'POST',
        body: JSON.stringify(bundle),
        headers: { 'content-type': 'application/fhir+json' },
      });
      assert.equal(res.status, 202, await res.clone().text());
      return (await res.json()) as { id: string; bundleId: string };
    };

    before(async () => {
      pki = await testPki();
      a = await startNode(engine, pki, 'a');
      b = await startNode(engine, pki, 'b');
      a.ap.peers.set(B, b.msh.backend);
      b.ap.peers.set(A, a.msh.backend);
      for (const cpr of [P1, P2]) {
        const { id, bundleId } = await submit(cpr);
        sent[cpr] = id;
        inbox[cpr] = await until(`the message about ${cpr} in B's inbox`, async () => {
          const items = await listInbox(b.ctx.store.db);
          return items.find((i) => i.bundle_id === bundleId)?.id;
        });
      }
      const payload = await a.fetch(
        `${a.url}/payloads?receiver=${encodeURIComponent(B)}&documentType=urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:meddis:xdis91:xd9134l&process=urn:dk:medcom:process&kind=oioxml&patientId=${P1}`,
        { method: 'POST', body: '<Emessage/>', headers: { 'content-type': 'application/xml' } },
      );
      assert.equal(payload.status, 202, await payload.clone().text());
      payloadId = ((await payload.json()) as { id: string }).id;
      // B's inbox then holds the payload too (a third item, of no patient): wait for it, so the counts below hold.
      await until("the payload in B's inbox", async () => (await listInbox(b.ctx.store.db)).length === 3);
      const ack = await b.fetch(`${b.url}/inbox/${inbox[P1]}/$acknowledge`, {
        method: 'POST',
        body: '{"code":"ok"}',
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(ack.status, 202, await ack.clone().text());
      ackId = ((await ack.json()) as { id: string }).id;
    });
    after(async () => {
      await stopNode(a, b);
      await removeDir(pki.dir);
    });

    it('a submitted MedCom message notes the CPR of its Patient; a payload notes none (its patientId is the client’s word)', async () => {
      const db = a.ctx.store.db;
      assert.equal((await findMessage(db, sent[P1]!))?.patient_cpr, P1);
      assert.equal((await findMessage(db, sent[P2]!))?.patient_cpr, P2);
      assert.equal((await findMessage(db, payloadId))?.patient_cpr, null);
    });

    it('a delivered MedCom message notes the CPR of its Patient', async () => {
      const db = b.ctx.store.db;
      assert.equal((await findInboxItem(db, inbox[P1]!))?.patient_cpr, P1);
      assert.equal((await findInboxItem(db, inbox[P2]!))?.patient_cpr, P2);
    });

    it('an acknowledgement is about the patient of the message it acknowledges', async () => {
      const row = await findMessage(b.ctx.store.db, ackId);
      assert.equal(row?.kind, 'acknowledgement');
      assert.equal(row?.patient_cpr, P1);
    });

    it('restricted to one patient, the lists hold that patient’s messages only; without, every message', async () => {
      const adb = a.ctx.store.db;
      assert.deepEqual(
        (await listMessages(adb, { patient: P1 })).map((m) => m.id),
        [sent[P1]],
      );
      assert.deepEqual(
        (await listMessages(adb, { patient: P2 })).map((m) => m.id),
        [sent[P2]],
      );
      // With the other filters too: the payload (no patient) is not P1's, whatever its status.
      const payload = (await findMessage(adb, payloadId))!;
      assert.deepEqual(
        await listMessages(adb, {
          patient: P1,
          status: payload.status,
          needsAction: payload.needs_action ?? undefined,
        }).then((l) => l.map((m) => m.id).filter((id) => id === payloadId)),
        [],
      );
      assert.equal((await listMessages(adb, {})).length, 3);
      assert.deepEqual(
        (await listMessages(adb, { patient: '1111111118' })).map((m) => m.id),
        [],
      );
      const bdb = b.ctx.store.db;
      assert.deepEqual(
        (await listInbox(bdb, P2)).map((i) => i.id),
        [inbox[P2]],
      );
      assert.equal((await listInbox(bdb)).length, 3);
    });

    it('restricted to one patient, another patient’s message is not found', async () => {
      assert.equal(await findMessage(a.ctx.store.db, sent[P1]!, P2), undefined);
      assert.equal((await findMessage(a.ctx.store.db, sent[P1]!, P1))?.id, sent[P1]);
      assert.equal(await findMessage(a.ctx.store.db, payloadId, P1), undefined);
      assert.equal(await findInboxItem(b.ctx.store.db, inbox[P1]!, P2), undefined);
      assert.equal((await findInboxItem(b.ctx.store.db, inbox[P1]!, P1))?.id, inbox[P1]);
    });
  });
}

describe('InboxHub: a client restricted to one patient', () => {
  /** Enough of a ServerResponse for the hub: what it writes, and close. */
  const client = () => {
    const res = Object.assign(new EventEmitter(), {
      written: [] as string[],
      write(text: string) {
        res.written.push(text);
        return true;
      },
      end() {
        res.emit('close');
      },
    });
    return res;
  };

  it('gets the items about its patient only; an unrestricted client gets every item', async () => {
    const hub = new InboxHub({ heartbeatMs: 3_600_000 });
    const all = client();
    const p1 = client();
    hub.add(all as unknown as ServerResponse);
    hub.add(p1 as unknown as ServerResponse, P1);
    const now = Date.now() + 1000;
    hub.publish({ id: 'x1', receivedAt: now, patientCpr: P1, json: { id: 'x1' } });
    hub.publish({ id: 'x2', receivedAt: now, patientCpr: P2, json: { id: 'x2' } });
    hub.publish({ id: 'x3', receivedAt: now, patientCpr: null, json: { id: 'x3' } });
    // Items wait for the process's pending commits to be durable (another suite's store may have some).
    await durableCommits();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(all.written.length, 3);
    assert.deepEqual(p1.written, [`event: message\ndata: {"id":"x1"}\n\n`]);
    hub.close();
  });
});
