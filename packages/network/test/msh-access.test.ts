// The MSH API behind access tokens in a real local network: each MSH serves its own organisation, the operator reads.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { Agent, fetch, request } from 'undici';
import { eventually, freePortBase } from '../../server/test/e2e/helpers.ts';
import {
  type ManifestOrganisation,
  NetworkClient,
  type RunningNetwork,
  startNetwork,
  writeNetworkManifest,
} from '../src/index.ts';
import { sampleHomeCareObservation } from '../src/sample.ts';

const logger = pino({ level: 'silent' });
type Credential = { cert: string; key: string };
const MSH = 'msh/messages.write msh/messages.read msh/inbox.read msh/inbox.write msh/messages.resend';

describe('the MSH API with access tokens (local network)', () => {
  let dataDir: string;
  let net: RunningNetwork;
  let client: NetworkClient;
  let ca: string;
  let gp: ManifestOrganisation;
  let hospital: ManifestOrganisation;
  let municipality: ManifestOrganisation;
  const agents: Agent[] = [];
  const agent = (tls: Credential) => {
    const a = new Agent({ connect: { ca, cert: readFileSync(tls.cert), key: readFileSync(tls.key) } });
    agents.push(a);
    return a;
  };

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'ehmi-net-msh-access-'));
    net = await startNetwork({
      dataDir,
      portBase: await freePortBase(),
      logger,
      base: { log: { level: 'silent' } },
    });
    ca = readFileSync(net.manifest.trustAnchor, 'utf8');
    client = NetworkClient.open(dataDir);
    const org = (name: string) => net.manifest.organisations.find((o) => o.name === name)!;
    gp = org('gp');
    hospital = org('hospital');
    municipality = org('municipality');
  });
  after(async () => {
    await client?.close();
    for (const a of agents) await a.close();
    await net?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function token(tls: Credential, params: { client_id: string; scope: string; resource: string }) {
    const res = await fetch(`${net.manifest.services.auth}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', ...params }).toString(),
      dispatcher: agent(tls),
    });
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(res.status, 200, JSON.stringify(body));
    return String(body.access_token);
  }

  /** A request to `org`'s MSH presenting `tls`, with `bearer` when given. */
  async function call(
    org: ManifestOrganisation,
    tls: Credential,
    method: 'GET' | 'POST',
    path: string,
    bearer?: string,
    body?: string,
  ) {
    const res = await request(`${org.msh}${path}`, {
      method,
      dispatcher: agent(tls),
      headers: {
        accept: 'application/fhir+json',
        ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
        ...(body ? { 'content-type': 'application/fhir+json' } : {}),
      },
      ...(body ? { body } : {}),
    });
    const text = await res.body.text();
    return {
      status: res.statusCode,
      challenge: String(res.headers['www-authenticate'] ?? ''),
      json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined,
    };
  }

  const sample = () => JSON.stringify(sampleHomeCareObservation(municipality, gp));
  const issueCode = (json: Record<string, unknown> | undefined) =>
    (json as { issue?: { code?: string }[] } | undefined)?.issue?.[0]?.code;

  it('no token: 401 with WWW-Authenticate: Bearer and the scope needed; health and the OpenAPI document stay open', async () => {
    const res = await call(gp, gp.tls, 'GET', '/inbox');
    assert.equal(res.status, 401);
    assert.match(res.challenge, /^Bearer scope="msh\/inbox.read"$/);
    assert.equal(json(res).resourceType, 'OperationOutcome');
    assert.equal((await call(gp, gp.tls, 'GET', '/health')).status, 200);
    assert.equal((await call(gp, gp.tls, 'GET', '/openapi.json')).status, 200);
  });

  it('the hospital’s token for the gp’s MSH: 403 forbidden for the gp’s inbox and for a submit (another organisation)', async () => {
    const t = await token(hospital.tls, { client_id: hospital.clientId, scope: MSH, resource: gp.msh });
    const inbox = await call(gp, hospital.tls, 'GET', '/inbox', t);
    assert.equal(inbox.status, 403);
    assert.equal(issueCode(inbox.json), 'forbidden');
    assert.match(JSON.stringify(inbox.json), /another organisation/);
    const submit = await call(gp, hospital.tls, 'POST', '/messages', t, sample());
    assert.equal(submit.status, 403);
    assert.equal(issueCode(submit.json), 'forbidden');
  });

  it('a token for the hospital’s MSH is refused at the gp’s MSH: 401 invalid_token (audience)', async () => {
    const t = await token(gp.tls, { client_id: gp.clientId, scope: MSH, resource: hospital.msh });
    const res = await call(gp, gp.tls, 'GET', '/inbox', t);
    assert.equal(res.status, 401);
    assert.match(res.challenge, /error="invalid_token"/);
    assert.match(res.challenge, /aud/);
  });

  it('a token without the route’s scope: 403 insufficient_scope', async () => {
    const t = await token(gp.tls, { client_id: gp.clientId, scope: 'msh/inbox.read', resource: gp.msh });
    assert.equal((await call(gp, gp.tls, 'GET', '/inbox', t)).status, 200);
    const res = await call(gp, gp.tls, 'GET', '/messages', t);
    assert.equal(res.status, 403);
    assert.match(res.challenge, /error="insufficient_scope", .*scope="msh\/messages.read"/);
  });

  it('with their own tokens (NetworkClient): the municipality sends, the gp reads its inbox and acknowledges', async () => {
    const sent = await client.call('municipality', 'POST', '/messages', {
      bytes: sample(),
      contentType: 'application/fhir+json',
    });
    assert.equal(sent.status, 202, sent.text);
    const { bundleId } = sent.json as { id: string; bundleId: string };
    const item = await eventually('the prøvesvar in the gp’s inbox', async () => {
      const res = await client.call('gp', 'GET', '/inbox');
      assert.equal(res.status, 200, res.text);
      return (res.json as { id: string; bundleId: string }[]).find((i) => i.bundleId === bundleId);
    });
    const got = await client.call('gp', 'GET', `/inbox/${item.id}`);
    assert.equal(got.status, 200, got.text);
    const ack = await client.call('gp', 'POST', `/inbox/${item.id}/$acknowledge`, {
      bytes: '{"code":"ok"}',
      contentType: 'application/json',
    });
    assert.equal(ack.status, 202, ack.text);
    const ackId = (ack.json as { id: string }).id;
    // The acknowledgement is the gp's own send.
    const tracked = await client.call('gp', 'GET', `/messages/${ackId}`);
    assert.equal(tracked.status, 200, tracked.text);
  });

  it('the operator reads the gp’s messages and inbox, and cannot submit (403)', async () => {
    const messages = await client.callAsOperator('gp', 'GET', '/messages');
    assert.equal(messages.status, 200, messages.text);
    const inbox = await client.callAsOperator('gp', 'GET', '/inbox');
    assert.equal(inbox.status, 200, inbox.text);
    // Its registered scopes are reads only: its token cannot name msh/messages.write …
    const submit = await client.callAsOperator('gp', 'POST', '/messages', {
      bytes: sample(),
      contentType: 'application/fhir+json',
    });
    assert.equal(submit.status, 403, submit.text);
    // … and the MSH refuses it anyway for a token that names no organisation.
    const { operator } = net.manifest;
    const t = await token(operator.tls, {
      client_id: operator.clientId,
      scope: 'msh/messages.read msh/inbox.read',
      resource: gp.msh,
    });
    const res = await call(gp, operator.tls, 'POST', '/messages', t, sample());
    assert.equal(res.status, 403);
  });

  it('NetworkClient reports a refused token request with the server’s error and description', async () => {
    // A network.json whose gp names the hospital's client id: the gp's certificate is not that client's.
    const other = join(dataDir, 'wrong-client');
    mkdirSync(other);
    const manifest = structuredClone(net.manifest);
    manifest.organisations.find((o) => o.name === 'gp')!.clientId = hospital.clientId;
    writeNetworkManifest(other, manifest);
    const wrong = NetworkClient.open(other);
    try {
      await assert.rejects(wrong.call('gp', 'GET', '/inbox'), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'EHMI_UNAUTHORIZED');
        assert.match(err.message, /refused gp's token request .*\(HTTP 401\): invalid_client: \S/);
        return true;
      });
    } finally {
      await wrong.close();
    }
  });
});

function json(res: { json: Record<string, unknown> | undefined }): Record<string, unknown> {
  assert.ok(res.json, 'a JSON body');
  return res.json;
}
