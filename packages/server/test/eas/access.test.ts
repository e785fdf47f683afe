// EAS with the node's `authorization`: mTLS and certificate-bound access tokens of a real authorization server
// (the `auth` role); organisation lookups by `system/Organization.rs`, the lookup by CPR by `eas/patient-gp.r`, and
// every lookup by CPR in the audit log, refusals included.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Agent, fetch } from 'undici';
import type { AuditLog } from '../../src/audit/log.ts';
import type { AuthRole } from '../../src/auth/index.ts';
import { EAS_ADMIN_SCOPE, EAS_PATIENT_SCOPE, type EasRole } from '../../src/eas/index.ts';
import { allRecords, testAudit } from '../audit/helpers.ts';
import {
  authConfig,
  CLIENT_DN,
  EAS,
  EER,
  ORGANISATION,
  requestToken,
  startAuth,
  type TestPki,
  testPki,
} from '../auth/helpers.ts';
import { engines, type TestStore } from '../helpers/engines.ts';
import { ADMIN_TOKEN, eerFeeds, type Json, NOW, roleContext, startEas } from './helpers.ts';

const engine = engines()[0]!;
const STRANGER_DN = 'CN=stranger, O=Other, C=DK';
const CPR = '1808764667';
const GP_SOR = '698161000016009';

const patientLookup = (cpr: string): Json => ({
  resourceType: 'Parameters',
  parameter: [
    {
      name: 'easCorePatient',
      resource: { resourceType: 'Patient', identifier: [{ system: 'urn:oid:1.2.208.176.1.2', value: cpr }] },
    },
  ],
});

describe('EAS: access tokens when the node has authorization, and the audit of lookups by CPR', () => {
  let ts: TestStore;
  let pki: TestPki;
  let auth: AuthRole;
  let eas: EasRole;
  let eua: Agent;
  let other: Agent;
  let log: AuditLog;
  const records = async (filter: (r: Awaited<ReturnType<typeof allRecords>>[number]) => boolean) =>
    (await allRecords(log)).filter(filter);

  const token = async (agent: Agent, clientId: string, scope: string, resource = EAS) => {
    const { status, body } = await requestToken(auth.url, agent, { client_id: clientId, scope, resource });
    assert.equal(status, 200, JSON.stringify(body));
    return String(body.access_token);
  };
  const call = async (agent: Agent, path: string, bearer?: string, body?: Json) => {
    const res = await fetch(`${eas.url}${path}`, {
      method: body ? 'POST' : 'GET',
      dispatcher: agent,
      headers: {
        ...(body ? { 'content-type': 'application/fhir+json' } : {}),
        ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return {
      status: res.status,
      challenge: res.headers.get('www-authenticate'),
      body: text ? (JSON.parse(text) as Json) : {},
    };
  };
  const BY_PATIENT = '/Organization/$getReceivingOrganizationByPatientId';

  before(async () => {
    pki = await testPki();
    ts = await engine.open();
    auth = await startAuth(
      ts,
      pki,
      authConfig(ts, {
        resources: {
          [EAS]: `system/Organization.rs ${EAS_PATIENT_SCOPE} ${EAS_ADMIN_SCOPE}`,
          [EER]: 'system/Organization.rs',
        },
        clients: [
          {
            clientId: 'gp-eua',
            subjectDn: CLIENT_DN,
            scope: `system/Organization.rs ${EAS_PATIENT_SCOPE}`,
            organisation: ORGANISATION,
          },
          // The operator runs the register: it also feeds EAS (as the central node's EER does).
          {
            clientId: 'operator',
            subjectDn: STRANGER_DN,
            scope: `system/Organization.rs ${EAS_ADMIN_SCOPE}`,
          },
        ],
      }),
    );
    const audit = testAudit(ts.store, { now: () => NOW });
    log = audit.log;
    eas = await startEas({
      ...roleContext(
        ts.store,
        { publicUrl: EAS, patients: [{ cpr: CPR, sor: GP_SOR }] },
        { key: pki.server.privateKeyPem, cert: pki.server.certificatePem, ca: [pki.caPem] },
        { authorization: { issuer: auth.issuer } },
      ),
      audit: audit.audit,
    });
    eua = pki.agent(pki.client);
    other = pki.agent(pki.stranger);
    // The admin API takes access tokens with eas/index.write (mTLS), as EER feeds it.
    const feeder = await token(other, 'operator', EAS_ADMIN_SCOPE);
    for (const feed of eerFeeds()) {
      const res = await fetch(`${eas.url}/admin/organizations/${feed.id}`, {
        method: 'PUT',
        dispatcher: other,
        headers: { authorization: `Bearer ${feeder}`, 'content-type': 'application/json' },
        body: JSON.stringify(feed.body),
      });
      assert.equal(res.status, 201, await res.text());
    }
  });
  after(async () => {
    await eas?.close();
    await log?.close();
    await auth?.close();
    await eua?.close();
    await other?.close();
    await pki?.anonymous.close();
    await ts?.cleanup();
  });

  it('an organisation lookup with system/Organization.rs: 200', async () => {
    const bearer = await token(other, 'operator', 'system/Organization.rs');
    const answer = await call(
      other,
      `/Organization/$getReceivingOrganizationBySORId?sorId=${GP_SOR}`,
      bearer,
    );
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.total, 1);
  });

  it('an organisation lookup without a token: 401 with WWW-Authenticate naming the scope', async () => {
    const answer = await call(other, `/Organization/$getReceivingOrganizationBySORId?sorId=${GP_SOR}`);
    assert.equal(answer.status, 401);
    assert.equal(answer.challenge, 'Bearer scope="system/Organization.rs"');
  });

  it('a lookup by CPR without eas/patient-gp.r: 403 insufficient_scope, and a MinLog audit record of the refusal with the CPR', async () => {
    const bearer = await token(other, 'operator', 'system/Organization.rs');
    const answer = await call(other, BY_PATIENT, bearer, patientLookup(CPR));
    assert.equal(answer.status, 403, JSON.stringify(answer.body));
    assert.match(answer.challenge ?? '', /^Bearer error="insufficient_scope", .*scope="eas\/patient-gp\.r"$/);
    const rows = await records((r) => r.patient === CPR && r.caller.clientId === 'operator');
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.outcome, '4');
    assert.equal(rows[0]!.status, 403);
    assert.equal(rows[0]!.minlog, true);
    assert.equal(rows[0]!.subtype, '$getReceivingOrganizationByPatientId');
    assert.equal(rows[0]!.caller.certificate, STRANGER_DN);
    assert.equal(rows[0]!.detail, 'EHMI_FORBIDDEN');
  });

  it('a lookup by CPR with eas/patient-gp.r: 200, and a MinLog audit record of success naming the client and its organisation', async () => {
    const bearer = await token(eua, 'gp-eua', `system/Organization.rs ${EAS_PATIENT_SCOPE}`);
    const answer = await call(eua, BY_PATIENT, bearer, patientLookup(CPR));
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const rows = await records((r) => r.patient === CPR && r.caller.clientId === 'gp-eua');
    assert.equal(rows.length, 1);
    const [row] = rows;
    assert.equal(row!.outcome, '0');
    assert.equal(row!.status, 200);
    assert.equal(row!.minlog, true);
    assert.equal(row!.caller.certificate, CLIENT_DN);
    assert.equal(row!.caller.organisation?.cvr, ORGANISATION.cvr);
    assert.equal(row!.recorded, NOW);
  });

  it('a lookup by CPR of a patient the register does not know: 404, a minor failure with the patient', async () => {
    const bearer = await token(eua, 'gp-eua', EAS_PATIENT_SCOPE);
    const answer = await call(eua, BY_PATIENT, bearer, patientLookup('0101011234'));
    assert.equal(answer.status, 404, JSON.stringify(answer.body));
    const [row] = await records((r) => r.patient === '0101011234');
    assert.equal(row?.outcome, '4');
    assert.equal(row?.status, 404);
    assert.equal(row?.caller.clientId, 'gp-eua');
  });

  it('a lookup by CPR without a token is refused by the hook and recorded as a MinLog failure (no client, CPR unread)', async () => {
    const answer = await call(eua, BY_PATIENT, undefined, patientLookup(CPR));
    assert.equal(answer.status, 401);
    const rows = await records((r) => r.status === 401 && r.route === '/Organization/:operation');
    assert.ok(rows.length >= 1);
    const row = rows.find((r) => r.subtype === '$getReceivingOrganizationByPatientId')!;
    assert.equal(row.outcome, '4');
    assert.equal(row.minlog, true);
    assert.equal(row.caller.clientId, undefined);
    assert.equal(row.patient, undefined);
    assert.equal(row.caller.certificate, CLIENT_DN);
  });

  it('a token for another audience (EER) is refused: 401 invalid_token', async () => {
    const bearer = await token(eua, 'gp-eua', 'system/Organization.rs', EER);
    const answer = await call(eua, `/Organization/$getReceivingOrganizationBySORId?sorId=${GP_SOR}`, bearer);
    assert.equal(answer.status, 401, JSON.stringify(answer.body));
    assert.match(answer.challenge ?? '', /^Bearer error="invalid_token"/);
  });

  it('the admin API does not take the static eas.adminToken when the node has authorization: 401', async () => {
    const id = eerFeeds()[0]!.id;
    const withStatic = await fetch(`${eas.url}/admin/organizations/${id}`, {
      dispatcher: other,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    assert.equal(withStatic.status, 401);
    assert.match(withStatic.headers.get('www-authenticate') ?? '', /invalid_token/);
    await withStatic.body?.cancel();
  });

  it('the admin API with a token without eas/index.write: 403 insufficient_scope naming it', async () => {
    const id = eerFeeds()[0]!.id;
    const answer = await call(
      other,
      `/admin/organizations/${id}`,
      await token(other, 'operator', 'system/Organization.rs'),
    );
    assert.equal(answer.status, 403, JSON.stringify(answer.body));
    assert.match(answer.challenge ?? '', /insufficient_scope/);
    assert.match(answer.challenge ?? '', /scope="eas\/index\.write"/);
  });

  it('the admin API without a client certificate: 401', async () => {
    const id = eerFeeds()[0]!.id;
    const answer = await call(pki.anonymous, `/admin/organizations/${id}`);
    assert.equal(answer.status, 401, JSON.stringify(answer.body));
  });

  it('the admin API with eas/index.write: reads what EER fed', async () => {
    const id = eerFeeds()[0]!.id;
    const answer = await call(
      other,
      `/admin/organizations/${id}`,
      await token(other, 'operator', EAS_ADMIN_SCOPE),
    );
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal((answer.body.organization as Json).id, id);
  });

  it('/metadata stays open', async () => {
    assert.equal((await call(pki.anonymous, '/metadata')).status, 200);
  });
});
