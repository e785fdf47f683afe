// The central node's authorization server in a real local network: every client gets its tokens over mTLS.
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Agent, fetch } from 'undici';
import { verifyJwt } from '../../../server/test/auth/helpers.ts';
import { FIXTURES } from '../../../server/test/helpers/fixtures.ts';
import { LOCAL_ORGANISATIONS, type RunningNetwork } from '../../src/index.ts';
import { SAMPLE_PATIENT_CPR } from '../../src/sample.ts';
import { sharedNetwork } from './shared.ts';

type Jwks = Parameters<typeof verifyJwt>[1];
type Credential = { cert: string; key: string };

const MSH =
  'msh/messages.write msh/messages.read msh/inbox.read msh/inbox.write msh/webhooks.read msh/webhooks.write msh/messages.resend';
const EER_READ = 'system/Organization.rs system/Endpoint.rs system/Device.rs';
const EER_WRITE = 'system/Organization.cruds system/Endpoint.cruds system/Device.cruds';
const EAS = 'system/Organization.rs';
const EAS_PATIENT = 'eas/patient-gp.r';
const EDS = 'system/AuditEvent.c system/AuditEvent.rs system/AuditEvent.crs';
/** The document archive's reads (the network runs one). */
const ARCHIVE = 'system/DocumentReference.rs system/Binary.r';

describe('the local network’s authorization server', () => {
  let net: RunningNetwork;
  let ca: string;
  let jwks: Jwks;
  const agents: Agent[] = [];
  const agent = (tls?: Credential) => {
    const a = new Agent({
      connect: { ca, ...(tls ? { cert: readFileSync(tls.cert), key: readFileSync(tls.key) } : {}) },
    });
    agents.push(a);
    return a;
  };

  before(async () => {
    ({ net } = await sharedNetwork());
    ca = readFileSync(net.manifest.trustAnchor, 'utf8');
    const res = await fetch(`${net.manifest.services.auth}/jwks`, { dispatcher: agent() });
    jwks = (await res.json()) as Jwks;
  });
  after(async () => {
    for (const a of agents) await a.close();
  });

  async function token(
    tls: Credential,
    params: { client_id: string; scope: string; resource: string },
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${net.manifest.services.auth}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', ...params }).toString(),
      dispatcher: agent(tls),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  /** Get a token, check it, and return its claims. */
  async function claimsOf(
    tls: Credential,
    params: { client_id: string; scope: string; resource: string },
  ): Promise<Record<string, unknown>> {
    const { status, body } = await token(tls, params);
    assert.equal(status, 200, `${params.client_id} → ${params.resource}: ${JSON.stringify(body)}`);
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.scope, params.scope);
    const { payload } = verifyJwt(String(body.access_token), jwks);
    assert.equal(payload.iss, net.manifest.services.auth);
    assert.equal(payload.aud, params.resource);
    assert.equal(payload.client_id, params.client_id);
    assert.equal(payload.scope, params.scope);
    // RFC 8705 §3.1: bound to the certificate the client presented.
    const der = new X509Certificate(readFileSync(tls.cert)).raw;
    assert.deepEqual(payload.cnf, { 'x5t#S256': createHash('sha256').update(der).digest('base64url') });
    return payload;
  }

  it('serves its metadata over HTTPS at the issuer URL network.json gives (services.auth)', async () => {
    const res = await fetch(`${net.manifest.services.auth}/.well-known/oauth-authorization-server`, {
      dispatcher: agent(),
    });
    assert.equal(res.status, 200);
    const meta = (await res.json()) as Record<string, unknown>;
    assert.equal(meta.issuer, net.manifest.services.auth);
    assert.equal(new URL(net.manifest.services.auth!).port, String(net.plan.portBase));
  });

  it('every organisation’s EUA gets tokens for its MSH, EER and EAS, with its organisation’s claims', async () => {
    const { eer, eas } = net.manifest.services;
    for (const o of net.manifest.organisations) {
      const spec = LOCAL_ORGANISATIONS.find((s) => s.name === o.name)!;
      // EAS's system/Organization.rs is EER's too: one scope, two audiences (the resource names which).
      assert.equal(o.scope, `${MSH} ${EER_READ} ${EAS_PATIENT} ${EDS} ${ARCHIVE}`);
      for (const [resource, scope] of [
        [o.msh, MSH],
        [eer!, EER_READ],
        [eas!, `${EAS} ${EAS_PATIENT}`],
        [net.manifest.services.eds!, EDS],
      ] as const) {
        const claims = await claimsOf(o.tls, { client_id: o.clientId, scope, resource });
        assert.deepEqual(claims['ehmi:org_context'], [{ name: spec.title, sor: spec.sor, gln: spec.gln }]);
        assert.equal(claims.cvr, spec.cvr);
        assert.equal(claims.org_name, spec.title);
      }
    }
  });

  it('the operator gets read tokens for every MSH, EER and EAS; the maintainer EER write tokens', async () => {
    const { operator, maintainer, services } = net.manifest;
    const reads = 'msh/messages.read msh/inbox.read msh/webhooks.read';
    assert.equal(
      operator.scope,
      `${reads} msh/messages.resend ${EER_READ} ${EDS} ehmi/metrics.read ehmi/audit.read ${ARCHIVE}`,
    );
    for (const o of net.manifest.organisations) {
      const claims = await claimsOf(operator.tls, {
        client_id: operator.clientId,
        scope: reads,
        resource: o.msh,
      });
      assert.equal(claims['ehmi:org_context'], undefined);
    }
    await claimsOf(operator.tls, { client_id: operator.clientId, scope: EER_READ, resource: services.eer! });
    await claimsOf(operator.tls, { client_id: operator.clientId, scope: EAS, resource: services.eas! });
    await claimsOf(operator.tls, { client_id: operator.clientId, scope: EDS, resource: services.eds! });
    assert.equal(maintainer.scope, EER_WRITE);
    await claimsOf(maintainer.tls, {
      client_id: maintainer.clientId,
      scope: EER_WRITE,
      resource: services.eer!,
    });
  });

  it('invalid_client: the hospital’s certificate with the gp’s client id (its subject DN is not the registered one)', async () => {
    const gp = net.manifest.organisations.find((o) => o.name === 'gp')!;
    const hospital = net.manifest.organisations.find((o) => o.name === 'hospital')!;
    const { status, body } = await token(hospital.tls, {
      client_id: gp.clientId,
      scope: MSH,
      resource: gp.msh,
    });
    assert.equal(status, 401);
    assert.equal(body.error, 'invalid_client');
  });

  it('invalid_scope: the gp asking for EER writes; the operator asking to write to an MSH', async () => {
    const gp = net.manifest.organisations.find((o) => o.name === 'gp')!;
    const eer = await token(gp.tls, {
      client_id: gp.clientId,
      scope: 'system/Endpoint.cruds',
      resource: net.manifest.services.eer!,
    });
    assert.equal(eer.status, 400);
    assert.equal(eer.body.error, 'invalid_scope');
    const { operator } = net.manifest;
    const msh = await token(operator.tls, {
      client_id: operator.clientId,
      scope: 'msh/messages.write',
      resource: gp.msh,
    });
    assert.equal(msh.status, 400);
    assert.equal(msh.body.error, 'invalid_scope');
  });

  it('EER takes writes from the maintainer (system/*.cruds) and refuses an organisation’s EUA (reads only): 403', async () => {
    const { maintainer, services } = net.manifest;
    const gp = net.manifest.organisations.find((o) => o.name === 'gp')!;
    // An EER example Organization, without its endpoints (nothing for the SMP to publish).
    const {
      id: _id,
      endpoint: _endpoint,
      ...organization
    } = JSON.parse(
      readFileSync(`${FIXTURES}eer/json/Organization-example-eer-messaging-organization.json`, 'utf8'),
    ) as Record<string, unknown>;
    const write = async (tls: Credential, clientId: string, scope: string) => {
      const { status, body } = await token(tls, { client_id: clientId, scope, resource: services.eer! });
      assert.equal(status, 200, JSON.stringify(body));
      const res = await fetch(`${services.eer}/Organization`, {
        method: 'POST',
        dispatcher: agent(tls),
        headers: {
          'content-type': 'application/fhir+json',
          authorization: `Bearer ${String(body.access_token)}`,
        },
        body: JSON.stringify(organization),
      });
      return { status: res.status, challenge: res.headers.get('www-authenticate'), text: await res.text() };
    };
    const refused = await write(gp.tls, gp.clientId, EER_READ);
    assert.equal(refused.status, 403, refused.text);
    assert.match(refused.challenge ?? '', /insufficient_scope/);
    const written = await write(maintainer.tls, maintainer.clientId, EER_WRITE);
    assert.equal(written.status, 201, written.text);
    // Without a token, even with a registered client's certificate: 401.
    const anonymous = await fetch(`${services.eer}/Organization`, {
      method: 'POST',
      dispatcher: agent(maintainer.tls),
      headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify(organization),
    });
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Bearer/);
    await anonymous.text();
  });

  it('an EUA reads EER and looks a patient up in EAS with its token; the operator may not look up by CPR', async () => {
    const { operator, services } = net.manifest;
    const gp = net.manifest.organisations.find((o) => o.name === 'gp')!;
    const get = async (
      tls: Credential,
      clientId: string,
      scope: string,
      resource: string,
      url: string,
      body?: unknown,
    ) => {
      const t = await token(tls, { client_id: clientId, scope, resource });
      assert.equal(t.status, 200, JSON.stringify(t.body));
      const res = await fetch(url, {
        method: body ? 'POST' : 'GET',
        dispatcher: agent(tls),
        headers: {
          authorization: `Bearer ${String(t.body.access_token)}`,
          ...(body ? { 'content-type': 'application/fhir+json' } : {}),
        },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, text: await res.text() };
    };
    const read = await get(gp.tls, gp.clientId, EER_READ, services.eer!, `${services.eer}/Organization/gp`);
    assert.equal(read.status, 200, read.text);
    const lookup = {
      resourceType: 'Parameters',
      parameter: [
        {
          name: 'easCorePatient',
          resource: {
            resourceType: 'Patient',
            identifier: [{ system: 'urn:oid:1.2.208.176.1.2', value: SAMPLE_PATIENT_CPR }],
          },
        },
      ],
    };
    const url = `${services.eas}/Organization/$getReceivingOrganizationByPatientId`;
    const found = await get(gp.tls, gp.clientId, EAS_PATIENT, services.eas!, url, lookup);
    assert.equal(found.status, 200, found.text);
    const refused = await get(operator.tls, operator.clientId, EAS, services.eas!, url, lookup);
    assert.equal(refused.status, 403, refused.text);
  });

  it('the central node serves EDS: an organisation registers its own event and reads it, the operator finds it, another organisation does not', async () => {
    const { operator, services } = net.manifest;
    const eds = services.eds!;
    assert.equal(new URL(eds).port, String(net.plan.portBase + 5));
    const gp = net.manifest.organisations.find((o) => o.name === 'gp')!;
    const hospital = net.manifest.organisations.find((o) => o.name === 'hospital')!;
    const municipality = net.manifest.organisations.find((o) => o.name === 'municipality')!;
    const call = async (
      who: { tls: Credential; clientId: string },
      scope: string,
      path: string,
      body?: unknown,
    ) => {
      const t = await token(who.tls, { client_id: who.clientId, scope, resource: eds });
      assert.equal(t.status, 200, JSON.stringify(t.body));
      const res = await fetch(`${eds}${path}`, {
        method: body ? 'POST' : 'GET',
        dispatcher: agent(who.tls),
        headers: {
          authorization: `Bearer ${String(t.body.access_token)}`,
          accept: 'application/fhir+json',
          ...(body ? { 'content-type': 'application/fhir+json' } : {}),
        },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      return {
        status: res.status,
        text,
        body: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : {},
      };
    };
    // The IG's 06.1 (the receiving EUA finalized the message) with the municipality as sender and the gp as receiver.
    const sample = JSON.parse(
      readFileSync(join(FIXTURES, 'eds', 'json', 'AuditEvent-EDS-PDS-06.1.json'), 'utf8'),
    ) as Record<string, unknown>;
    const party = (a: Record<string, unknown>, o: typeof gp) => ({
      ...a,
      who: { identifier: { value: o.sor } },
      extension: (a.extension as Record<string, unknown>[]).map((e) => ({
        ...e,
        valueIdentifier: { ...(e.valueIdentifier as Record<string, unknown>), value: o.gln },
      })),
    });
    const [sender, receiver] = sample.agent as Record<string, unknown>[];
    const { id: _id, ...rest } = sample;
    const event = { ...rest, agent: [party(sender!, municipality), party(receiver!, gp)] };
    const created = await call(gp, 'system/AuditEvent.c', '/AuditEvent', event);
    assert.equal(created.status, 201, created.text);
    const id = String(created.body.id);
    const mine = await call(gp, 'system/AuditEvent.rs', `/AuditEvent?receiver-sor=${gp.sor}`);
    assert.equal(mine.status, 200, mine.text);
    assert.equal(mine.body.total, 1);
    const all = await call(operator, 'system/AuditEvent.rs', `/AuditEvent?_id=${id}`);
    assert.equal(all.body.total, 1, all.text);
    const theirs = await call(hospital, 'system/AuditEvent.rs', `/AuditEvent/${id}`);
    assert.equal(theirs.status, 404, theirs.text);
    const forged = await call(hospital, 'system/AuditEvent.c', '/AuditEvent', {
      ...event,
      recorded: '2025-11-01T00:00:12.000+02:00',
    });
    assert.equal(forged.status, 403, forged.text);
  });
});
