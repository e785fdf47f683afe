// RFC 9396 on the client credentials grant: a token restricted to one patient (`ehmi_patient`), for the clients
// registered for it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Agent } from 'undici';
import type { AuthRole } from '../../src/auth/index.ts';
import { engines, type TestStore } from '../helpers/engines.ts';
import {
  authConfig,
  CLIENT_DN,
  EER,
  getJson,
  MSH,
  ORGANISATION,
  requestToken,
  startAuth,
  type TestPki,
  testPki,
  verifyJwt,
} from './helpers.ts';

type Jwks = Parameters<typeof verifyJwt>[1];
const CPR = '2509479989';
const patient = (detail: Record<string, unknown>) => JSON.stringify([{ type: 'ehmi_patient', ...detail }]);

for (const engine of engines()) {
  describe(`authorization server: tokens restricted to one patient (${engine.name})`, {
    skip: engine.skip,
  }, () => {
    let ts: TestStore;
    let pki: TestPki;
    let auth: AuthRole;
    let client: Agent;
    let stranger: Agent;
    before(async () => {
      pki = await testPki();
      ts = await engine.open();
      const registration = {
        subjectDn: CLIENT_DN,
        scope: 'system/Organization.rs system/Endpoint.rs system/MessageHeader.rs',
        organisation: ORGANISATION,
      };
      auth = await startAuth(
        ts,
        pki,
        authConfig(ts, {
          clients: [
            { clientId: 'msh-gp', ...registration, authorizationDetailsTypes: ['ehmi_patient'] },
            // The same organisation's other system, not registered for patient restrictions.
            { clientId: 'other-gp', ...registration, subjectDn: 'CN=stranger, O=Other, C=DK' },
          ],
        }),
      );
      client = pki.agent(pki.client);
      stranger = pki.agent(pki.stranger);
    });
    after(async () => {
      await client?.close();
      await stranger?.close();
      await auth?.close();
      await ts?.cleanup();
      await pki?.anonymous.close();
    });

    const ask = (authorizationDetails: string, agent = client, clientId = 'msh-gp') =>
      requestToken(auth.url, agent, {
        client_id: clientId,
        scope: 'system/MessageHeader.rs',
        resource: MSH,
        authorization_details: authorizationDetails,
      });

    it('a client registered for ehmi_patient gets a token with ehmi:patient and its authorization_details', async () => {
      const { status, body } = await ask(patient({ cpr: CPR }));
      assert.equal(status, 200, JSON.stringify(body));
      assert.deepEqual(body.authorization_details, [{ type: 'ehmi_patient', cpr: CPR }]);
      const jwks = (await getJson(`${auth.url}/jwks`, pki.anonymous)) as unknown as Jwks;
      const { payload } = verifyJwt(String(body.access_token), jwks);
      assert.deepEqual(payload['ehmi:patient'], { cpr: CPR });
      assert.deepEqual(payload.authorization_details, [{ type: 'ehmi_patient', cpr: CPR }]);
      assert.equal(payload.aud, MSH);
      assert.equal(payload.scope, 'system/MessageHeader.rs');
      // The organisation claims are still there.
      assert.equal(payload.cvr, ORGANISATION.cvr);
    });

    it('without authorization_details the token names no patient', async () => {
      const { status, body } = await requestToken(auth.url, client, {
        client_id: 'msh-gp',
        scope: 'system/MessageHeader.rs',
        resource: MSH,
      });
      assert.equal(status, 200, JSON.stringify(body));
      const jwks = (await getJson(`${auth.url}/jwks`, pki.anonymous)) as unknown as Jwks;
      const { payload } = verifyJwt(String(body.access_token), jwks);
      assert.equal(payload['ehmi:patient'], undefined);
      assert.equal(payload.authorization_details, undefined);
    });

    it('without a resource parameter the audience comes from the scope, as without details', async () => {
      const { status, body } = await requestToken(auth.url, client, {
        client_id: 'msh-gp',
        scope: 'system/Endpoint.rs',
        authorization_details: patient({ cpr: CPR }),
      });
      assert.equal(status, 200, JSON.stringify(body));
      const jwks = (await getJson(`${auth.url}/jwks`, pki.anonymous)) as unknown as Jwks;
      assert.equal(verifyJwt(String(body.access_token), jwks).payload.aud, EER);
    });

    it('invalid_authorization_details: a client not registered for ehmi_patient', async () => {
      const { status, body } = await ask(patient({ cpr: CPR }), stranger, 'other-gp');
      assert.equal(status, 400);
      assert.equal(body.error, 'invalid_authorization_details');
      assert.match(String(body.error_description), /not allowed for this client/);
    });

    for (const [what, cpr] of [
      ['nine digits', '250947998'],
      ['a hyphen', '250947-9989'],
      ['a number, not a string', 2509479989],
      ['no cpr', undefined],
    ] as const) {
      it(`invalid_authorization_details: a CPR with ${what}`, async () => {
        const { status, body } = await ask(patient(cpr === undefined ? {} : { cpr }));
        assert.equal(status, 400);
        assert.equal(body.error, 'invalid_authorization_details');
        assert.match(String(body.error_description), /10 digits/);
      });
    }

    it('invalid_authorization_details: two patients', async () => {
      const two = JSON.stringify([
        { type: 'ehmi_patient', cpr: CPR },
        { type: 'ehmi_patient', cpr: '0101701234' },
      ]);
      const { status, body } = await ask(two);
      assert.equal(status, 400);
      assert.equal(body.error, 'invalid_authorization_details');
      assert.match(String(body.error_description), /one patient/);
    });

    it('invalid_authorization_details: a member the restriction does not know (never ignored)', async () => {
      const { status, body } = await ask(patient({ cpr: CPR, actions: ['read'] }));
      assert.equal(status, 400);
      assert.equal(body.error, 'invalid_authorization_details');
      assert.match(String(body.error_description), /"actions"/);
    });

    it('invalid_authorization_details: an unknown type, and details that are not JSON', async () => {
      for (const details of [JSON.stringify([{ type: 'payment_initiation' }]), '[{"type":']) {
        const { status, body } = await ask(details);
        assert.equal(status, 400, details);
        assert.equal(body.error, 'invalid_authorization_details');
      }
    });

    it('RFC 9396 §10: the metadata lists ehmi_patient', async () => {
      const meta = await getJson(`${auth.url}/.well-known/oauth-authorization-server`, pki.anonymous);
      assert.deepEqual(meta.authorization_details_types_supported, ['ehmi_patient']);
    });
  });
}
