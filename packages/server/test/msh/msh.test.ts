import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jsonToXml, resendMessage } from '@ehmi/fhir';
import { parse, payloadOf, RECEIPT_DOCUMENT_ID, scopeValue, wrap } from '@ehmi/sbdh';
import { createMsh } from '../../src/msh/index.ts';
import { QUEUES } from '../../src/path.ts';
import { BLOB_REFERENCES, openNodeStore } from '../../src/role-list.ts';
import { collectBlobGarbage, JobQueue, storeBlob, storeView } from '../../src/store/index.ts';
import { engines } from '../helpers/engines.ts';
import { assertOpenApiListsEveryRoute } from '../helpers/openapi.ts';
import {
  clientFetch,
  homecare,
  type Json,
  LoopbackAp,
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

interface Answer {
  status: number;
  body: Json;
  headers: Headers;
  text: string;
}

async function call(
  node: Node,
  method: string,
  path: string,
  body?: string,
  type?: string,
  accept?: string,
): Promise<Answer> {
  const res = await node.fetch(`${node.url}${path}`, {
    method,
    ...(body !== undefined ? { body } : {}),
    headers: { ...(type ? { 'content-type': type } : {}), ...(accept ? { accept } : {}) },
  });
  const text = await res.text();
  let parsed: Json = {};
  try {
    parsed = text ? (JSON.parse(text) as Json) : {};
  } catch {
    // not JSON (FHIR XML)
  }
  return { status: res.status, body: parsed, headers: res.headers as unknown as Headers, text };
}

const submitJson = (node: Node, bundle: Json) =>
  call(node, 'POST', '/messages', JSON.stringify(bundle), 'application/fhir+json');

async function message(node: Node, id: string): Promise<Json> {
  const r = await call(node, 'GET', `/messages/${id}`);
  assert.equal(r.status, 200, r.text);
  return r.body;
}

async function inbox(node: Node): Promise<Json[]> {
  const r = await call(node, 'GET', '/inbox');
  assert.equal(r.status, 200, r.text);
  return r.body as unknown as Json[];
}

const waitStatus = (node: Node, id: string, status: string) =>
  until(`message ${id} ${status}`, async () => {
    const m = await message(node, id);
    return m.status === status ? m : undefined;
  });

const inboxItemFor = (node: Node, messageHeaderId: string) =>
  until(`inbox item ${messageHeaderId}`, async () =>
    (await inbox(node)).find((i) => i.messageHeaderId === messageHeaderId),
  );

const headerId = (bundle: Json): string => bundle.entry[0].resource.id;

async function count(node: Node, table: 'msh_messages' | 'msh_inbox' | 'jobs'): Promise<number> {
  const r = await node.test.store.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/** Open `GET /inbox/stream` and wait for the `message` event of a MessageHeader.id (30 s at most). */
async function openStream(node: Node, messageHeaderId: string): Promise<{ event: Promise<Json> }> {
  const controller = new AbortController();
  const res = await node.fetch(`${node.url}/inbox/stream`, { signal: controller.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const reader = res.body!.getReader();
  let text = '';
  const read = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error('the event stream ended');
      text += Buffer.from(value).toString('utf8');
      for (const block of text.split('\n\n')) {
        const m = /^event: message\ndata: (.*)$/.exec(block);
        if (m?.[1]?.includes(messageHeaderId)) return JSON.parse(m[1]) as Json;
      }
    }
  })();
  let timer: NodeJS.Timeout | undefined;
  const event = Promise.race([
    read,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('no server-sent event within 30 s')), 30_000);
    }),
  ]).finally(() => {
    clearTimeout(timer);
    controller.abort();
  });
  event.catch(() => {});
  return { event };
}

/** Envelopes B sent back for an envelope of A: EnvelopeReceipts naming it as ORIGINALENVELOPEIDENTIFIER. */
function receiptsFor(node: Node, envelopeId: string) {
  return node.ap.sent
    .filter((s) => s.submission.documentType === RECEIPT_DOCUMENT_ID)
    .map((s) => parse(s.bytes))
    .filter((e) => scopeValue(e, 'ORIGINALENVELOPEIDENTIFIER') === envelopeId);
}

/** MedCom acknowledgements B sent (their Bundles). */
function acknowledgementsSent(node: Node, of: string): Json[] {
  return node.ap.sent
    .map((s) => parse(s.bytes))
    .filter((e) => e.documentIdentification.standard === 'acknowledgement-message')
    .map((e) => JSON.parse(payloadOf(e).toString('utf8')) as Json)
    .filter((b) => b.entry[0].resource.response.identifier === of);
}

/** The document archive (EMR) participant. */
const ARCHIVE = '0088:5790000000012';
/** A message definition of ehmi-message-definition-uri: the OIOXML correspondence letter (ClinicalEmail). */
const XDIS91 = 'urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:meddis:xdis91:xd9134l';

let pki: TestPki;
before(async () => {
  pki = await testPki();
});
after(async () => {
  await removeDir(pki.dir);
});

for (const engine of engines()) {
  describe(`message service handler (${engine.name})`, { skip: engine.skip }, () => {
    let a: Node;
    let b: Node;

    before(async () => {
      a = await startNode(engine, pki, 'a', {
        archive: { participant: ARCHIVE, messageTypes: ['homecareobservation-message'] },
      });
      b = await startNode(engine, pki, 'b');
      a.ap.peers.set(`0088:${ORG_B.gln}`, b.msh.backend);
      b.ap.peers.set(`0088:${ORG_A.gln}`, a.msh.backend);
      // The archive's access point takes copies and answers nothing (it is not an MSH of ours).
      a.ap.peers.set(ARCHIVE, { deliver: async () => {}, outcome: async () => {} });
    });
    after(async () => {
      await stopNode(a, b);
      assert.deepEqual(a?.ap.errors ?? [], []);
      assert.deepEqual(b?.ap.errors ?? [], []);
    });

    it('accepts a FHIR JSON message (202), delivers it to the receiver, and goes accepted → sent → receipted → acknowledged with the EDS steps in order', async () => {
      const bundle = homecare();
      const r = await submitJson(a, bundle);
      assert.equal(r.status, 202, r.text);
      assert.equal(r.body.status, 'accepted');
      assert.equal(r.headers.get('location'), `/messages/${r.body.id}`);
      assert.equal(r.body.messageHeaderId, headerId(bundle));
      assert.equal(r.body.bundleId, bundle.id);
      assert.equal(r.body.sender, `0088:${ORG_A.gln}`);
      assert.equal(r.body.receiver, `0088:${ORG_B.gln}`);

      const item = await inboxItemFor(b, headerId(bundle));
      assert.equal(item.type, 'homecareobservation-message');
      assert.equal(item.sender, `0088:${ORG_A.gln}`);
      assert.equal(item.bundleId, bundle.id);

      const receipted = await waitStatus(a, r.body.id, 'receipted');
      assert.equal(receipted.needsAction, null);
      assert.equal(receipted.acknowledgement, null);

      const ack = await call(
        b,
        'POST',
        `/inbox/${item.id}/$acknowledge`,
        JSON.stringify({ code: 'ok' }),
        'application/json',
      );
      assert.equal(ack.status, 202, ack.text);
      const done = await waitStatus(a, r.body.id, 'acknowledged');
      assert.equal(done.acknowledgement.code, 'ok');
      assert.deepEqual(
        done.events.map((e: Json) => e.code),
        ['01.1', '02.1', '02.2', '03.1', '03.2', '10.1', '15.1'],
      );
      assert.deepEqual(
        done.events.map((e: Json) => e.station),
        ['eua', 'msh', 'msh', 'ap', 'ap', 'msh', 'msh'],
      );
      assert.ok(done.events.every((e: Json) => e.outcome === 'success'));
      // The acknowledgement travels as a tracked message of B's, and is receipted by A (never acknowledged).
      await waitStatus(b, ack.body.id, 'receipted');
      const second = await call(
        b,
        'POST',
        `/inbox/${item.id}/$acknowledge`,
        '{"code":"ok"}',
        'application/json',
      );
      assert.equal(second.status, 409);
    });

    it('accepts FHIR XML and serves a received message as JSON or XML, as the client asks', async () => {
      const bundle = homecare();
      const xml = `<?xml version="1.0" encoding="UTF-8"?>${jsonToXml(bundle)}`;
      const r = await call(a, 'POST', '/messages', xml, 'application/fhir+xml');
      assert.equal(r.status, 202, r.text);
      const item = await inboxItemFor(b, headerId(bundle));

      const asXml = await call(b, 'GET', `/inbox/${item.id}`, undefined, undefined, 'application/fhir+xml');
      assert.equal(asXml.status, 200);
      assert.match(asXml.headers.get('content-type') ?? '', /^application\/fhir\+xml/);
      assert.equal(asXml.text, xml, 'the XML as it was sent');

      const asJson = await call(b, 'GET', `/inbox/${item.id}`);
      assert.equal(asJson.status, 200);
      assert.match(asJson.headers.get('content-type') ?? '', /^application\/fhir\+json/);
      assert.equal(asJson.body.resourceType, 'Bundle');
      assert.equal(asJson.body.id, bundle.id);
      assert.equal(headerId(asJson.body), headerId(bundle));

      // A resend keeps the format: FHIR XML with a new Bundle.id, delivered once.
      await waitStatus(a, r.body.id, 'receipted');
      const again = await call(a, 'POST', `/messages/${r.body.id}/$resend`);
      assert.equal(again.status, 202, again.text);
      const resent = await until('the resent envelope', async () =>
        a.ap.sent.find((s) => s.submission.submissionId === again.body.envelopeId),
      );
      const payload = payloadOf(parse(resent.bytes)).toString('utf8');
      assert.match(payload, /^<\?xml[^>]*\?><Bundle xmlns="http:\/\/hl7.org\/fhir">/);
      assert.doesNotMatch(payload, new RegExp(`<id value="${bundle.id}"/>`));
      await waitStatus(a, r.body.id, 'receipted');
      assert.equal((await inbox(b)).filter((i) => i.messageHeaderId === headerId(bundle)).length, 1);
    });

    it('serves a JSON message as XML when asked', async () => {
      const bundle = homecare();
      const r = await submitJson(a, bundle);
      assert.equal(r.status, 202, r.text);
      const item = await inboxItemFor(b, headerId(bundle));
      const asXml = await call(b, 'GET', `/inbox/${item.id}`, undefined, undefined, 'application/fhir+xml');
      assert.equal(asXml.status, 200);
      assert.match(asXml.text, /<Bundle xmlns="http:\/\/hl7.org\/fhir"><id value="[^"]+"\/>/);
      const asJson = await call(b, 'GET', `/inbox/${item.id}`, undefined, undefined, 'application/fhir+json');
      assert.deepEqual(asJson.body, bundle);
      // Its EnvelopeReceipt taken by the sender before the next test counts the sender's jobs.
      await waitStatus(a, r.body.id, 'receipted');
    });

    it('refuses a Bundle that fails its profile with 422 and the OperationOutcome, and queues nothing', async () => {
      const bundle = homecare();
      delete bundle.timestamp;
      (bundle.entry[0].resource as Json).eventCoding.code = 'not-a-medcom-event';
      const before = [await count(a, 'msh_messages'), await count(a, 'jobs')];
      const r = await submitJson(a, bundle);
      assert.equal(r.status, 422, r.text);
      assert.equal(r.body.resourceType, 'OperationOutcome');
      assert.ok(r.body.issue.length > 1, 'every validator issue is listed');
      assert.ok(
        r.body.issue.some((i: Json) => (i.expression ?? []).some((e: string) => e.startsWith('Bundle'))),
      );
      assert.deepEqual([await count(a, 'msh_messages'), await count(a, 'jobs')], before);
    });

    it('asks its access point whether the receiver is registered for the document type and process before it accepts (202)', async () => {
      const checks = a.ap.checks.length;
      const r = await submitJson(a, homecare());
      assert.equal(r.status, 202, r.text);
      const asked = a.ap.checks.slice(checks);
      assert.equal(asked.length, 1);
      assert.equal(asked[0]!.receiver, `0088:${ORG_B.gln}`);
      assert.match(asked[0]!.documentType, /homecareobservation-message/);
      assert.equal(asked[0]!.process, 'urn:ehmi:sdn-emergence');
      await waitStatus(a, r.body.id, 'receipted');
    });

    it('refuses a message to a receiver the register does not serve with 422 EHMI_RECEIVER_NOT_REGISTERED naming it, and stores nothing', async () => {
      const receiver = `0088:${ORG_B.gln}`;
      a.ap.unregistered.add(receiver);
      try {
        const before = [await count(a, 'msh_messages'), await count(a, 'jobs'), a.ap.sent.length];
        const r = await submitJson(a, homecare());
        assert.equal(r.status, 422, r.text);
        assert.equal(r.body.resourceType, 'OperationOutcome');
        const issue = r.body.issue[0] as Json;
        assert.equal(issue.code, 'not-found');
        assert.equal(issue.details.coding[0].code, 'EHMI_RECEIVER_NOT_REGISTERED');
        assert.match(
          issue.details.text,
          new RegExp(
            `receiver ${receiver} is not registered in the SMP for document type .*homecareobservation`,
          ),
        );
        assert.deepEqual(issue.expression, ['MessageHeader.destination.receiver']);
        // The same for any payload.
        const query = new URLSearchParams({
          receiver,
          documentType: XDIS91,
          process: 'urn:ehmi:sdn-emergence',
          patientId: '0101010227',
        });
        const payload = await call(a, 'POST', `/payloads?${query}`, '<Letter/>', 'application/xml');
        assert.equal(payload.status, 422, payload.text);
        assert.deepEqual(payload.body.issue[0].expression, ['receiver']);
        assert.deepEqual([await count(a, 'msh_messages'), await count(a, 'jobs'), a.ap.sent.length], before);
      } finally {
        a.ap.unregistered.delete(receiver);
      }
    });

    it('accepts the message (202) when discovery cannot be reached: no false 422, the access point retries', async () => {
      a.ap.discoveryDown = true;
      try {
        const r = await submitJson(a, homecare());
        assert.equal(r.status, 202, r.text);
        await waitStatus(a, r.body.id, 'receipted');
      } finally {
        a.ap.discoveryDown = false;
      }
    });

    it('answers an unreadable body with 400, another media type with 415, and queues nothing', async () => {
      const before = await count(a, 'jobs');
      const broken = await call(
        a,
        'POST',
        '/messages',
        '{"resourceType": "Bundle", ',
        'application/fhir+json',
      );
      assert.equal(broken.status, 400, broken.text);
      assert.equal(broken.body.resourceType, 'OperationOutcome');
      const badXml = await call(
        a,
        'POST',
        '/messages',
        '<Bundle xmlns="http://hl7.org/fhir">',
        'application/fhir+xml',
      );
      assert.equal(badXml.status, 400, badXml.text);
      const text = await call(a, 'POST', '/messages', 'hello', 'text/plain');
      assert.equal(text.status, 415, text.text);
      assert.equal(await count(a, 'jobs'), before);
    });

    it('records the hand-over (02.2, 03.1) once when the dispatch job of an envelope runs again after it', async () => {
      const bundle = homecare();
      const r = await submitJson(a, bundle);
      assert.equal(r.status, 202, r.text);
      await waitStatus(a, r.body.id, 'receipted');
      // The job repeated, as after a crash between the AP's commit and the job's end.
      await a.ctx.queue.enqueue(a.test.store.db, {
        queue: QUEUES.dispatch,
        payload: { submissionId: r.body.envelopeId },
      });
      await until('the repeated dispatch job done', async () =>
        (await a.test.store.db
          .selectFrom('jobs')
          .select('id')
          .where('queue', '=', QUEUES.dispatch)
          .where('status', 'in', ['ready', 'running'])
          .executeTakeFirst()) === undefined
          ? true
          : undefined,
      );
      await a.msh.idle({ drained: true });
      const codes = (await message(a, r.body.id)).events.map((e: Json) => e.code);
      assert.deepEqual(
        codes.filter((c: string) => c === '02.2' || c === '03.1'),
        ['02.2', '03.1'],
      );
      assert.equal(a.ap.sent.filter((s) => s.submission.submissionId === r.body.envelopeId).length, 1);
    });

    it('answers an identical resubmission with 200 and the same id, and sends nothing again', async () => {
      const bundle = homecare();
      const first = await submitJson(a, bundle);
      assert.equal(first.status, 202);
      await inboxItemFor(b, headerId(bundle));
      const messages = await count(a, 'msh_messages');
      const again = await submitJson(a, bundle);
      assert.equal(again.status, 200, again.text);
      assert.equal(again.body.id, first.body.id);
      assert.equal(again.body.envelopeId, first.body.envelopeId);
      assert.equal(await count(a, 'msh_messages'), messages);
      // The same MessageHeader.id with another Bundle.id is a resend, which is explicit.
      const changed = await submitJson(a, { ...bundle, id: crypto.randomUUID() });
      assert.equal(changed.status, 409, changed.text);
      await a.ap.idle();
      await b.ap.idle();
      assert.equal((await inbox(b)).filter((i) => i.messageHeaderId === headerId(bundle)).length, 1);
    });

    it('resends with a new envelope and Bundle.id and the same MessageHeader.id, at most twice (then 409); the receiver delivers it once and answers with the same receipt content', async () => {
      const bundle = homecare();
      const r = await submitJson(a, bundle);
      await waitStatus(a, r.body.id, 'receipted');
      const firstEnvelope = r.body.envelopeId as string;

      const one = await call(a, 'POST', `/messages/${r.body.id}/$resend`);
      assert.equal(one.status, 202, one.text);
      assert.equal(one.body.resends, 1);
      assert.notEqual(one.body.envelopeId, firstEnvelope);
      const after1 = await waitStatus(a, r.body.id, 'receipted');
      assert.equal(after1.messageHeaderId, headerId(bundle));
      assert.notEqual(after1.bundleId, bundle.id);
      assert.equal(after1.envelopeId, one.body.envelopeId);

      // MR8.R: delivered once; the duplicate's EnvelopeReceipt has the first one's content.
      assert.equal((await inbox(b)).filter((i) => i.messageHeaderId === headerId(bundle)).length, 1);
      const [r1] = receiptsFor(b, firstEnvelope);
      const [r2] = receiptsFor(b, one.body.envelopeId);
      assert.ok(r1 && r2);
      assert.equal(r2.documentIdentification.type, 'ReceiptAcknowledgement');
      assert.equal(r2.documentIdentification.type, r1.documentIdentification.type);
      assert.equal(scopeValue(r2, 'MESSAGEIDENTIFIER'), scopeValue(r1, 'MESSAGEIDENTIFIER'));
      assert.equal(scopeValue(r2, 'ORIGINALMESSAGEIDENTIFIER'), headerId(bundle));
      assert.notEqual(
        r2.documentIdentification.instanceIdentifier,
        r1.documentIdentification.instanceIdentifier,
      );

      const two = await call(a, 'POST', `/messages/${r.body.id}/$resend`);
      assert.equal(two.status, 202, two.text);
      assert.equal(two.body.resends, 2);
      const three = await call(a, 'POST', `/messages/${r.body.id}/$resend`);
      assert.equal(three.status, 409, three.text);
      assert.equal((await message(a, r.body.id)).resends, 2);
      const unknown = await call(a, 'POST', `/messages/${crypto.randomUUID()}/$resend`);
      assert.equal(unknown.status, 404);
    });

    it('answers a duplicate of an acknowledged message with the stored acknowledgement again (new Bundle.id and timestamp)', async () => {
      const bundle = homecare();
      const r = await submitJson(a, bundle);
      const item = await inboxItemFor(b, headerId(bundle));
      assert.equal(
        (await call(b, 'POST', `/inbox/${item.id}/$acknowledge`, '{"code":"ok"}', 'application/json')).status,
        202,
      );
      await waitStatus(a, r.body.id, 'acknowledged');

      // The same message in a new envelope (a resend the sender made before the acknowledgement came back).
      const again = resendMessage(bundle as never) as unknown as Json;
      const envelope = Buffer.from(await wrap(JSON.stringify(again)));
      await a.ap.deliverTo(
        b.msh.backend,
        {
          sender: `0088:${ORG_A.gln}`,
          receiver: `0088:${ORG_B.gln}`,
          process: 'urn:ehmi:sdn-emergence',
          documentType: 'x',
        },
        envelope,
        `${crypto.randomUUID()}@test`,
      );
      const acks = await until('the stored acknowledgement again', async () => {
        const found = acknowledgementsSent(b, headerId(bundle));
        return found.length === 2 ? found : undefined;
      });
      const [first, second] = acks as [Json, Json];
      assert.notEqual(second.id, first.id, 'new Bundle.id');
      assert.equal(headerId(second), headerId(first), 'same acknowledgement MessageHeader.id');
      assert.deepEqual(second.entry, first.entry, 'same content');
      assert.equal((await inbox(b)).filter((i) => i.messageHeaderId === headerId(bundle)).length, 1);
      // A ignores the duplicate acknowledgement: one 15.1.
      await b.ap.idle();
      await a.ap.idle();
      const m = await message(a, r.body.id);
      assert.equal(m.status, 'acknowledged');
      assert.equal(m.events.filter((e: Json) => e.code === '15.1').length, 1);
    });

    it('marks the message failed on a fatal-error acknowledgement', async () => {
      const bundle = homecare();
      const r = await submitJson(a, bundle);
      const item = await inboxItemFor(b, headerId(bundle));
      const nack = await call(
        b,
        'POST',
        `/inbox/${item.id}/$acknowledge`,
        JSON.stringify({ code: 'fatal-error', text: 'Unknown NPU code' }),
        'application/fhir+json',
      );
      assert.equal(nack.status, 202, nack.text);
      const failed = await waitStatus(a, r.body.id, 'failed');
      assert.equal(failed.acknowledgement.code, 'fatal-error');
      assert.match(failed.failure.reason, /fatal-error.*Unknown NPU code/);
      const last = failed.events.at(-1);
      assert.deepEqual([last.code, last.outcome], ['15.1', 'failure']);
    });

    it('marks the message failed on a ReceiptException for an illegible envelope', async () => {
      const bundle = homecare();
      a.ap.tamper = (bytes, s) =>
        s.documentType === RECEIPT_DOCUMENT_ID
          ? bytes
          : Buffer.from(
              bytes
                .toString('utf8')
                .replace('<HeaderVersion>1.0</HeaderVersion>', '<HeaderVersion>9.9</HeaderVersion>'),
            );
      try {
        const r = await submitJson(a, bundle);
        const failed = await waitStatus(a, r.body.id, 'failed');
        assert.match(failed.failure.reason, /ReceiptException \(Syntax\)/);
        const last = failed.events.at(-1);
        assert.deepEqual([last.code, last.outcome], ['10.1', 'failure']);
      } finally {
        a.ap.tamper = undefined;
      }
      assert.equal((await inbox(b)).filter((i) => i.messageHeaderId === headerId(bundle)).length, 0);
    });

    it('removes an inbox item with DELETE (204), then 404', async () => {
      const bundle = homecare();
      await submitJson(a, bundle);
      const item = await inboxItemFor(b, headerId(bundle));
      const del = await call(b, 'DELETE', `/inbox/${item.id}`);
      assert.equal(del.status, 204);
      assert.equal(
        (await inbox(b)).some((i) => i.id === item.id),
        false,
      );
      assert.equal((await call(b, 'GET', `/inbox/${item.id}`)).status, 404);
      assert.equal((await call(b, 'DELETE', `/inbox/${crypto.randomUUID()}`)).status, 404);
    });

    it('pushes a new inbox item as a server-sent event', async () => {
      const bundle = homecare();
      const stream = await openStream(b, headerId(bundle));
      assert.equal((await submitJson(a, bundle)).status, 202);
      const event = await stream.event;
      assert.equal(event.messageHeaderId, headerId(bundle));
      assert.equal(event.type, 'homecareobservation-message');
    });

    it('refuses a client without a certificate, or with one from another CA, with 401', async () => {
      const anonymous = clientFetch(pki, undefined);
      const res = await anonymous(`${b.url}/inbox`);
      assert.equal(res.status, 401);
      const oo = (await res.json()) as Json;
      assert.equal(oo.issue[0].details.coding[0].code, 'EHMI_UNAUTHORIZED');
      const stranger = clientFetch(pki, pki.stranger);
      assert.equal((await stranger(`${b.url}/messages`)).status, 401);
      assert.equal((await anonymous(`${b.url}/health`)).status, 200);
    });

    it('serves its OpenAPI 3.1 document, generated from the route schemas and listing every route', async () => {
      const r = await call(a, 'GET', '/openapi.json');
      assert.equal(r.status, 200);
      assertOpenApiListsEveryRoute(a.msh.app, r.body);
      assert.match(r.body.paths['/messages/{id}'].get.description, /10\.1 receiver's EnvelopeReceipt/);
      assert.ok(r.body.components.schemas.MessageSummary);
      for (const path of [
        '/messages',
        '/payloads',
        '/messages/{id}',
        '/messages/{id}/$resend',
        '/inbox',
        '/inbox/{id}',
        '/inbox/{id}/$acknowledge',
        '/inbox/stream',
      ]) {
        assert.ok(r.body.paths[path], path);
      }
    });

    it('refuses a bad path or query parameter with 400 and an OperationOutcome naming it', async () => {
      for (const [path, field] of [
        ['/messages?status=bogus', 'status'],
        ['/messages?needsAction=later', 'needsAction'],
        ['/messages/not-a-uuid', 'id'],
        ['/inbox/not-a-uuid', 'id'],
      ] as const) {
        const r = await call(a, 'GET', path);
        assert.equal(r.status, 400, path);
        assert.match(r.headers.get('content-type') ?? '', /application\/fhir\+json/);
        assert.equal(r.body.resourceType, 'OperationOutcome');
        assert.equal(r.body.issue[0].details.coding[0].code, 'EHMI_USAGE');
        assert.deepEqual(r.body.issue[0].expression, [field], path);
      }
    });

    it('sends any payload with explicit metadata (POST /payloads) and delivers it as it was', async () => {
      const letter =
        '<?xml version="1.0" encoding="UTF-8"?><Letter xmlns="urn:test:oioxml"><Text>Hej</Text></Letter>';
      const query = new URLSearchParams({
        receiver: `0088:${ORG_B.gln}`,
        documentType: XDIS91,
        process: 'urn:ehmi:sdn-emergence',
        patientId: '0101010227',
      });
      const r = await call(a, 'POST', `/payloads?${query}`, letter, 'application/xml');
      assert.equal(r.status, 202, r.text);
      assert.equal(r.body.receiver, `0088:${ORG_B.gln}`);
      const item = await until('the payload in the inbox', async () =>
        (await inbox(b)).find((i) => i.messageHeaderId === r.body.messageHeaderId),
      );
      // Standard and TypeVersion follow from the message definition (…:meddis:xdis91:xd9134l).
      assert.equal(item.type, 'xdis91');
      const sent = a.ap.sent.find((s) => s.submission.submissionId === r.body.envelopeId)!;
      const envelope = parse(sent.bytes);
      assert.equal(sent.submission.documentType, XDIS91);
      assert.equal(scopeValue(envelope, 'DOCUMENTID'), XDIS91);
      assert.equal(scopeValue(envelope, 'PROCESSID'), 'urn:ehmi:sdn-emergence');
      assert.equal(envelope.documentIdentification.typeVersion, 'xd9134l');
      const got = await call(b, 'GET', `/inbox/${item.id}`);
      assert.equal(got.text, letter);
      assert.match(got.headers.get('content-type') ?? '', /^application\/xml/);
      await waitStatus(a, r.body.id, 'receipted');
      const missing = await call(a, 'POST', '/payloads?kind=oioxml', letter, 'application/xml');
      assert.equal(missing.status, 400);
    });

    it('refuses a document type outside ehmi-message-definition-uri, or a kind its family does not carry, with 422 naming it', async () => {
      const before = [await count(a, 'msh_messages'), await count(a, 'jobs')];
      const unknown = new URLSearchParams({
        receiver: `0088:${ORG_B.gln}`,
        documentType: 'urn:dk:medcom:oioxml:DIS01',
        process: 'urn:ehmi:sdn-emergence',
      });
      const r = await call(a, 'POST', `/payloads?${unknown}`, '<Letter/>', 'application/xml');
      assert.equal(r.status, 422, r.text);
      assert.deepEqual(r.body.issue[0].expression, ['documentType']);
      assert.match(
        r.body.issue[0].details.text,
        /not a message definition of CodeSystem .*ehmi-message-definition-uri/,
      );
      const mismatch = new URLSearchParams({
        receiver: `0088:${ORG_B.gln}`,
        documentType: 'urn:dk:healthcare:medcom:messaging:edifact:medrpt:rpt01:r0131k',
        process: 'urn:ehmi:sdn-emergence',
        kind: 'cda',
      });
      const m = await call(a, 'POST', `/payloads?${mismatch}`, '<ClinicalDocument/>', 'application/xml');
      assert.equal(m.status, 422, m.text);
      assert.match(
        m.body.issue[0].details.text,
        /a cda payload cannot travel as .*: that document type is EDIFACT, which carries edifact payloads/,
      );
      assert.deepEqual([await count(a, 'msh_messages'), await count(a, 'jobs')], before);
    });

    it('sends a copy with XDS-METADATA to the archive participant once the message was sent', async () => {
      const bundle = homecare();
      const r = await submitJson(a, bundle);
      await waitStatus(a, r.body.id, 'receipted');
      const copy = await until('the archive copy', async () =>
        a.ap.sent.find(
          (s) =>
            s.submission.receiver === ARCHIVE &&
            scopeValue(parse(s.bytes), 'MESSAGEIDENTIFIER') === headerId(bundle),
        ),
      );
      const envelope = parse(copy.bytes);
      const documentReference = JSON.parse(scopeValue(envelope, 'XDS-METADATA')!) as Json;
      assert.equal(documentReference.resourceType, 'DocumentReference');
      // The primary envelope carries no XDS-METADATA ("does not apply to the primary exchange").
      const primary = a.ap.sent.find((s) => s.submission.submissionId === r.body.envelopeId);
      assert.equal(
        parse(primary!.bytes).scopes.some((sc) => sc.type === 'XDS-METADATA'),
        false,
      );
    });

    it('delivers a message once when two instances on one database receive it at the same time (MR8.R)', async () => {
      const second = await openNodeStore({ ...b.test.connection, busyTimeoutMs: 5000, poolSize: 4 });
      const ap2 = new LoopbackAp();
      const queue2 = new JobQueue(second, {
        leaseMs: 30_000,
        maxAttempts: 5,
        backoffBaseMs: 20,
        backoffMaxMs: 200,
      });
      const b2 = await createMsh({ ...b.ctx, store: storeView(second), queue: queue2 }, { accessPoint: ap2 });
      ap2.own = b2.backend;
      ap2.peers.set(`0088:${ORG_A.gln}`, a.msh.backend);
      await b2.start();
      const route = {
        sender: `0088:${ORG_A.gln}`,
        receiver: `0088:${ORG_B.gln}`,
        process: 'urn:ehmi:sdn-emergence',
        documentType: 'x',
      };
      try {
        // A delivery committed by the other instance reaches this instance's event-stream clients too.
        const elsewhere = homecare();
        const stream = await openStream(b, headerId(elsewhere));
        const wrapped = Buffer.from(await wrap(JSON.stringify(elsewhere)));
        await b.ap.deliverTo(b2.backend, route, wrapped, `${crypto.randomUUID()}@test`);
        assert.equal((await stream.event).messageHeaderId, headerId(elsewhere));

        const bundle = homecare();
        const first = Buffer.from(await wrap(JSON.stringify(bundle)));
        const resent = Buffer.from(await wrap(JSON.stringify(resendMessage(bundle as never))));
        const ids = [1, 2, 3, 4].map(() => `${crypto.randomUUID()}@test`);
        await Promise.all([
          b.ap.deliverTo(b.msh.backend, route, first, ids[0]!),
          b.ap.deliverTo(b2.backend, route, first, ids[1]!),
          b.ap.deliverTo(b.msh.backend, route, resent, ids[2]!),
          b.ap.deliverTo(b2.backend, route, resent, ids[3]!),
          // The AP repeating a delivery after a crash: the same AS4 MessageId again.
          b.ap.deliverTo(b2.backend, route, first, ids[0]!),
        ]);
        assert.equal((await inbox(b)).filter((i) => i.messageHeaderId === headerId(bundle)).length, 1);
        // Both instances have handed everything they queued to their access points.
        await Promise.all([b.msh.idle({ drained: true }), b2.idle({ drained: true })]);
        const receipts = [...b.ap.sent, ...ap2.sent]
          .filter((s) => s.submission.documentType === RECEIPT_DOCUMENT_ID)
          .map((s) => parse(s.bytes))
          .filter((e) => scopeValue(e, 'ORIGINALMESSAGEIDENTIFIER') === headerId(bundle));
        assert.equal(receipts.length, 4, 'one receipt per AS4 message');
        assert.equal(
          new Set(receipts.map((e) => scopeValue(e, 'MESSAGEIDENTIFIER'))).size,
          1,
          'the same receipt content',
        );
      } finally {
        await ap2.idle();
        await b2.close();
        await second.close();
      }
    });

    it('marks a message without an EnvelopeReceipt by its deadline as needing action, then one without an acknowledgement', async () => {
      b.ap.drop = (s) => s.documentType === RECEIPT_DOCUMENT_ID;
      try {
        const r = await submitJson(a, homecare());
        await waitStatus(a, r.body.id, 'sent');
        await b.ap.idle();
        const now = Date.now();
        await a.msh.sweep(now + a.ctx.config.receiptTimeoutMs + 1000);
        const late = await message(a, r.body.id);
        assert.equal(late.status, 'sent');
        assert.equal(late.needsAction, 'missing-receipt');
        const last = late.events.at(-1);
        assert.deepEqual([last.code, last.outcome], ['10.1', 'failure']);
        const listed = await call(a, 'GET', '/messages?needsAction=missing-receipt');
        assert.ok((listed.body as unknown as Json[]).some((m) => m.id === r.body.id));

        await a.msh.sweep(now + a.ctx.config.acknowledgementTimeoutMs + 1000);
        assert.equal((await message(a, r.body.id)).needsAction, 'missing-acknowledgement');
        const bad = await call(a, 'GET', '/messages?status=bogus');
        assert.equal(bad.status, 400);
      } finally {
        b.ap.drop = undefined;
      }
    });

    it('purges removed inbox items with their duplicate keys and blobs after the retention period, and blobs of rolled-back transactions', async () => {
      const bundle = homecare();
      await submitJson(a, bundle);
      const item = await inboxItemFor(b, headerId(bundle));
      assert.equal((await call(b, 'DELETE', `/inbox/${item.id}`)).status, 204);
      const row = await b.test.store.db
        .selectFrom('msh_inbox')
        .selectAll()
        .where('id', '=', item.id)
        .executeTakeFirstOrThrow();
      // storeBlob notes the write before the transaction that would have named it (which then rolled back).
      const orphan = await storeBlob(b.test.store, 'written for a transaction that rolled back', {
        now: Date.now() - 2 * 3_600_000,
      });
      // The AP keeps the payload it received under the same content hash (blobs are the node's, shared).
      const held = await b.test.store.blobs.put('held by the access point');
      // Its put wrote its row (a small blob is kept there): noted long ago.
      await b.test.store.db
        .updateTable('blobs')
        .set({ created_at: 0 })
        .where('hash', '=', held.hash)
        .execute();
      await b.test.store.db
        .insertInto('ap_received')
        .values({
          message_id: `${crypto.randomUUID()}@test`,
          status: 'delivered',
          sender: `0088:${ORG_A.gln}`,
          receiver: `0088:${ORG_B.gln}`,
          process: 'p',
          document_type: 'd',
          conversation_id: 'c',
          blob_hash: held.hash,
          blob_size: held.size,
          receipt: '<receipt/>',
          received_at: 0,
          delivered_at: 0,
        })
        .execute();
      // Recorded long ago, named by nothing any more (its rows were purged).
      const stale = await b.test.store.blobs.put('recorded, no longer named');
      // Its put wrote its row (a small blob is kept there): noted long ago.
      await b.test.store.db
        .updateTable('blobs')
        .set({ created_at: 0 })
        .where('hash', '=', stale.hash)
        .execute();

      await b.msh.sweep(Date.now());
      // The node's blob garbage collection (node.ts runs it on blobs.gcIntervalMs) keeps what any role names.
      await collectBlobGarbage(b.test.store, { graceMs: 3_600_000, references: BLOB_REFERENCES });
      assert.equal(await b.test.store.blobs.has(orphan.hash), false, 'orphan removed');
      assert.equal(await b.test.store.blobs.has(held.hash), true, 'a blob the AP names stays');
      assert.equal(await b.test.store.blobs.has(stale.hash), false, 'a recorded blob nothing names goes');
      const staleRow = await b.test.store.db
        .selectFrom('blobs')
        .select('hash')
        .where('hash', '=', stale.hash)
        .execute();
      assert.deepEqual(staleRow, []);
      assert.equal(await b.test.store.blobs.has(row.envelope_hash), true, 'still within retention');

      const later = Date.now() + (b.ctx.config.retentionDays + 1) * 86_400_000;
      await b.msh.sweep(later);
      await collectBlobGarbage(b.test.store, { graceMs: 3_600_000, now: later, references: BLOB_REFERENCES });
      assert.equal(
        await b.test.store.db
          .selectFrom('msh_inbox')
          .select('id')
          .where('id', '=', item.id)
          .executeTakeFirst(),
        undefined,
      );
      const keys = await b.test.store.db
        .selectFrom('msh_dedup')
        .select('key')
        .where('inbox_id', '=', item.id)
        .execute();
      assert.deepEqual(keys, []);
      assert.equal(await b.test.store.blobs.has(row.envelope_hash), false, 'its envelope removed');
    });
  });
}
