// GET /messages/{id}/journey: the MSH asks a real EDS role (over HTTP, as the node, deliveryStatus) for the events of
// its own message and answers the journey; EDS away is a 503 with an OperationOutcome. The events are those the
// stations register (buildDeliveryStatus), POSTed to EDS as a station does.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildDeliveryStatus, EDS_STEPS, type EdsMessageFacts } from '@ehmi/sbdh';
import { edsSearch } from '../../src/delivery-status/reader.ts';
import { plainFetch } from '../../src/delivery-status/sender.ts';
import { call, type RunningEds, startEds } from '../eds/helpers.ts';
import { engines, type TestStore } from '../helpers/engines.ts';
import {
  homecare,
  homecareInput,
  type Json,
  type Node,
  ORG_A,
  ORG_B,
  startNode,
  stopNode,
  type TestPki,
  testPki,
  until,
} from './helpers.ts';

const B = `0088:${ORG_B.gln}`;
const A = `0088:${ORG_A.gln}`;

for (const engine of engines()) {
  describe(`MSH: a message's journey from EDS (${engine.name})`, { skip: engine.skip }, () => {
    let pki: TestPki;
    let edsStore: TestStore;
    let eds: RunningEds;
    let a: Node;
    let b: Node;
    let trackingId: string;
    let messageHeaderId: string;

    /** Register a step at EDS as the station of that side does. */
    const register = async (
      code: string,
      facts: EdsMessageFacts,
      at: Date,
      outcome: 'success' | 'failure' = 'success',
    ) => {
      const step = EDS_STEPS.find((s) => s.code === code)!;
      const org = step.side === 'origin' ? facts.sender : facts.receiver;
      const event = buildDeliveryStatus({
        code,
        facts,
        station: {
          deviceId: `${org.sor}-${step.station}`,
          sourceType: step.station === 'EUA' ? 'EUA-MSH' : step.station,
          organisation: org,
        },
        outcome,
        recorded: at,
      });
      const res = await call(`${eds.url}/AuditEvent`, 'POST', event);
      assert.equal(res.status, 201, res.text);
    };

    before(async () => {
      pki = await testPki();
      edsStore = await engine.open();
      eds = await startEds(edsStore);
      const search = edsSearch({ url: eds.url, fetch: plainFetch(undefined), timeoutMs: 5_000 });
      a = await startNode(engine, pki, 'a', {}, { search, due: { receiptMinutes: 10 } });
      b = await startNode(engine, pki, 'b');
      a.ap.peers.set(B, b.msh.backend);
      b.ap.peers.set(A, a.msh.backend);
      const res = await a.fetch(`${a.url}/messages`, {
        method: 'POST',
        body: JSON.stringify(homecare()),
        headers: { 'content-type': 'application/fhir+json' },
      });
      assert.equal(res.status, 202);
      const accepted = (await res.json()) as Json;
      trackingId = accepted.id;
      messageHeaderId = accepted.messageHeaderId;
      await until('receipted', async () => {
        const m = (await (await a.fetch(`${a.url}/messages/${trackingId}`)).json()) as Json;
        return m.status === 'receipted';
      });
    });

    after(async () => {
      await stopNode(a, b);
      await eds?.close();
      await edsStore?.cleanup();
    });

    it('answers the journey of its message from the events EDS holds, by tracking id', async () => {
      const input = homecareInput();
      const sender = { sor: ORG_A.sor, gln: ORG_A.gln, name: input.sender.name };
      const receiver = { sor: ORG_B.sor, gln: ORG_B.gln, name: input.receiver.name };
      const message: EdsMessageFacts = {
        messageId: messageHeaderId,
        messageType: 'homecareobservation-message',
        messageVersion: '1.2',
        transportEnvelopeId: 'env-journey-1',
        sender,
        receiver,
        patientCpr: input.patient.cpr,
      };
      const receipt: EdsMessageFacts = {
        messageId: 'receipt-journey-1',
        messageType: 'ehmisbdh-acknowledgement',
        messageVersion: 'ebbp-signals-2.0',
        transportEnvelopeId: 'receipt-env-journey-1',
        sender: receiver,
        receiver: sender,
        original: {
          messageId: messageHeaderId,
          messageType: 'homecareobservation-message',
          messageVersion: '1.2',
        },
      };
      const t0 = Date.now() - 60_000;
      const codes = ['01.1', '02.1', '02.2', '03.1', '04.1', '04.2', '03.2', '05.1', '05.2'];
      for (const [i, code] of codes.entries()) await register(code, message, new Date(t0 + i * 1000));
      for (const [i, code] of ['07.1', '08.1', '09.1', '08.2', '09.2', '10.1'].entries()) {
        await register(code, receipt, new Date(t0 + 20_000 + i * 1000));
      }
      // Another message's event is not this one's.
      await register('01.1', { ...message, messageId: 'another-message' }, new Date(t0));

      const res = await a.fetch(`${a.url}/messages/${trackingId}/journey`);
      assert.equal(res.status, 200, await res.clone().text());
      const j = (await res.json()) as Json;
      assert.equal(j.id, trackingId);
      assert.equal(j.messageId, messageHeaderId);
      assert.equal(j.status, 'receipted');
      assert.deepEqual(
        j.events.map((e: Json) => e.code),
        [...codes, '07.1', '08.1', '09.1', '08.2', '09.2', '10.1'],
      );
      assert.equal(j.events[0].station, 'Pleje og Rehabilitering/EUA');
      assert.equal(j.events.at(-1).station, 'Pleje og Rehabilitering/MSH');
      assert.deepEqual(j.missing, []);
      // The receiving EUA has not fetched it yet, nor acknowledged it: still to come, by the deadline.
      assert.deepEqual(j.pending.map((p: Json) => p.code).slice(0, 2), ['06.1', '11.1']);
    });

    it('counts the submit → EnvelopeReceipt time of its receipted envelope in ehmi_msh_receipt_seconds', async () => {
      const metric = await a.msh.app.metrics.getSingleMetric('ehmi_msh_receipt_seconds')!.get();
      const named = (name: string) =>
        metric.values.find((v) => (v as { metricName?: string }).metricName === name);
      const count = named('ehmi_msh_receipt_seconds_count');
      const total = named('ehmi_msh_receipt_seconds_sum');
      assert.equal(count?.value, 1, 'the one message sent, receipted once');
      assert.ok((total?.value ?? -1) >= 0);
    });

    it('answers 404 for a message it did not send, and 400 for an id that is no tracking id', async () => {
      const unknown = await a.fetch(`${a.url}/messages/00000000-0000-4000-8000-000000000000/journey`);
      assert.equal(unknown.status, 404);
      assert.equal(((await unknown.json()) as Json).resourceType, 'OperationOutcome');
      assert.equal((await a.fetch(`${a.url}/messages/nope/journey`)).status, 400);
    });

    it('answers 503 with an OperationOutcome when the node names no EDS', async () => {
      const res = await b.fetch(`${b.url}/messages/00000000-0000-4000-8000-000000000001/journey`);
      assert.equal(res.status, 503);
      const oo = (await res.json()) as Json;
      assert.equal(oo.resourceType, 'OperationOutcome');
      assert.match(JSON.stringify(oo), /deliveryStatus\.url/);
    });

    it('answers 503 with an OperationOutcome, not a 500, when EDS cannot be reached', async () => {
      await eds.close();
      const res = await a.fetch(`${a.url}/messages/${trackingId}/journey`);
      assert.equal(res.status, 503);
      const oo = (await res.json()) as Json;
      assert.equal(oo.resourceType, 'OperationOutcome');
      assert.match(JSON.stringify(oo), /EDS .* cannot be reached/);
    });
  });
}
