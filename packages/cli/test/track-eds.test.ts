// `ehmi track` against a real EDS role: a network.json that names EDS, the events the stations register
// (buildDeliveryStatus) POSTed to it, and the journey the command prints from them, in JSON and for people. No MSH
// runs here, so the id is taken as the message's own (the MessageHeader.id EDS knows); the tracking id's way through
// the sending MSH is the MSH's journey test and the running network's.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { planNetwork, writeNetworkManifest } from '@ehmi/network';
import { buildDeliveryStatus, EDS_STEPS, type EdsMessageFacts } from '@ehmi/sbdh';
import { type RunningNode, startNode } from '@ehmi/server';
import { loadConfig } from '@ehmi/server/config';
import pino from 'pino';
import { fetch } from 'undici';
import { runEhmi } from './helpers.ts';

const sender = { sor: '1144561000016002', gln: '5790000123117', name: 'Pleje og Rehabilitering' };
const receiver = { sor: '52581000016005', gln: '5790000127092', name: 'Skødstrup Lægepraksis' };
const MESSAGE = 'c3a1e7b2-5d4f-4a8e-9b61-2f0d7e9a4c15';

const message: EdsMessageFacts = {
  messageId: MESSAGE,
  messageType: 'homecareobservation-message',
  messageVersion: '1.2',
  transportEnvelopeId: 'env-track-1',
  sender,
  receiver,
  patientCpr: '2509479989',
};
const receipt: EdsMessageFacts = {
  messageId: 'receipt-track-1',
  messageType: 'ehmisbdh-acknowledgement',
  messageVersion: 'ebbp-signals-2.0',
  transportEnvelopeId: 'receipt-env-track-1',
  sender: receiver,
  receiver: sender,
  original: { messageId: MESSAGE, messageType: 'homecareobservation-message', messageVersion: '1.2' },
};

describe('ehmi track reads the journey from EDS', () => {
  let dir: string;
  let node: RunningNode;
  let edsUrl: string;
  /** When the AS4 receipt (03.2) was recorded: the EnvelopeReceipt is due ten minutes later. */
  let sentAt: number;

  const register = async (code: string, facts: EdsMessageFacts, at: number) => {
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
      outcome: 'success',
      recorded: new Date(at),
    });
    const res = await fetch(`${edsUrl}/AuditEvent`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify(event),
    });
    assert.equal(res.status, 201, await res.text());
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ehmi-cli-track-'));
    const plan = await planNetwork({ dataDir: dir, portBase: 30100, logger: pino({ level: 'silent' }) });
    node = await startNode(
      loadConfig({
        env: {},
        overrides: {
          dataDir: join(dir, 'eds'),
          insecure: true,
          http: { port: 0 },
          eds: { enabled: true, port: 0 },
          log: { level: 'silent' },
        },
      }),
    );
    edsUrl = node.urls.eds!;
    // The network names EDS; no MSH of it runs (each is asked for the id first, and does not answer).
    const manifest = structuredClone(plan.manifest);
    manifest.services.eds = edsUrl;
    delete manifest.services.auth;
    writeNetworkManifest(dir, manifest);

    // The message went over AS4 twelve minutes ago and has reached the receiving MSH; no EnvelopeReceipt came back.
    const t0 = Date.now() - 12 * 60_000;
    const steps = ['01.1', '02.1', '02.2', '03.1', '04.1', '04.2', '03.2', '05.1', '05.2'];
    for (const [i, code] of steps.entries()) await register(code, message, t0 + i * 1000);
    sentAt = t0 + 6000;
    for (const [i, code] of ['07.1', '08.1', '09.1', '08.2', '09.2'].entries()) {
      await register(code, receipt, t0 + 10_000 + i * 1000);
    }
  });

  after(async () => {
    await node?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('--json: id, status, every step with its station, time and outcome, and 10.1 missing with its due time', async () => {
    const r = await runEhmi(['track', MESSAGE, '--json', '--data', dir]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.id, MESSAGE);
    assert.equal(j.status, 'sent');
    assert.deepEqual(
      j.events.map((e: { code: string }) => e.code),
      [
        '01.1',
        '02.1',
        '02.2',
        '03.1',
        '04.1',
        '04.2',
        '03.2',
        '05.1',
        '05.2',
        '07.1',
        '08.1',
        '09.1',
        '08.2',
        '09.2',
      ],
    );
    assert.deepEqual(j.events[3], {
      code: '03.1',
      station: 'Pleje og Rehabilitering/AP',
      time: new Date(sentAt - 3000).toISOString(),
      outcome: 'success',
    });
    assert.deepEqual(j.missing, [
      {
        code: '10.1',
        station: 'Pleje og Rehabilitering/MSH',
        dueBy: new Date(sentAt + 10 * 60_000).toISOString(),
      },
    ]);
  });

  it('takes the thresholds from its flags: a longer receipt time leaves nothing missing', async () => {
    const r = await runEhmi(['track', MESSAGE, '--json', '--receipt-minutes', '20', '--data', dir]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.deepEqual(j.missing, []);
    assert.ok(j.pending.some((p: { code: string }) => p.code === '10.1'));
    const bad = await runEhmi(['track', MESSAGE, '--hop-seconds', 'soon', '--data', dir]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--hop-seconds expects a whole number/);
  });

  it('prints one line per step with its meaning, station and outcome, then what is missing', async () => {
    const r = await runEhmi(['track', MESSAGE, '--data', dir]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, new RegExp(`^sent {2}${MESSAGE}$`));
    assert.match(
      lines[7]!,
      /03\.2 +sender's AP sent the message over AS4 +Pleje og Rehabilitering\/AP +success$/,
    );
    assert.equal(lines[15], 'missing:');
    assert.match(
      lines[16]!,
      /10\.1 +sender's MSH received the EnvelopeReceipt {2}Pleje og Rehabilitering\/MSH {2}due by /,
    );
  });

  it('says which message EDS does not know, and that no MSH answered', async () => {
    const r = await runEhmi(['track', 'no-such-message', '--json', '--data', dir]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /not running|does not answer|refuses connections/);
  });
});
