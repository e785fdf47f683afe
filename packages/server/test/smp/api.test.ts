import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EhmiError } from '@ehmi/errors';
import {
  buildServiceGroup,
  buildServiceMetadata,
  documentId,
  parseServiceGroup,
  participantId,
  processId,
  serviceMetadataUrl,
  verifySignedServiceMetadata,
} from '@ehmi/smp';
import { SmpAdminClient } from '../../src/eer/smp-admin-client.ts';
import { engines } from '../helpers/engines.ts';
import { assertOpenApiListsEveryRoute } from '../helpers/openapi.ts';
import {
  AP_URL,
  HCO_CURRENT,
  HCO_LEGACY,
  OTHER,
  RECEIVER,
  SDN,
  type SmpTestPki,
  smpTestPki,
  startSmp,
  TOKEN,
} from './helpers.ts';

const HAS_XMLSEC = spawnSync('xmlsec1', ['--version']).status === 0;
if (!HAS_XMLSEC && process.env.CI === 'true') {
  throw new Error(
    'CI=true but xmlsec1 is not installed (apt-get install -y xmlsec1): SMP signatures must be checked with it',
  );
}
const noXmlsec = HAS_XMLSEC ? false : 'xmlsec1 is not installed (apt-get install -y xmlsec1)';

const p = participantId(RECEIVER);
const hco = documentId(HCO_CURRENT);
const ERROR_NS = 'ec:services:SMP:1.0';

function errorBody(text: string): { code: string; description: string } {
  assert.match(text, new RegExp(`<ErrorResponse xmlns="${ERROR_NS}">`));
  return {
    code: /<BusinessCode>(.*?)<\/BusinessCode>/.exec(text)?.[1] ?? '',
    description: /<ErrorDescription>(.*?)<\/ErrorDescription>/.exec(text)?.[1] ?? '',
  };
}

after(async () => (await smpTestPki()).cleanup());

for (const engine of engines()) {
  describe(`SMP server read and admin API (${engine.name})`, { skip: engine.skip }, () => {
    let pki: SmpTestPki;
    let test: Awaited<ReturnType<typeof engine.open>>;
    let smp: Awaited<ReturnType<typeof startSmp>>;
    let admin: SmpAdminClient;

    const put = (path: string, body: string, token = TOKEN, type = 'text/xml') =>
      fetch(`${smp.url}${path}`, {
        method: 'PUT',
        headers: { 'content-type': type, ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body,
      });

    before(async () => {
      pki = await smpTestPki();
      test = await engine.open();
      smp = await startSmp(test.store, pki);
      admin = new SmpAdminClient({ baseUrl: smp.url, token: TOKEN });
      assert.equal(await admin.publishServiceGroup(RECEIVER), true);
      assert.equal(
        await admin.publishServiceMetadata({
          participant: RECEIVER,
          documentType: HCO_CURRENT,
          process: SDN,
          endpointUrl: AP_URL,
          certificatePem: pki.ap.certificatePem,
        }),
        true,
      );
    });
    after(async () => {
      await smp?.close();
      await test?.cleanup();
    });

    it('serves the ServiceGroup with references to its own public URL, percent-encoded', async () => {
      const res = await fetch(`${smp.url}/${p.toUrlPath()}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'text/xml; charset=utf-8');
      const text = await res.text();
      const group = parseServiceGroup(text);
      assert.equal(group.flavour, 'oasis-bdxr-1');
      assert.ok(group.participant.equals(p));
      assert.deepEqual(
        group.references.map((r) => r.href),
        [serviceMetadataUrl(smp.url, p, hco)],
      );
      assert.match(
        text,
        /href="http:\/\/127\.0\.0\.1:\d+\/iso6523-actorid-upis%3A%3A0088%3A5790000121526\/services\/dk-medcom-messaging%3A%3Aurn%3Adk%3A.*%23%23urn%3A/,
      );
    });

    it('serves a SignedServiceMetadata that verifies against the SMP CA, with the endpoint as published', async () => {
      const res = await fetch(serviceMetadataUrl(smp.url, p, hco));
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'text/xml; charset=utf-8');
      const verified = verifySignedServiceMetadata(await res.text(), {
        trustAnchors: [pki.root.certificate],
      });
      assert.equal(verified.certificate.fingerprint256, pki.smp.certificate.fingerprint256);
      const info = verified.serviceMetadata.serviceInformation!;
      assert.ok(info.participant.equals(p));
      assert.ok(info.documentType.equals(hco));
      const endpoint = info.processes[0]!.endpoints[0]!;
      assert.ok(info.processes[0]!.processId.equals(processId(SDN)));
      assert.equal(endpoint.endpointUrl, AP_URL);
      assert.equal(endpoint.transportProfile, 'bdxr-transport-ebms3-as4-v1p0');
      assert.equal(endpoint.certificate, pki.ap.certificate.raw.toString('base64'));
    });

    it('xmlsec1 verifies the SignedServiceMetadata it serves, chained to the SMP CA', {
      skip: noXmlsec,
    }, async () => {
      const file = join(pki.dir, `served-${engine.name}.xml`);
      writeFileSync(file, await (await fetch(serviceMetadataUrl(smp.url, p, hco))).text());
      const r = spawnSync('xmlsec1', ['--verify', '--trusted-pem', join(pki.dir, 'root.pem'), file], {
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    });

    it('accepts a raw :: in the path and the other MedCom spellings of the document type', async () => {
      const raw = await fetch(
        `${smp.url}/${p.toString()}/services/${encodeURIComponent(hco.toString()).replace(/%3A/g, ':')}`,
      );
      assert.equal(raw.status, 200, await raw.clone().text());
      const legacy = await fetch(serviceMetadataUrl(smp.url, p, documentId(HCO_LEGACY)));
      assert.equal(legacy.status, 200);
      const md = verifySignedServiceMetadata(await legacy.text(), { trustAnchors: [pki.root.certificate] });
      assert.equal(md.serviceMetadata.serviceInformation!.documentType.value, HCO_CURRENT);
    });

    it('answers an unknown participant with 404 and the SMP error body', async () => {
      const res = await fetch(`${smp.url}/${participantId(OTHER).toUrlPath()}`);
      assert.equal(res.status, 404);
      assert.equal(res.headers.get('content-type'), 'text/xml; charset=utf-8');
      const body = errorBody(await res.text());
      assert.equal(body.code, 'NOT_FOUND');
      assert.match(body.description, /0088:5790000201389 is not registered/);
      const md = await fetch(serviceMetadataUrl(smp.url, participantId(OTHER), hco));
      assert.equal(md.status, 404);
      assert.equal(errorBody(await md.text()).code, 'NOT_FOUND');
    });

    it('answers an unknown document type of a known participant with 404', async () => {
      const other = documentId(HCO_CURRENT.replace('::1.2', '::9.9'));
      const res = await fetch(serviceMetadataUrl(smp.url, p, other));
      assert.equal(res.status, 404);
      assert.match(errorBody(await res.text()).description, /no ServiceMetadata for document type .*::9\.9/);
    });

    it('serves an OpenAPI document generated from the route schemas, listing every route', async () => {
      const res = await fetch(`${smp.url}/openapi.json`);
      assert.equal(res.status, 200);
      const doc = (await res.json()) as { paths: Record<string, Record<string, unknown>> };
      assertOpenApiListsEveryRoute(smp.app, doc);
      assert.deepEqual(Object.keys(doc.paths['/{wildcard}'] ?? {}).sort(), ['delete', 'get', 'put']);
    });

    it('answers a malformed identifier with 400 naming it', async () => {
      const cases: [string, RegExp][] = [
        [
          '/iso6523-actorid-upis%3A%3A0088%3A5790000121527',
          /participant identifier "iso6523-actorid-upis::0088:5790000121527".*check digit/,
        ],
        ['/0088%3A5790000121526', /participant identifier "0088:5790000121526".*scheme::value/],
        ['/iso6523-actorid-upis%3A%3Axyz', /participant identifier "iso6523-actorid-upis::xyz".*ICD/],
        [`/${p.toUrlPath()}/services/urn%3Ax`, /document identifier "urn:x".*scheme::value/],
      ];
      for (const [path, message] of cases) {
        const res = await fetch(`${smp.url}${path}`);
        assert.equal(res.status, 400, path);
        const body = errorBody(await res.text());
        assert.equal(body.code, 'FORMAT_ERROR');
        assert.match(body.description.replace(/&quot;/g, '"'), message);
      }
      // A path that is not percent-encoding at all is refused by fastify before any route (its own 400 body).
      assert.equal((await fetch(`${smp.url}/${p.toUrlPath()}/services/%E0%A4%A`)).status, 400);
    });

    it('refuses admin requests without a token or with a wrong one (401 with the error body)', async () => {
      const group = buildServiceGroup({ participant: participantId(OTHER), references: [] });
      for (const token of ['', 'wrong-token-0123456789']) {
        const res = await put(`/${participantId(OTHER).toUrlPath()}`, group, token);
        assert.equal(res.status, 401);
        assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="smp"');
        assert.equal(errorBody(await res.text()).code, 'UNAUTHORIZED');
      }
      const del = await fetch(`${smp.url}/${p.toUrlPath()}`, { method: 'DELETE' });
      assert.equal(del.status, 401);
      await assert.rejects(
        new SmpAdminClient({ baseUrl: smp.url, token: 'wrong-token-0123456789' }).publishServiceGroup(OTHER),
        (err: unknown) => err instanceof EhmiError && err.code === 'EHMI_UNAUTHORIZED',
      );
      assert.equal((await fetch(`${smp.url}/${participantId(OTHER).toUrlPath()}`)).status, 404);
    });

    it('refuses bad XML, a wrong document and a body about someone else with 400', async () => {
      const path = `/${participantId(OTHER).toUrlPath()}`;
      const malformed = await put(
        path,
        '<ServiceGroup xmlns="http://docs.oasis-open.org/bdxr/ns/SMP/2016/05">',
      );
      assert.equal(malformed.status, 400);
      assert.equal(errorBody(await malformed.text()).code, 'XSD_INVALID');
      const wrongRoot = await put(path, '<Foo xmlns="urn:x"/>');
      assert.equal(wrongRoot.status, 400);
      assert.match(errorBody(await wrongRoot.text()).description, /not a valid ServiceGroup/);
      const someoneElse = await put(path, buildServiceGroup({ participant: p, references: [] }));
      assert.equal(someoneElse.status, 400);
      assert.match(
        errorBody(await someoneElse.text()).description,
        /is not iso6523-actorid-upis::0088:5790000201389 of the URL/,
      );
      const json = await put(path, '{}', TOKEN, 'application/json');
      assert.equal(json.status, 415);
      const signed = await fetch(serviceMetadataUrl(smp.url, p, hco)).then((r) => r.text());
      const signedBody = await put(`/${p.toUrlPath()}/services/${hco.toUrlPath()}`, signed);
      assert.equal(signedBody.status, 400);
      assert.match(errorBody(await signedBody.text()).description, /PUT an unsigned ServiceMetadata/);
      const badCert = buildServiceMetadata({
        flavour: 'oasis-bdxr-1',
        serviceInformation: {
          participant: p,
          documentType: hco,
          processes: [
            {
              processId: processId(SDN),
              endpoints: [
                {
                  transportProfile: 'bdxr-transport-ebms3-as4-v1p0',
                  endpointUrl: AP_URL,
                  requireBusinessLevelSignature: false,
                  certificate: 'bm90IGEgY2VydGlmaWNhdGU=',
                  serviceDescription: 'x',
                  technicalContactUrl: 'x',
                },
              ],
            },
          ],
        },
      });
      const bad = await put(`/${p.toUrlPath()}/services/${hco.toUrlPath()}`, badCert);
      assert.equal(bad.status, 400);
      assert.match(
        errorBody(await bad.text()).description,
        /Certificate is not a base64 DER X\.509 certificate/,
      );
      // The published one is untouched.
      assert.equal((await fetch(serviceMetadataUrl(smp.url, p, hco))).status, 200);
    });

    it('refuses ServiceMetadata for a participant without a ServiceGroup (404)', async () => {
      await assert.rejects(
        admin.publishServiceMetadata({
          participant: OTHER,
          documentType: HCO_CURRENT,
          process: SDN,
          endpointUrl: AP_URL,
          certificatePem: pki.ap.certificatePem,
        }),
        (err: unknown) =>
          err instanceof EhmiError &&
          err.code === 'EHMI_NOT_FOUND' &&
          /PUT the ServiceGroup first/.test(err.message),
      );
    });

    it('replaces ServiceMetadata on a second PUT and serves the new endpoint', async () => {
      await admin.publishServiceGroup(OTHER);
      const publish = (endpointUrl: string) =>
        admin.publishServiceMetadata({
          participant: OTHER,
          documentType: HCO_CURRENT,
          process: SDN,
          endpointUrl,
          certificatePem: pki.ap.certificate,
        });
      assert.equal(await publish('https://a.example/as4'), true);
      assert.equal(await publish('https://b.example/as4'), false);
      const text = await (await fetch(serviceMetadataUrl(smp.url, participantId(OTHER), hco))).text();
      const md = verifySignedServiceMetadata(text, { trustAnchors: [pki.root.certificate] });
      assert.equal(
        md.serviceMetadata.serviceInformation!.processes[0]!.endpoints[0]!.endpointUrl,
        'https://b.example/as4',
      );
    });

    it('deletes ServiceMetadata and ServiceGroups: 404 afterwards', async () => {
      assert.equal(await admin.removeServiceMetadata(OTHER, HCO_CURRENT), true);
      assert.equal((await fetch(serviceMetadataUrl(smp.url, participantId(OTHER), hco))).status, 404);
      assert.equal(await admin.removeServiceMetadata(OTHER, HCO_CURRENT), false);
      await admin.publishServiceMetadata({
        participant: OTHER,
        documentType: HCO_CURRENT,
        process: SDN,
        endpointUrl: AP_URL,
        certificatePem: pki.ap.certificatePem,
      });
      assert.equal(await admin.removeServiceGroup(OTHER), true);
      assert.equal((await fetch(`${smp.url}/${participantId(OTHER).toUrlPath()}`)).status, 404);
      assert.equal((await fetch(serviceMetadataUrl(smp.url, participantId(OTHER), hco))).status, 404);
      assert.equal(await admin.removeServiceGroup(OTHER), false);
    });

    it('keeps everything across a restart', async () => {
      await smp.close();
      smp = await startSmp(test.store, pki, { flavour: 'peppol' });
      const res = await fetch(serviceMetadataUrl(smp.url, p, hco));
      assert.equal(res.status, 200);
      const md = verifySignedServiceMetadata(await res.text(), { trustAnchors: [pki.root.certificate] });
      // Stored flavour-neutral: the restarted SMP speaks Peppol SMP 1.x.
      assert.equal(md.serviceMetadata.flavour, 'peppol');
      assert.equal(md.serviceMetadata.serviceInformation!.processes[0]!.endpoints[0]!.endpointUrl, AP_URL);
      assert.equal(smp.dns?.zone.size, 1);
      if (HAS_XMLSEC) {
        const file = join(pki.dir, `served-peppol-${engine.name}.xml`);
        writeFileSync(file, await (await fetch(serviceMetadataUrl(smp.url, p, hco))).text());
        const r = spawnSync('xmlsec1', ['--verify', '--trusted-pem', join(pki.dir, 'root.pem'), file], {
          encoding: 'utf8',
        });
        assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
      }
    });
  });
}

describe('SMP role configuration', () => {
  let pki: SmpTestPki;
  let test: Awaited<ReturnType<ReturnType<typeof engines>[number]['open']>>;
  before(async () => {
    pki = await smpTestPki();
    test = await engines()[0]!.open();
  });
  after(async () => {
    await test?.cleanup();
  });

  it('refuses to start without a signing credential, or with a key of another certificate', async () => {
    await assert.rejects(
      startSmp(test.store, pki, { signing: undefined }),
      (err: unknown) =>
        err instanceof EhmiError && err.code === 'EHMI_CONFIG_INVALID' && /smp\.signing/.test(err.message),
    );
    await assert.rejects(
      startSmp(test.store, pki, {
        signing: { cert: join(pki.dir, 'smp.pem'), key: join(pki.dir, 'rogue.key') },
      }),
      (err: unknown) =>
        err instanceof EhmiError && err.code === 'EHMI_CONFIG_INVALID' && /does not belong/.test(err.message),
    );
  });

  it('answers /health and refuses every write when no admin token is configured', async () => {
    const smp = await startSmp(test.store, pki, { adminToken: undefined, dns: { enabled: false } });
    try {
      assert.equal(smp.dns, undefined);
      const health = await fetch(`${smp.url}/health`);
      assert.deepEqual(await health.json(), { status: 'ok', service: 'smp' });
      const res = await fetch(`${smp.url}/${p.toUrlPath()}`, {
        method: 'PUT',
        headers: { 'content-type': 'text/xml', authorization: `Bearer ${TOKEN}` },
        body: buildServiceGroup({ participant: p, references: [] }),
      });
      assert.equal(res.status, 403);
      assert.match(errorBody(await res.text()).description, /admin API of this SMP is disabled/);
    } finally {
      await smp.close();
    }
  });
});
