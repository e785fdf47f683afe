// Two nodes of the local network (municipality → gp) over HTTPS with their real MSHs and access points, each
// reporting to an EDS stand-in over HTTPS: a prøvesvar and its acknowledgement produce exactly the events the step
// table names for the flow, each once and valid against its profile, and nothing is lost while EDS is down.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { shippedValidator } from '@ehmi/fhir';
import { EDS, EDS_STEPS, readDeliveryStatus } from '@ehmi/sbdh';
import type { RunningNode } from '../../src/node.ts';
import {
  engines,
  eventually,
  FAST,
  inbox,
  makePair,
  type Pair,
  reaches,
  status,
  submit,
} from '../e2e/helpers.ts';
import { type EdsDouble, startEdsDouble } from './eds-double.ts';

/** Every step of the four flows, as the stations of two nodes take them (the EUA's x.2 stands for its x.1). */
const FLOW_STEPS = EDS_STEPS.filter((s) => !(s.station === 'EUA' && s.subtype === 'msg-sent')).map(
  (s) => s.code,
);

/** Wait until a node has nothing left to report: its stations idle, then its `eds.report` queue drained. */
async function drained(node: RunningNode): Promise<void> {
  await node.msh?.idle({ drained: true });
  await node.accessPoint?.idle({ drained: true });
  await node.deliveryStatus.idle({ drained: true });
}

for (const engine of engines()) {
  describe(`every station reports its steps to EDS (${engine.name})`, { skip: engine.skip }, () => {
    let pair: Pair;
    let double: EdsDouble;
    const validator = shippedValidator();

    before(async () => {
      pair = await makePair(engine, FAST);
      const central = pair.plan.pki.central.tlsServer;
      double = await startEdsDouble({
        key: readFileSync(central.key, 'utf8'),
        cert: readFileSync(central.cert, 'utf8'),
      });
      for (const o of pair.plan.organisations) {
        o.config.deliveryStatus.url = double.url;
        o.config.deliveryStatus.backoffBaseMs = 50;
        o.config.deliveryStatus.backoffMaxMs = 250;
      }
      // municipality gives up on a receiver after three AS4 attempts (the failed send below).
      const municipality = pair.plan.organisations.find((o) => o.spec.name === 'municipality')!;
      municipality.config.ap.send.maxAttempts = 3;
      await Promise.all([pair.start('municipality'), pair.start('gp')]);
    });
    after(async () => {
      await pair?.cleanup();
      await double?.close();
    });

    const eventsOf = (messageIds: string[]) =>
      double.stored
        .map((e) => ({ e, v: readDeliveryStatus(e)! }))
        .filter(
          ({ v }) => messageIds.includes(v.messageId) || messageIds.includes(v.originalMessageId ?? ''),
        );

    it('a prøvesvar and its acknowledgement: 01.1 … 20.1, each once, valid; EDS down meanwhile loses nothing', {
      timeout: 180_000,
    }, async () => {
      double.mode = 'down';
      const sent = await submit(pair);
      const item = await eventually('the prøvesvar in gp’s inbox', async () =>
        (await inbox(pair, 'gp')).find((i) => i.messageHeaderId === sent.body.messageHeaderId),
      );
      // 06.1: the receiving EUA reads it; 11.1: it acknowledges.
      assert.equal((await pair.client.call('gp', 'GET', `/inbox/${item.id}`)).status, 200);
      const ack = await pair.client.call('gp', 'POST', `/inbox/${item.id}/$acknowledge`, {
        bytes: JSON.stringify({ code: 'ok' }),
        contentType: 'application/json',
      });
      assert.equal(ack.status, 202, ack.text);
      const ackId = (ack.json as { id: string }).id;
      // 16.1: the sender's EUA reads the message once the acknowledgement is there.
      await reaches(pair, 'municipality', sent.body.id, 'acknowledged');
      await eventually('the EnvelopeReceipt of the message (10.1)', async () =>
        (await status(pair, 'municipality', sent.body.id)).events.find((e) => e.code === '10.1'),
      );
      // 20.1: the EnvelopeReceipt of the acknowledgement is back at gp.
      await reaches(pair, 'gp', ackId, 'receipted');
      for (const node of [pair.nodes.municipality!, pair.nodes.gp!]) {
        await node.msh?.idle({ drained: true });
        await node.accessPoint?.idle({ drained: true });
      }
      // Every station has taken its steps; their reports keep being tried while EDS is down.
      await double.until((d) => (d.answered[503] ?? 0) >= 2 * FLOW_STEPS.length);
      assert.equal(double.stored.length, 0, 'nothing reaches EDS while it is down');
      assert.ok((double.answered[503] ?? 0) > 0, 'the reports were tried');
      const ackHeader = (await status(pair, 'gp', ackId)).messageHeaderId;

      double.mode = 'up';
      await Promise.all([drained(pair.nodes.municipality!), drained(pair.nodes.gp!)]);
      const events = eventsOf([sent.body.messageHeaderId, ackHeader]);
      const codes = events.map(({ v }) => v.step?.code ?? `unplaced ${v.subtype}`).sort();
      assert.deepEqual(codes, [...FLOW_STEPS].sort(), 'each step of the table once');
      for (const { e, v } of events) {
        const errors = validator.issues(e).filter((i) => i.severity === 'error');
        assert.deepEqual(errors, [], `${v.step?.code} is valid against its profile`);
        assert.equal(v.outcome, 'success', `${v.step?.code} succeeded`);
        const profile = (e.meta as { profile: string[] }).profile[0];
        if (v.flow === 'message') {
          assert.equal(profile, EDS.patientProfile, `${v.step?.code} names the patient`);
          assert.match(v.patientCpr ?? '', /^\d{10}$/);
        } else {
          assert.equal(profile, EDS.basicProfile, `${v.step?.code} (${v.flow}) carries no patient`);
        }
        // The station that reported is the organisation of its side of the flow.
        const org = v.side === 'origin' ? v.sender : v.receiver;
        const expectedSource = v.step?.station === 'EUA' ? 'EUA-MSH' : v.step?.station;
        assert.equal(v.sourceType, expectedSource, `${v.step?.code} source type`);
        assert.ok(org.sor, `${v.step?.code} names its organisation`);
      }
      // Reading the timelines again reports nothing new (06.1 and 16.1 are once).
      await pair.client.call('gp', 'GET', `/inbox/${item.id}`);
      await status(pair, 'municipality', sent.body.id);
      await Promise.all([drained(pair.nodes.municipality!), drained(pair.nodes.gp!)]);
      assert.equal(eventsOf([sent.body.messageHeaderId, ackHeader]).length, FLOW_STEPS.length);
    });

    it('a send the AP gives up on reports 03.2 as a failure, never as success', {
      timeout: 120_000,
    }, async () => {
      await pair.stop('gp');
      const sent = await submit(pair);
      await reaches(pair, 'municipality', sent.body.id, 'failed', 60_000);
      await drained(pair.nodes.municipality!);
      const events = eventsOf([sent.body.messageHeaderId]);
      const byCode = (code: string) =>
        events.filter(({ v }) => v.step?.code === code).map(({ v }) => v.outcome);
      assert.deepEqual(byCode('03.2'), ['failure']);
      assert.deepEqual(byCode('03.1'), ['success']);
      assert.deepEqual(byCode('02.2'), ['success']);
      assert.deepEqual(byCode('04.1'), []);
      const failed = events.find(({ v }) => v.step?.code === '03.2')!;
      assert.equal(failed.e.outcome, '8');
    });

    it('reports EDS refused are the message’s dead-lettered jobs; POST /messages/{id}/$retry sends them again', {
      timeout: 120_000,
    }, async () => {
      const municipality = pair.nodes.municipality!;
      double.mode = 'refuse';
      const sent = await submit(pair);
      await reaches(pair, 'municipality', sent.body.id, 'failed', 60_000);
      await drained(municipality);
      assert.deepEqual(eventsOf([sent.body.messageHeaderId]), [], 'EDS refused every report');
      const listed = await pair.client.call('municipality', 'GET', `/messages/${sent.body.id}/dead-letters`);
      assert.equal(listed.status, 200, listed.text);
      const dead = listed.json as { id: string; queue: string; attempts: number; error: string | null }[];
      assert.ok(dead.length > 0, 'the refused reports are dead-lettered jobs of the message');
      assert.ok(dead.every((j) => j.queue === 'eds.report' && j.attempts === 1));
      assert.match(dead[0]!.error ?? '', /422|refused/);
      // Another message's dead jobs are not this one's.
      const other = await submit(pair);
      const otherDead = await pair.client.call(
        'municipality',
        'GET',
        `/messages/${other.body.id}/dead-letters`,
      );
      assert.ok(!(otherDead.json as { id: string }[]).some((j) => dead.some((d) => d.id === j.id)));

      // EDS takes them again: the retry puts every one back, and each step reaches EDS once.
      double.mode = 'up';
      const retried = await pair.client.call('municipality', 'POST', `/messages/${sent.body.id}/$retry`);
      assert.equal(retried.status, 202, retried.text);
      assert.deepEqual(
        (retried.json as { retried: { id: string }[] }).retried.map((j) => j.id).sort(),
        dead.map((j) => j.id).sort(),
      );
      await reaches(pair, 'municipality', other.body.id, 'failed', 60_000);
      await drained(municipality);
      const codes = eventsOf([sent.body.messageHeaderId])
        .filter(({ v }) => v.side === 'origin')
        .map(({ v }) => v.step?.code)
        .sort();
      assert.deepEqual(codes, ['01.1', '02.1', '02.2', '03.1', '03.2']);
      const after = await pair.client.call('municipality', 'GET', `/messages/${sent.body.id}/dead-letters`);
      assert.deepEqual(after.json, []);
      // Nothing left to retry: 409.
      const again = await pair.client.call('municipality', 'POST', `/messages/${sent.body.id}/$retry`);
      assert.equal(again.status, 409, again.text);
    });
  });
}
