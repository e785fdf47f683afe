// The MSH API behind access tokens in a real local network: each MSH serves its own organisation, the operator reads.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { Agent, fetch, request } from 'undici';
import { eventually } from '../../../server/test/e2e/helpers.ts';
import {
  type ManifestOrganisation,
  NetworkClient,
  type RunningNetwork,
  writeNetworkManifest,
} from '../../src/index.ts';
import { sampleHomeCareObservation } from '../../src/sample.ts';
import { sharedNetwork } from './shared.ts';

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
    ({ net, dataDir } = await sharedNetwork());
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

  it('webhooks: the hospital’s token cannot register one at the gp’s MSH, nor a gp token without msh/webhooks.write; the operator lists them and cannot register', async () => {
    const body = JSON.stringify({ url: 'https://127.0.0.1:9/hook' });
    const hospitals = await token(hospital.tls, {
      client_id: hospital.clientId,
      scope: 'msh/webhooks.read msh/webhooks.write',
      resource: gp.msh,
    });
    const other = await call(gp, hospital.tls, 'POST', '/webhooks', hospitals, body);
    assert.equal(other.status, 403);
    assert.equal(issueCode(other.json), 'forbidden');
    assert.match(JSON.stringify(other.json), /another organisation/);
    assert.equal((await call(gp, hospital.tls, 'GET', '/webhooks', hospitals)).status, 403);
    const reading = await token(gp.tls, {
      client_id: gp.clientId,
      scope: 'msh/webhooks.read',
      resource: gp.msh,
    });
    const noScope = await call(gp, gp.tls, 'POST', '/webhooks', reading, body);
    assert.equal(noScope.status, 403);
    assert.match(noScope.challenge, /error="insufficient_scope", .*scope="msh\/webhooks.write"/);
    const listed = await client.callAsOperator('gp', 'GET', '/webhooks');
    assert.equal(listed.status, 200, listed.text);
    const registered = await client.callAsOperator('gp', 'POST', '/webhooks', {
      bytes: body,
      contentType: 'application/json',
    });
    assert.equal(registered.status, 403, registered.text);
    assert.deepEqual((await client.call('gp', 'GET', '/webhooks')).json, []);
  });

  it('webhooks: the gp’s EUA registers one on loopback (ehmi up allows it) and gets the municipality’s prøvesvar pushed, signed', async () => {
    // The EUA's receiver serves the gp's TLS server certificate: the network's root, which the MSH trusts.
    let arrived: (r: { headers: Record<string, string>; body: string }) => void = () => {};
    const pushed = new Promise<{ headers: Record<string, string>; body: string }>((resolve) => {
      arrived = resolve;
    });
    const server = createServer(
      {
        cert: readFileSync(gp.certificates.tlsServer.cert),
        key: readFileSync(gp.certificates.tlsServer.key),
      },
      (req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          res.writeHead(204).end();
          arrived({
            headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
            body: Buffer.concat(chunks).toString('utf8'),
          });
        });
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/ehmi`;
      const registered = await client.call('gp', 'POST', '/webhooks', {
        bytes: JSON.stringify({ url, events: ['inbox.received'] }),
        contentType: 'application/json',
      });
      assert.equal(registered.status, 201, registered.text);
      const { id, secret } = registered.json as { id: string; secret: string };
      const sent = await client.call('municipality', 'POST', '/messages', {
        bytes: sample(),
        contentType: 'application/fhir+json',
      });
      assert.equal(sent.status, 202, sent.text);
      const got = await pushed;
      const payload = new Webhook(secret).verify(got.body, got.headers) as {
        type: string;
        data: { bundleId: string; url: string };
      };
      assert.equal(payload.type, 'inbox.received');
      assert.equal(payload.data.bundleId, (sent.json as { bundleId: string }).bundleId);
      // The EUA reads the message where the event says, with its own token.
      const item = await client.call('gp', 'GET', new URL(payload.data.url).pathname);
      assert.equal(item.status, 200, item.text);
      assert.equal((await client.call('gp', 'DELETE', `/webhooks/${id}`)).status, 204);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
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
