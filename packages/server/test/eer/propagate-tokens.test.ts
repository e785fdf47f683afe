// The registers with the node's `authorization` (a real authorization server role): the SMP's admin API is HTTPS on
// its own port and takes certificate-bound access tokens with smp/publication.write (its public GETs stay plain
// HTTP, no certificate, no token), EAS's admin API takes them with eas/index.write, and EER propagates to both with
// the tokens of its own client; a token the authorization server refuses is reported with its reason.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { type Agent, fetch } from 'undici';
import type { AuthRole } from '../../src/auth/index.ts';
import type { EasRole } from '../../src/eas/index.ts';
import { eerResourcesFor } from '../../src/eer/seed.ts';
import { roleContext } from '../../src/node.ts';
import { configSchema } from '../../src/role-list.ts';
import { createSmpRole, type SmpRole } from '../../src/smp/index.ts';
import { smpRole } from '../../src/smp/role.ts';
import { JobQueue } from '../../src/store/index.ts';
import { TokenClient } from '../../src/token-client.ts';
import {
  authConfig,
  CLIENT_DN,
  EER,
  requestToken,
  startAuth,
  type TestPki,
  testPki,
} from '../auth/helpers.ts';
import { roleContext as easContext, startEas } from '../eas/helpers.ts';
import { engines, type TestStore } from '../helpers/engines.ts';
import { freePort } from '../helpers/ports.ts';
import { type SmpTestPki, smpTestPki, TOKEN } from '../smp/helpers.ts';
import { drained, type RunningEer, startEer } from './helpers.ts';

const engine = engines()[0]!;
const WRITES = 'system/Organization.cruds system/Endpoint.cruds system/Device.cruds';
const STRANGER_DN = 'CN=stranger, O=Other, C=DK';
const GLN = '5790000127092';
const SOR = '52581000016005';
const PARTICIPANT_PATH = `/iso6523-actorid-upis%3A%3A0088%3A${GLN}`;

describe('the registers with access tokens: EER → SMP admin API and EAS admin API', () => {
  let ts: TestStore;
  let other: TestStore;
  let pki: TestPki;
  let smpPki: SmpTestPki;
  let auth: AuthRole;
  let smp: SmpRole;
  let eas: EasRole;
  let eer: RunningEer;
  let maintainer: Agent;
  let publisher: Agent;
  let smpAdminUrl: string;
  let easUrl: string;
  let clientFiles: { cert: string; key: string };
  const tls = () => ({ key: pki.server.privateKeyPem, cert: pki.server.certificatePem, ca: [pki.caPem] });

  const token = async (agent: Agent, clientId: string, scope: string, resource: string) => {
    const { status, body } = await requestToken(auth.url, agent, { client_id: clientId, scope, resource });
    assert.equal(status, 200, JSON.stringify(body));
    return String(body.access_token);
  };
  const admin = async (agent: Agent, bearer: string | undefined, path = PARTICIPANT_PATH) => {
    const res = await fetch(`${smpAdminUrl}${path}`, {
      method: 'DELETE',
      dispatcher: agent,
      headers: bearer ? { authorization: `Bearer ${bearer}` } : {},
    });
    return { status: res.status, challenge: res.headers.get('www-authenticate'), text: await res.text() };
  };
  const write = async (resources: ReturnType<typeof eerResourcesFor>, eerUrl = eer.url, resource = EER) => {
    const bearer = await token(maintainer, 'maintainer', WRITES, resource);
    for (const [type, r] of [
      ['Device', resources.device],
      ['Organization', resources.organization],
      ['Endpoint', resources.endpoint],
    ] as const) {
      const res = await fetch(`${eerUrl}/${type}/${String(r.id)}`, {
        method: 'PUT',
        dispatcher: maintainer,
        headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/fhir+json' },
        body: JSON.stringify(r),
      });
      assert.ok(res.status === 200 || res.status === 201, `${type}: ${res.status} ${await res.text()}`);
    }
  };
  const gp = () =>
    eerResourcesFor({
      key: 'gp',
      title: 'Skødstrup Lægepraksis',
      sor: SOR,
      gln: GLN,
      apUrl: 'https://127.0.0.1:18711/as4',
      apCertificate: smpPki.ap.certificatePem,
    });

  before(async () => {
    [pki, smpPki] = await Promise.all([testPki(), smpTestPki()]);
    ts = await engine.open();
    other = await engine.open();
    const [smpAdminPort, easPort] = [await freePort(), await freePort()];
    smpAdminUrl = `https://127.0.0.1:${smpAdminPort}`;
    easUrl = `https://127.0.0.1:${easPort}`;
    auth = await startAuth(
      ts,
      pki,
      authConfig(ts, {
        resources: {
          [EER]: WRITES,
          'https://eer2.ehmi.test': WRITES,
          [smpAdminUrl]: 'smp/publication.write',
          [easUrl]: 'system/Organization.rs eas/index.write',
        },
        clients: [
          // The register's EER as a client: its TLS client certificate is `pki.client`.
          { clientId: 'central-eer', subjectDn: CLIENT_DN, scope: 'smp/publication.write eas/index.write' },
          // The same certificate, registered without the SMP's scope.
          { clientId: 'eer-without-smp', subjectDn: CLIENT_DN, scope: 'eas/index.write' },
          { clientId: 'maintainer', subjectDn: STRANGER_DN, scope: `${WRITES} system/Organization.rs` },
        ],
      }),
    );
    const authorization = { issuer: auth.issuer };
    const smpConfig = configSchema.parse({
      dataDir: ts.dataDir,
      log: { level: 'silent' },
      authorization,
      smp: {
        enabled: true,
        port: 0,
        signing: { cert: join(smpPki.dir, 'smp.pem'), key: join(smpPki.dir, 'smp.key') },
        // Set, and not taken: the admin API takes access tokens.
        adminToken: TOKEN,
        admin: { port: smpAdminPort },
        dns: { enabled: false },
      },
    });
    smp = await createSmpRole(
      roleContext(smpRole, {
        config: smpConfig,
        store: ts.store,
        queue: new JobQueue(ts.store, smpConfig.queue),
        logger: pino({ level: 'silent' }),
        tls: tls(),
      }),
    );
    await smp.start();
    eas = await startEas(easContext(ts.store, { port: easPort }, tls(), { authorization }));
    // EER's own client certificate (eer.propagation.tls), not the node's.
    clientFiles = { cert: join(ts.dataDir, 'eer-client.pem'), key: join(ts.dataDir, 'eer-client.key') };
    writeFileSync(clientFiles.cert, pki.client.certificatePem);
    writeFileSync(clientFiles.key, pki.client.privateKeyPem);
    eer = await startEer(
      ts,
      {
        publicUrl: EER,
        apTrustAnchors: [join(smpPki.dir, 'root.pem')],
        smp: { url: smpAdminUrl },
        eas: { url: easUrl },
        propagation: { clientId: 'central-eer', tls: clientFiles },
      },
      {},
      undefined,
      tls(),
      { authorization },
    );
    maintainer = pki.agent(pki.stranger);
    publisher = pki.agent(pki.client);
  });
  after(async () => {
    await eer?.close();
    await eas?.close();
    await smp?.close();
    await auth?.close();
    await maintainer?.close();
    await publisher?.close();
    await pki?.anonymous.close();
    await ts?.cleanup();
    await other?.cleanup();
  });

  it('an organisation written to EER is published by the SMP and indexed by EAS, with the tokens of central-eer', async () => {
    await write(gp());
    await drained(eer.role);
    const dead = await ts.store.db
      .selectFrom('jobs')
      .select(['status', 'last_error'])
      .where('status', '=', 'dead')
      .execute();
    assert.deepEqual(dead, []);
    // The SMP's public GET: plain HTTP, no certificate, no token.
    const group = await fetch(`${smp.url}${PARTICIPANT_PATH}`);
    assert.equal(group.status, 200, await group.text());
    assert.match(smp.url, /^http:/);
    assert.equal((await eas.index.get('gp'))?.organization.id, 'gp');
  });

  it('the SMP read server does not take writes: 403 naming the admin API', async () => {
    const res = await fetch(`${smp.url}${PARTICIPANT_PATH}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(res.status, 403);
    assert.match(await res.text(), new RegExp(`served over HTTPS at ${smpAdminUrl}`));
  });

  it('the SMP admin API refuses a call without a client certificate (401), the static token (401 invalid_token) and a token without smp/publication.write (403)', async () => {
    const none = await admin(pki.anonymous, undefined);
    assert.equal(none.status, 401, none.text);
    const staticToken = await admin(publisher, TOKEN);
    assert.equal(staticToken.status, 401, staticToken.text);
    assert.match(staticToken.challenge ?? '', /invalid_token/);
    const easToken = await token(publisher, 'central-eer', 'eas/index.write', easUrl);
    const wrongAudience = await admin(publisher, easToken);
    assert.equal(wrongAudience.status, 401, wrongAudience.text);
    const noScope = await token(maintainer, 'maintainer', 'system/Organization.cruds', EER);
    assert.equal((await admin(maintainer, noScope)).status, 401);
    const group = await fetch(`${smp.url}${PARTICIPANT_PATH}`);
    assert.equal(group.status, 200);
    await group.body?.cancel();
  });

  it('a token request the authorization server refuses is reported with its error and description', async () => {
    const tokens = new TokenClient({
      issuer: auth.issuer,
      clientId: 'eer-without-smp',
      dispatcher: publisher,
    });
    await assert.rejects(
      tokens.token({ resource: smpAdminUrl, scope: 'smp/publication.write' }),
      (err: Error) => {
        assert.equal((err as { code?: string }).code, 'EHMI_UNAUTHORIZED');
        assert.match(
          err.message,
          /refused eer-without-smp's token request for https:\/\/127\.0\.0\.1:\d+ \(HTTP 400\): invalid_scope/,
        );
        assert.equal((err as { details?: { oauthError?: string } }).details?.oauthError, 'invalid_scope');
        return true;
      },
    );
  });

  it('EER propagating as a client without smp/publication.write: the job fails with the authorization server reason', async () => {
    const second = await startEer(
      other,
      {
        publicUrl: 'https://eer2.ehmi.test',
        apTrustAnchors: [join(smpPki.dir, 'root.pem')],
        smp: { url: smpAdminUrl },
        propagation: { clientId: 'eer-without-smp', tls: clientFiles },
      },
      {},
      undefined,
      tls(),
      { authorization: { issuer: auth.issuer } },
    );
    try {
      await write(gp(), second.url, 'https://eer2.ehmi.test');
      await drained(second.role);
      const failed = await other.store.db
        .selectFrom('jobs')
        .select(['status', 'last_error'])
        .where('queue', '=', 'eer.propagate')
        .execute();
      // The jobs that had something to publish died with the server's reason (a write of a Device alone publishes
      // nothing and is done).
      const dead = failed.filter((j) => j.status === 'dead');
      assert.ok(dead.length > 0, JSON.stringify(failed));
      for (const job of dead) {
        assert.match(job.last_error ?? '', /refused eer-without-smp's token request .*invalid_scope/);
      }
    } finally {
      await second.close();
    }
  });

  it('the SMP admin API with the central-eer token removes the participant: 200', async () => {
    const bearer = await token(publisher, 'central-eer', 'smp/publication.write', smpAdminUrl);
    const removed = await admin(publisher, bearer);
    assert.equal(removed.status, 200, removed.text);
    const group = await fetch(`${smp.url}${PARTICIPANT_PATH}`);
    assert.equal(group.status, 404);
    await group.body?.cancel();
  });
});
