// What the MSH adds to the audit record of each call (src/audit/): the patient of the message submitted, of the
// inbox item read, of the item acknowledged; a refusal's outcome and who tried.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildHomeCareObservationMessage } from '@ehmi/fhir';
import { listInbox } from '../../src/msh/repository.ts';
import { allRecords } from '../audit/helpers.ts';
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
const engine = engines()[0]!;

describe('MSH: the audit records of its API name the patient', () => {
  let pki: TestPki;
  let a: Node;
  let b: Node;

  before(async () => {
    pki = await testPki();
    a = await startNode(engine, pki, 'a');
    b = await startNode(engine, pki, 'b');
    a.ap.peers.set(B, b.msh.backend);
    b.ap.peers.set(A, a.msh.backend);
  });
  after(async () => {
    await stopNode(a, b);
    await removeDir(pki.dir);
  });

  it('a submit, an inbox read and an acknowledgement carry the patient; an unknown item is a minor failure', async () => {
    const input = homecareInput();
    const bundle = buildHomeCareObservationMessage({ ...input, patient: { ...input.patient, cpr: P1 } });
    const submit = await a.fetch(`${a.url}/messages`, {
      method: 'POST',
      body: JSON.stringify(bundle),
      headers: { 'content-type': 'application/fhir+json', 'x-request-id': 'submit-1' },
    });
    assert.equal(submit.status, 202, await submit.clone().text());
    assert.equal(submit.headers.get('x-request-id'), 'submit-1');
    const { bundleId } = (await submit.json()) as { bundleId: string };
    const item = await until('the message in B’s inbox', async () =>
      (await listInbox(b.ctx.store.db)).find((i) => i.bundle_id === bundleId),
    );
    const read = await b.fetch(`${b.url}/inbox/${item.id}`);
    assert.equal(read.status, 200);
    await read.arrayBuffer();
    const missing = await b.fetch(`${b.url}/inbox/00000000-0000-4000-8000-000000000000`);
    assert.equal(missing.status, 404);
    await missing.arrayBuffer();
    const ack = await b.fetch(`${b.url}/inbox/${item.id}/$acknowledge`, {
      method: 'POST',
      body: '{"code":"ok"}',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(ack.status, 202, await ack.clone().text());
    await b.ap.idle();

    const sent = (await allRecords(a.audit)).find((r) => r.requestId === 'submit-1');
    assert.equal(sent?.patient, P1);
    assert.equal(sent?.outcome, '0');
    assert.equal(sent?.service, 'msh');
    assert.equal(sent?.subtype, 'POST');
    assert.equal(sent?.action, 'C');
    assert.match(sent?.caller.certificate ?? '', /CN=/);
    const received = await allRecords(b.audit);
    const itemRead = received.find((r) => r.requestId === read.headers.get('x-request-id'));
    assert.equal(itemRead?.patient, P1);
    assert.equal(itemRead?.route, '/inbox/:id');
    const acknowledged = received.find((r) => r.route === '/inbox/:id/$acknowledge');
    assert.equal(acknowledged?.patient, P1);
    assert.equal(acknowledged?.outcome, '0');
    const notFound = received.find((r) => r.requestId === missing.headers.get('x-request-id'));
    assert.equal(notFound?.outcome, '4');
    assert.equal(notFound?.detail, 'EHMI_NOT_FOUND');
    assert.equal(notFound?.patient, undefined);
  });
});
