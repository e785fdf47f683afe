// Tokens restricted to one patient in a real local network: the authorization server issues them (RFC 9396
// `ehmi_patient`), the MSHs serve that patient's messages only, EER and EAS refuse them.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Agent, fetch, request } from 'undici';
import { eventually } from '../../../server/test/e2e/helpers.ts';
import { type ManifestOrganisation, NetworkClient, type RunningNetwork } from '../../src/index.ts';
import { SAMPLE_PATIENT_CPR, sampleHomeCareObservation } from '../../src/sample.ts';
import { sharedNetwork } from './shared.ts';

type Credential = { cert: string; key: string };
type Item = { id: string; bundleId: string };
type Sent = { id: string; bundleId: string; messageHeaderId: string; resends: number };
const P1 = SAMPLE_PATIENT_CPR;
const P2 = '0101701234';
const patient = (cpr: string) => JSON.stringify([{ type: 'ehmi_patient', cpr }]);

describe('tokens restricted to one patient (local network)', () => {
  let dataDir: string;
  let net: RunningNetwork;
  let ca: string;
  let gp: ManifestOrganisation;
  let municipality: ManifestOrganisation;
  /** Unrestricted: the organisations' own EUAs. */
  let all: NetworkClient;
  /** Restricted to P1. */
  let p1: NetworkClient;
  const agents: Agent[] = [];
  const agent = (tls: Credential) => {
    const a = new Agent({ connect: { ca, cert: readFileSync(tls.cert), key: readFileSync(tls.key) } });
    agents.push(a);
    return a;
  };
  /** The prøvesvar from the municipality to the gp, about `cpr`. */
  const about = (cpr: string) =>
    JSON.stringify(sampleHomeCareObservation(municipality, gp)).replaceAll(SAMPLE_PATIENT_CPR, cpr);
  const fhir = (text: string) => ({ bytes: text, contentType: 'application/fhir+json' });
  /** Sent, and delivered to the gp's inbox: the tracking id at the municipality, the item id at the gp. */
  const sent: Record<string, { message: Sent; item: string }> = {};

  async function send(cpr: string): Promise<{ message: Sent; item: string }> {
    const res = await all.call('municipality', 'POST', '/messages', fhir(about(cpr)));
    assert.equal(res.status, 202, res.text);
    const message = res.json as Sent;
    const item = await eventually(`the message about ${cpr} in the gp's inbox`, async () => {
      const inbox = await all.call('gp', 'GET', '/inbox');
      return (inbox.json as Item[]).find((i) => i.bundleId === message.bundleId)?.id;
    });
    return { message, item };
  }

  /** A token for `resource` from the authorization server, as `org`'s EUA, with these authorization details. */
  async function token(org: ManifestOrganisation, scope: string, resource: string, details?: string) {
    const res = await fetch(`${net.manifest.services.auth}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: org.clientId,
        scope,
        resource,
        ...(details ? { authorization_details: details } : {}),
      }).toString(),
      dispatcher: agent(org.tls),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  before(async () => {
    ({ net, dataDir } = await sharedNetwork());
    ca = readFileSync(net.manifest.trustAnchor, 'utf8');
    const org = (name: string) => net.manifest.organisations.find((o) => o.name === name)!;
    gp = org('gp');
    municipality = org('municipality');
    all = NetworkClient.open(dataDir);
    p1 = NetworkClient.open(dataDir, { patient: P1 });
    sent[P1] = await send(P1);
    sent[P2] = await send(P2);
  });
  after(async () => {
    await all?.close();
    await p1?.close();
    for (const a of agents) await a.close();
  });

  it('the inbox lists only the patient’s messages, and reads only those (another patient’s: 404 as unknown)', async () => {
    const inbox = await p1.call('gp', 'GET', '/inbox');
    assert.equal(inbox.status, 200, inbox.text);
    assert.deepEqual(
      (inbox.json as Item[]).map((i) => i.id),
      [sent[P1]!.item],
    );
    assert.equal(((await all.call('gp', 'GET', '/inbox')).json as Item[]).length, 2);

    const mine = await p1.call('gp', 'GET', `/inbox/${sent[P1]!.item}`);
    assert.equal(mine.status, 200, mine.text);
    assert.match(mine.text, new RegExp(P1));
    const other = await p1.call('gp', 'GET', `/inbox/${sent[P2]!.item}`);
    assert.equal(other.status, 404);
    assert.equal((other.json as { resourceType: string }).resourceType, 'OperationOutcome');
    assert.doesNotMatch(other.text, new RegExp(P2));
    // Exactly as for an id that does not exist.
    const unknown = await p1.call('gp', 'GET', '/inbox/00000000-0000-4000-8000-000000000000');
    assert.equal(unknown.status, 404);
  });

  it('acknowledging or removing another patient’s message: 404, and nothing changes', async () => {
    const ack = await p1.call('gp', 'POST', `/inbox/${sent[P2]!.item}/$acknowledge`, {
      bytes: '{"code":"ok"}',
      contentType: 'application/json',
    });
    assert.equal(ack.status, 404, ack.text);
    const remove = await p1.call('gp', 'DELETE', `/inbox/${sent[P2]!.item}`);
    assert.equal(remove.status, 404, remove.text);
    // Still in the inbox, and the gp can still acknowledge it once: none was sent.
    assert.ok(((await all.call('gp', 'GET', '/inbox')).json as Item[]).some((i) => i.id === sent[P2]!.item));
    const gpMessages = (await all.call('gp', 'GET', '/messages')).json as { type: string }[];
    assert.equal(gpMessages.filter((m) => m.type === 'acknowledgement-message').length, 0);
  });

  it('acknowledging the patient’s own message works, and the acknowledgement is tracked as the patient’s', async () => {
    const ack = await p1.call('gp', 'POST', `/inbox/${sent[P1]!.item}/$acknowledge`, {
      bytes: '{"code":"ok"}',
      contentType: 'application/json',
    });
    assert.equal(ack.status, 202, ack.text);
    const ackId = (ack.json as { id: string }).id;
    const tracked = await p1.call('gp', 'GET', `/messages/${ackId}`);
    assert.equal(tracked.status, 200, tracked.text);
    // Its journey is that of the message it acknowledges (the acknowledgement's steps are 11.1–20.1 of it).
    const journey = await p1.call('gp', 'GET', `/messages/${ackId}/journey`);
    assert.equal(journey.status, 200, journey.text);
    assert.deepEqual(
      {
        id: (journey.json as { id: string }).id,
        messageId: (journey.json as { messageId: string }).messageId,
      },
      { id: ackId, messageId: sent[P1]!.message.messageHeaderId },
    );
    assert.deepEqual(
      ((await p1.call('gp', 'GET', '/messages')).json as { id: string }[]).map((m) => m.id),
      [ackId],
    );
  });

  it('sent messages: lists only the patient’s; reading or resending another patient’s: 404, not resent', async () => {
    const list = await p1.call('municipality', 'GET', '/messages');
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(
      (list.json as Sent[]).map((m) => m.id),
      [sent[P1]!.message.id],
    );
    assert.equal((await p1.call('municipality', 'GET', `/messages/${sent[P1]!.message.id}`)).status, 200);
    const read = await p1.call('municipality', 'GET', `/messages/${sent[P2]!.message.id}`);
    assert.equal(read.status, 404, read.text);
    const resend = await p1.call('municipality', 'POST', `/messages/${sent[P2]!.message.id}/$resend`);
    assert.equal(resend.status, 404, resend.text);
    const after = await all.call('municipality', 'GET', `/messages/${sent[P2]!.message.id}`);
    assert.equal((after.json as Sent).resends, 0);
  });

  it('sent messages searched by patient: that patient’s only; a token restricted to another patient finds none', async () => {
    const byP2 = await all.call('municipality', 'GET', `/messages?patient=${P2}`);
    assert.equal(byP2.status, 200, byP2.text);
    assert.deepEqual(
      (byP2.json as Sent[]).map((m) => m.id),
      [sent[P2]!.message.id],
    );
    const crossed = await p1.call('municipality', 'GET', `/messages?patient=${P2}`);
    assert.equal(crossed.status, 200, crossed.text);
    assert.deepEqual(crossed.json, []);
    const malformed = await all.call('municipality', 'GET', '/messages?patient=12345');
    assert.equal(malformed.status, 400, malformed.text);
  });

  it('a sent message’s journey from EDS: the patient’s own (200), another patient’s 404 as unknown', async () => {
    const own = await p1.call('municipality', 'GET', `/messages/${sent[P1]!.message.id}/journey`);
    assert.equal(own.status, 200, own.text);
    assert.equal((own.json as { id: string }).id, sent[P1]!.message.id);
    const other = await p1.call('municipality', 'GET', `/messages/${sent[P2]!.message.id}/journey`);
    assert.equal(other.status, 404, other.text);
    assert.equal((other.json as { resourceType: string }).resourceType, 'OperationOutcome');
  });

  it('submitting a message about another patient: 403, and nothing is stored', async () => {
    const before = ((await all.call('municipality', 'GET', '/messages')).json as Sent[]).length;
    const text = about(P2);
    const res = await p1.call('municipality', 'POST', '/messages', fhir(text));
    assert.equal(res.status, 403, res.text);
    assert.equal((res.json as { issue: { code: string }[] }).issue[0]!.code, 'forbidden');
    assert.match(res.text, /restricted to one patient, and this message is about another patient/);
    const messages = (await all.call('municipality', 'GET', '/messages')).json as Sent[];
    assert.equal(messages.length, before);
    const bundleId = (JSON.parse(text) as { id: string }).id;
    assert.ok(!messages.some((m) => m.bundleId === bundleId));
    // The same message about the patient goes.
    const own = await p1.call('municipality', 'POST', '/messages', fhir(about(P1)));
    assert.equal(own.status, 202, own.text);
  });

  it('an identical resubmission of another patient’s message is refused, not answered with the earlier one', async () => {
    const first = about(P2);
    assert.equal((await all.call('municipality', 'POST', '/messages', fhir(first))).status, 202);
    // Its Bundle.id and MessageHeader.id again, now naming the token's patient.
    const again = first.replaceAll(P2, P1);
    const res = await p1.call('municipality', 'POST', '/messages', fhir(again));
    assert.equal(res.status, 403, res.text);
  });

  it('a payload (whose patient the MSH cannot read): 403, and nothing is stored', async () => {
    const before = ((await all.call('municipality', 'GET', '/messages')).json as Sent[]).length;
    const query = new URLSearchParams({
      receiver: `0088:${gp.gln}`,
      documentType: 'urn:dk:medcom:oioxml:DIS01',
      process: 'urn:dk:medcom:process',
      kind: 'oioxml',
      patientId: P1,
    });
    const res = await p1.call('municipality', 'POST', `/payloads?${query}`, {
      bytes: '<Emessage/>',
      contentType: 'application/xml',
    });
    assert.equal(res.status, 403, res.text);
    assert.match(res.text, /cannot read the patient of a payload/);
    assert.equal(((await all.call('municipality', 'GET', '/messages')).json as Sent[]).length, before);
  });

  it('a token restricted to one patient manages no webhooks (403): they carry every patient’s events', async () => {
    for (const [method, body] of [
      ['GET', undefined],
      [
        'POST',
        { bytes: JSON.stringify({ url: 'https://127.0.0.1:9/hook' }), contentType: 'application/json' },
      ],
    ] as const) {
      const res = await p1.call('gp', method, '/webhooks', body);
      assert.equal(res.status, 403, res.text);
      assert.match(res.text, /restricted to one patient/);
    }
    assert.deepEqual((await all.call('gp', 'GET', '/webhooks')).json, []);
  });

  it('the inbox stream sends the patient’s new messages only', async () => {
    const t = await token(gp, 'msh/inbox.read', gp.msh, patient(P1));
    assert.equal(t.status, 200, JSON.stringify(t.body));
    const controller = new AbortController();
    const res = await request(`${gp.msh}/inbox/stream`, {
      dispatcher: agent(gp.tls),
      headers: { authorization: `Bearer ${String(t.body.access_token)}` },
      signal: controller.signal,
    });
    assert.equal(res.statusCode, 200);
    let text = '';
    let p1Bundle: string | undefined;
    const events = (async () => {
      for await (const chunk of res.body) {
        text += Buffer.from(chunk as Uint8Array).toString('utf8');
        const blocks = text.split('\n\n').filter((b) => b.startsWith('event: message'));
        if (p1Bundle && blocks.some((b) => b.includes(p1Bundle!))) return blocks;
      }
      throw new Error('the event stream ended');
    })();
    // Another patient's message first (delivered before the next is sent), then the patient's.
    const other = await send(P2);
    const mine = await send(P1);
    p1Bundle = mine.message.bundleId;
    const blocks = await events;
    controller.abort();
    assert.ok(!text.includes(other.message.bundleId), 'the other patient’s message is not sent');
    // What was sent (the patient's message of an earlier test may arrive meanwhile) is the patient's.
    for (const block of blocks) {
      const { id } = JSON.parse(block.slice(block.indexOf('data: ') + 6)) as { id: string };
      assert.equal((await p1.call('gp', 'GET', `/inbox/${id}`)).status, 200, block);
    }
  });

  it('EER and EAS refuse a token restricted to one patient (403): they cannot limit what they serve', async () => {
    const { eer, eas } = net.manifest.services;
    for (const [resource, scope, path] of [
      [
        eer!,
        'system/Organization.rs',
        `/Organization?identifier=${encodeURIComponent(`https://www.gs1.org/gln|${gp.gln}`)}`,
      ],
      [eas!, 'system/Organization.rs', `/Organization/$getReceivingOrganizationBySORId?sorId=${gp.sor}`],
    ] as const) {
      const plain = await token(gp, scope, resource);
      const restricted = await token(gp, scope, resource, patient(P1));
      assert.equal(restricted.status, 200, JSON.stringify(restricted.body));
      const call = async (bearer: unknown) => {
        const r = await request(`${resource}${path}`, {
          dispatcher: agent(gp.tls),
          headers: { authorization: `Bearer ${String(bearer)}`, accept: 'application/fhir+json' },
        });
        return { status: r.statusCode, text: await r.body.text() };
      };
      assert.equal((await call(plain.body.access_token)).status, 200, resource);
      const refused = await call(restricted.body.access_token);
      assert.equal(refused.status, 403, refused.text);
      assert.match(refused.text, /restricted to one patient/);
    }
  });

  it('the operator may not ask for a patient restriction; a malformed CPR is refused with the server’s reason', async () => {
    const { operator } = net.manifest;
    const op = await token(
      { ...gp, clientId: operator.clientId, tls: operator.tls },
      'msh/inbox.read',
      gp.msh,
      patient(P1),
    );
    assert.equal(op.status, 400);
    assert.equal(op.body.error, 'invalid_authorization_details');
    const bad = NetworkClient.open(dataDir, { patient: '25094799' });
    try {
      await assert.rejects(bad.call('gp', 'GET', '/inbox'), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'EHMI_UNAUTHORIZED');
        assert.match(err.message, /invalid_authorization_details: .*10 digits/);
        return true;
      });
    } finally {
      await bad.close();
    }
  });
});
