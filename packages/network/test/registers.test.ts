// The registers in the local network: startNetwork runs the central node (SMP + its DNS zone, EER, EAS) seeded from
// the organisations, and the access points discover each other through DNS (BDXL NAPTR) and the SMP. Real servers,
// real DNS on loopback, SQLite, and PostgreSQL when DATABASE_URL is set.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EhmiError } from '@ehmi/errors';
import { createCertificateAuthority, issueCertificate, RevocationChecker } from '@ehmi/pki';
import {
  EDS_STEPS,
  FHIR_ACK_STANDARD,
  fhirDocumentId,
  PROCESS_ID,
  RECEIPT_DOCUMENT_ID,
  readDeliveryStatus,
} from '@ehmi/sbdh';
import {
  apConfigSchema,
  type ConfigInput,
  configuredDiscovery,
  DEFAULT_MESSAGE_TYPES,
  documentTypeOf,
  eerResourcesFor,
  seedEer,
} from '@ehmi/server';
import { SmpClient } from '@ehmi/smp';
import pg from 'pg';
import pino from 'pino';
import { Agent } from 'undici';
import { engines, eventually, freePortBase } from '../../server/test/e2e/helpers.ts';
import { NetworkClient } from '../src/client.ts';
import {
  EAS_PATIENT_SCOPES,
  EAS_SCOPES,
  EER_WRITE_SCOPES,
  fetchWithToken,
  isValidGln,
  LOCAL_SML_ZONE,
  publishedDocumentTypes,
  type RunningNetwork,
  readNetworkManifest,
  startNetwork,
} from '../src/index.ts';
import { SAMPLE_PATIENT_CPR, sampleHomeCareObservation } from '../src/sample.ts';

const logger = pino({ level: (process.env.EHMI_TEST_LOG_LEVEL as 'warn') ?? 'silent' });

/** Short timers so a message and its receipt travel in well under a second. */
const FAST: ConfigInput = {
  log: { level: (process.env.EHMI_TEST_LOG_LEVEL as 'warn') ?? 'silent' },
  queue: { pollIntervalMs: 25, backoffBaseMs: 100, backoffMaxMs: 1000, leaseMs: 10_000 },
  ap: {
    send: { maxAttempts: 60, backoffBaseMs: 100, backoffMaxMs: 500, timeoutMs: 15_000 },
    handover: { backoffBaseMs: 100, backoffMaxMs: 500 },
  },
  msh: { sweepIntervalMs: 500 },
};

const HOMECARE_1_1 = fhirDocumentId('homecareobservation-message', '1.1');

/** A GLN with a valid GS1 check digit from its first twelve digits. */
function gln(first12: string): string {
  for (let d = 0; d <= 9; d++) if (isValidGln(`${first12}${d}`)) return `${first12}${d}`;
  throw new Error('unreachable');
}

describe('the SMP publishes what the MSH puts on its envelopes', () => {
  it('DEFAULT_MESSAGE_TYPES cover the prøvesvar (definition |1.1), the acknowledgement (2.0) and the EnvelopeReceipt', () => {
    const published = publishedDocumentTypes();
    // The CLI's prøvesvar says MessageHeader.definition `…|1.1`: ehmiSBDH DOCUMENTID …homecareobservation-message::1.1.
    const bundle = sampleHomeCareObservation(
      {
        name: 'a',
        role: 'municipality',
        gln: '5790000123117',
        sor: '1',
        msh: 'https://a',
        ap: 'https://a',
        clientId: 'a',
        scope: 'msh/messages.write',
        tls: { cert: 'x', key: 'x' },
        certificates: {
          as4: { cert: 'x', key: 'x' },
          tlsServer: { cert: 'x', key: 'x' },
          tlsClient: { cert: 'x', key: 'x' },
        },
      },
      {
        name: 'gp',
        role: 'gp',
        gln: '5790000127092',
        sor: '52581000016005',
        msh: 'https://b',
        ap: 'https://b',
        clientId: 'b',
        scope: 'msh/messages.write',
        tls: { cert: 'x', key: 'x' },
        certificates: {
          as4: { cert: 'x', key: 'x' },
          tlsServer: { cert: 'x', key: 'x' },
          tlsClient: { cert: 'x', key: 'x' },
        },
      },
    );
    const header = (bundle.entry as { resource: { definition?: string } }[])[0]!.resource;
    assert.match(header.definition ?? '', /\|1\.1$/);
    for (const t of [HOMECARE_1_1, fhirDocumentId(FHIR_ACK_STANDARD, '2.0'), RECEIPT_DOCUMENT_ID]) {
      assert.ok((DEFAULT_MESSAGE_TYPES as readonly string[]).includes(t), t);
      assert.ok(published.includes(t), t);
      assert.equal(documentTypeOf(t), t, 'published exactly as the envelope spells it');
    }
  });
});

describe('ap.discovery.smp', () => {
  it('needs either a zone or a fixed SMP url, and a trust anchor', () => {
    const parse = (smp: unknown) => apConfigSchema.safeParse({ discovery: { smp } });
    assert.equal(parse({ zone: 'sml.ehmi.internal', trustAnchors: ['/ca.pem'] }).success, true);
    assert.equal(parse({ url: 'http://127.0.0.1:8703', trustAnchors: ['/ca.pem'] }).success, true);
    assert.equal(parse({ trustAnchors: ['/ca.pem'] }).success, false);
    assert.equal(
      parse({ zone: 'sml.ehmi.internal', url: 'http://127.0.0.1:8703', trustAnchors: ['/ca.pem'] }).success,
      false,
    );
    assert.equal(parse({ zone: 'sml.ehmi.internal', trustAnchors: [] }).success, false);
    const d = parse({ zone: 'sml.ehmi.internal', trustAnchors: ['/ca.pem'] });
    assert.equal(d.success && d.data.discovery.smp?.naming, 'naptr');
  });

  it('a participant in the static map comes from the map; the others from DNS and the SMP', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ehmi-disc-'));
    try {
      const ca = await createCertificateAuthority({ subject: 'CN=Test CA', keyType: 'p-256' });
      const ap = await issueCertificate(ca, { subject: 'CN=ap', keyType: 'p-256', purposes: ['signing'] });
      const caFile = join(dir, 'ca.pem');
      const apFile = join(dir, 'ap.pem');
      await writeFile(caFile, ca.certificatePem);
      await writeFile(apFile, ap.certificatePem);
      const discovery = configuredDiscovery(
        {
          static: {
            '0088:5790000127092': {
              url: 'https://127.0.0.1:1/as4',
              certificate: apFile,
              transportProfile: 'x',
            },
          },
          // A DNS server nobody runs: a lookup that reaches it fails as a transient lookup failure.
          smp: {
            zone: LOCAL_SML_ZONE,
            naming: 'naptr',
            dnsServer: { host: '127.0.0.1', port: 9 },
            trustAnchors: [caFile],
            cacheTtlMs: 0,
            timeoutMs: 300,
          },
        },
        new RevocationChecker(),
      );
      const mapped = await discovery.lookup(
        'iso6523-actorid-upis::0088:5790000127092',
        HOMECARE_1_1,
        PROCESS_ID,
      );
      assert.equal(mapped.endpointUrl, 'https://127.0.0.1:1/as4');
      await assert.rejects(discovery.lookup('0088:5790000123117', HOMECARE_1_1, PROCESS_ID), (e: unknown) => {
        assert.ok(e instanceof EhmiError);
        assert.equal(e.code, 'EHMI_SMP_LOOKUP_FAILED');
        return true;
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

for (const engine of engines()) {
  describe(`registers in the local network (${engine.name})`, { skip: engine.skip }, () => {
    let dataDir: string;
    let net: RunningNetwork | undefined;
    let ca: string;
    let tls: Agent;
    let client: NetworkClient;
    /** EER writes as the maintainer (system/*.cruds), EAS lookups as the gp's EUA: mTLS and access tokens. */
    let maintainer: ReturnType<typeof fetchWithToken>;
    let eua: ReturnType<typeof fetchWithToken>;
    const prefix = `reg_${Math.random().toString(16).slice(2, 8)}`;
    const options = () => ({
      dataDir,
      portBase,
      logger,
      base: { ...FAST, database: { schema: prefix } },
      ...(engine.databaseUrl ? { databaseUrl: engine.databaseUrl } : {}),
    });
    let portBase: number;
    let readyMs = 0;

    /** An SmpClient as an access point has it: the network's DNS server, the root CA as trust anchor. */
    const smpClient = () => {
      const m = readNetworkManifest(dataDir);
      const dns = new URL(m.services.dns!);
      return new SmpClient({
        sml: { zone: LOCAL_SML_ZONE, naming: 'naptr' },
        dns: { host: dns.hostname, port: Number(dns.port) },
        trustAnchors: [readFileSync(m.trustAnchor, 'utf8')],
        cacheTtlMs: 0,
      });
    };

    before(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'ehmi-net-registers-'));
      portBase = await freePortBase();
      const t = Date.now();
      net = await startNetwork(options());
      readyMs = Date.now() - t;
      ca = readFileSync(net.manifest.trustAnchor, 'utf8');
      tls = new Agent({ connect: { ca } });
      client = NetworkClient.open(dataDir);
      const m = net.manifest;
      const gp = m.organisations.find((o) => o.role === 'gp')!;
      maintainer = fetchWithToken({
        authUrl: m.services.auth!,
        caPem: ca,
        tls: m.maintainer.tls,
        clientId: m.maintainer.clientId,
        scope: EER_WRITE_SCOPES.join(' '),
        resource: m.services.eer!,
      });
      eua = fetchWithToken({
        authUrl: m.services.auth!,
        caPem: ca,
        tls: gp.tls,
        clientId: gp.clientId,
        scope: [...EAS_SCOPES, ...EAS_PATIENT_SCOPES].join(' '),
        resource: m.services.eas!,
      });
    });

    after(async () => {
      await client?.close();
      await tls?.close();
      await maintainer?.close();
      await eua?.close();
      await net?.close();
      if (engine.databaseUrl) {
        const c = new pg.Client({ connectionString: engine.databaseUrl });
        await c.connect();
        for (const org of ['municipality', 'gp', 'hospital', 'central', 'archive'])
          await c.query(`DROP SCHEMA IF EXISTS "${prefix}_${org}" CASCADE`);
        await c.end();
      }
      await rm(dataDir, { recursive: true, force: true });
    });

    it('network.json lists smp, eer, eas, eds, the DNS server, the central node’s own server, the CRL and the authorization server; the access points have no static map', () => {
      assert.ok(readyMs > 0);
      const m = readNetworkManifest(dataDir);
      assert.deepEqual(m.services, {
        smp: `http://127.0.0.1:${portBase + 3}`,
        eer: `https://127.0.0.1:${portBase + 1}`,
        eas: `https://127.0.0.1:${portBase + 2}`,
        eds: `https://127.0.0.1:${portBase + 5}`,
        dns: `dns://127.0.0.1:${portBase + 4}`,
        node: `https://127.0.0.1:${portBase + 9}`,
        crl: `http://127.0.0.1:${portBase + 8}/root-ca.crl`,
        // The document archive: the slot after the three organisations (its FHIR API on the slot's first port).
        archive: `https://127.0.0.1:${portBase + 19}`,
        console: `https://127.0.0.1:${portBase + 7}`,
        auth: `https://127.0.0.1:${portBase}`,
      });
      for (const o of net!.plan.organisations) {
        assert.deepEqual(o.config.ap.discovery.static, {}, o.spec.name);
        assert.equal(o.config.ap.discovery.smp?.zone, LOCAL_SML_ZONE);
        assert.deepEqual(o.config.ap.discovery.smp?.dnsServer, { host: '127.0.0.1', port: portBase + 4 });
        assert.deepEqual(o.config.ap.discovery.smp?.trustAnchors, [m.trustAnchor]);
        // Its stations report to the central EDS with the organisation's own client.
        assert.deepEqual(
          { url: o.config.deliveryStatus.url, clientId: o.config.deliveryStatus.clientId },
          { url: m.services.eds, clientId: o.clientId },
        );
      }
      // The central node has its own store; secrets and the SMP key are private to the owner.
      const central = net!.plan.central.config;
      assert.equal(central.dataDir, join(dataDir, 'central'));
      assert.equal(net!.central.store.engine, engine.databaseUrl ? 'postgres' : 'sqlite');
      if (engine.databaseUrl) assert.equal(central.database.schema, `${prefix}_central`);
      assert.equal(statSync(join(dataDir, 'central', 'secrets.json')).mode & 0o777, 0o600);
      assert.equal(statSync(net!.plan.pki.central.smpSigning.key).mode & 0o777, 0o600);
    });

    it("a lookup through the network's DNS finds each organisation's AP URL and certificate, signed by the SMP", async () => {
      const smp = smpClient();
      const m = readNetworkManifest(dataDir);
      for (const o of m.organisations) {
        const apCert = new X509Certificate(readFileSync(net!.plan.pki.organisations[o.name]!.as4.cert));
        for (const documentType of publishedDocumentTypes()) {
          const r = await smp.lookup(`0088:${o.gln}`, documentType, PROCESS_ID);
          assert.equal(r.endpointUrl, o.ap, `${o.name} ${documentType}`);
          assert.equal(r.certificate.fingerprint256, apCert.fingerprint256);
          assert.equal(r.smpUrl.replace(/\/$/, ''), m.services.smp);
          // The SMP signs with its own certificate, issued by the network's root CA.
          assert.equal(r.smpCertificate.issuer, new X509Certificate(ca).subject);
        }
      }
    });

    it('EAS finds the GP by SOR and, through the seeded table, by the patient of the prøvesvar', async () => {
      const m = readNetworkManifest(dataDir);
      const gp = m.organisations.find((o) => o.role === 'gp')!;
      const bySor = await eua.fetch(
        `${m.services.eas}/Organization/$getReceivingOrganizationBySORId?sorId=${gp.sor}`,
        { headers: { accept: 'application/fhir+json' } },
      );
      assert.equal(bySor.status, 200);
      const b1 = (await bySor.json()) as { entry: { resource: { resourceType: string; id: string } }[] };
      assert.ok(b1.entry.some((e) => e.resource.resourceType === 'Organization' && e.resource.id === 'gp'));
      const byPatient = await eua.fetch(
        `${m.services.eas}/Organization/$getReceivingOrganizationByPatientId`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/fhir+json', accept: 'application/fhir+json' },
          body: JSON.stringify({
            resourceType: 'Parameters',
            parameter: [
              {
                name: 'easCorePatient',
                resource: {
                  resourceType: 'Patient',
                  meta: { profile: ['http://medcomehmi.dk/ig/eas/StructureDefinition/EasCorePatient'] },
                  identifier: [{ system: 'urn:oid:1.2.208.176.1.2', value: SAMPLE_PATIENT_CPR }],
                },
              },
            ],
          }),
        },
      );
      const text = await byPatient.text();
      assert.equal(byPatient.status, 200, text);
      const b2 = JSON.parse(text) as { entry: { resource: { resourceType: string; id: string } }[] };
      assert.ok(b2.entry.some((e) => e.resource.resourceType === 'Organization' && e.resource.id === 'gp'));
      // The seeded organisations carry their postal address, so the GP list by postal code finds the GP there only.
      const gps = async (postalCode: string) => {
        const res = await eua.fetch(
          `${m.services.eas}/Organization/$getListOfGpByPostalCode?postalCode=${postalCode}`,
          { headers: { accept: 'application/fhir+json' } },
        );
        assert.equal(res.status, 200);
        const bundle = (await res.json()) as {
          entry?: { resource: { resourceType: string; id: string } }[];
        };
        return (bundle.entry ?? [])
          .filter((e) => e.resource.resourceType === 'Organization')
          .map((e) => e.resource.id);
      };
      assert.deepEqual(await gps('8541'), ['gp']);
      assert.deepEqual(await gps('8000'), [], 'the municipality there is no GP practice');
    });

    it('a prøvesvar municipality → gp is receipted and acknowledged, every AP finding the other through DNS and the SMP, and every station reports each step to EDS', {
      timeout: 60_000,
    }, async () => {
      const bytes = JSON.stringify(
        sampleHomeCareObservation(client.organisation('municipality'), client.organisation('gp')),
      );
      const res = await client.call('municipality', 'POST', '/messages', {
        bytes,
        contentType: 'application/fhir+json',
      });
      assert.equal(res.status, 202, res.text);
      const id = (res.json as { id: string }).id;
      const status = async () =>
        (await client.call('municipality', 'GET', `/messages/${id}`)).json as {
          status: string;
          failure: unknown;
          events: { code: string; outcome: string }[];
        };
      // receipted: the gp's MSH sent its EnvelopeReceipt back, so the gp's AP found the municipality in the SMP too.
      await eventually('receipted', async () => {
        const s = await status();
        if (s.status === 'failed') throw new Error(`failed: ${JSON.stringify(s.failure)}`);
        return s.status === 'receipted' ? s : undefined;
      });
      const inbox = (await client.call('gp', 'GET', '/inbox')).json as {
        id: string;
        messageHeaderId: string;
      }[];
      const item = inbox.find(
        (i) => i.messageHeaderId === (res.json as { messageHeaderId: string }).messageHeaderId,
      );
      assert.ok(item, 'in the gp inbox');
      const ack = await client.call('gp', 'POST', `/inbox/${encodeURIComponent(item.id)}/$acknowledge`, {
        bytes: JSON.stringify({ code: 'ok' }),
        contentType: 'application/json',
      });
      assert.ok(ack.status === 202 || ack.status === 200, ack.text);
      await eventually('acknowledged', async () =>
        (await status()).status === 'acknowledged' ? true : undefined,
      );
      // The acknowledgement's own EnvelopeReceipt is back at gp (step 20.1).
      const ackId = (ack.json as { id: string }).id;
      const ackMessage = await eventually('the acknowledgement receipted', async () => {
        const a = (await client.call('gp', 'GET', `/messages/${ackId}`)).json as {
          status: string;
          messageHeaderId: string;
        };
        return a.status === 'receipted' ? a : undefined;
      });
      // Every station reported its steps to the central EDS: each step of the table once, as the operator reads it.
      const operator = fetchWithToken({
        authUrl: net!.manifest.services.auth!,
        caPem: ca,
        tls: net!.manifest.operator.tls,
        clientId: net!.manifest.operator.clientId,
        scope: 'system/AuditEvent.rs',
        resource: net!.manifest.services.eds!,
      });
      const mh = (res.json as { messageHeaderId: string }).messageHeaderId;
      const expected = EDS_STEPS.filter((st) => !(st.station === 'EUA' && st.subtype === 'msg-sent'))
        .map((st) => st.code)
        .sort();
      try {
        const codes = await eventually('every step in EDS', async () => {
          const events = new Map<string, Record<string, unknown>>();
          for (const q of [
            `message-id=${mh}`,
            `orig-message-id=${mh}`,
            `message-id=${ackMessage.messageHeaderId}`,
            `orig-message-id=${ackMessage.messageHeaderId}`,
          ]) {
            const r = await operator.fetch(`${net!.manifest.services.eds}/AuditEvent?${q}&_count=100`, {
              headers: { accept: 'application/fhir+json' },
            });
            assert.equal(r.status, 200, await r.clone().text());
            const bundle = (await r.json()) as { entry?: { resource: Record<string, unknown> }[] };
            for (const e of bundle.entry ?? []) events.set(String(e.resource.id), e.resource);
          }
          // The copy to the document archive answers `orig-message-id` too: a delivery of its own (its own id),
          // not a step of this message's flows.
          const found = [...events.values()]
            .map((e) => readDeliveryStatus(e))
            .filter(
              (v) =>
                !(v?.flow === 'message' && v.messageId !== mh && v.messageId !== ackMessage.messageHeaderId),
            )
            .map((v) => v?.step?.code ?? '?')
            .sort();
          return found.length >= expected.length ? found : undefined;
        });
        assert.deepEqual(codes, expected);
      } finally {
        await operator.close();
      }
      // Nothing static: the node configs have no map, so the sends above went through the SmpClient.
      for (const n of Object.values(net!.plan.organisations))
        assert.deepEqual(n.config.ap.discovery.static, {});
    });

    const newGln = gln('579000099887');
    it('an organisation created in EER with an endpoint is served by the SMP and found through DNS', {
      timeout: 30_000,
    }, async () => {
      const m = readNetworkManifest(dataDir);
      const certPem = readFileSync(net!.plan.pki.organisations.hospital!.as4.cert, 'utf8');
      const resources = eerResourcesFor({
        key: 'newclinic',
        title: 'Ny Klinik',
        sor: '999999000016001',
        gln: newGln,
        apUrl: 'https://127.0.0.1:9/as4',
        apCertificate: certPem,
      });
      // EER takes the write from the maintainer, with its certificate and a token for system/*.cruds.
      await seedEer(m.services.eer!, resources, maintainer.fetch);
      const smp = smpClient();
      const r = await eventually(
        'the SMP serves the new organisation',
        () => smp.lookup(`0088:${newGln}`, HOMECARE_1_1, PROCESS_ID),
        20_000,
      );
      assert.equal(r.endpointUrl, 'https://127.0.0.1:9/as4');
      assert.equal(r.certificate.fingerprint256, new X509Certificate(certPem).fingerprint256);
    });

    it('EER refuses an Endpoint with a wrong GLN check digit (422, nothing written) and shows the new organisation published to the SMP and EAS', async () => {
      const eer = readNetworkManifest(dataDir).services.eer!;
      const call = async (method: string, path: string, body?: unknown) => {
        const res = await maintainer.fetch(`${eer}${path}`, {
          method,
          headers: {
            accept: 'application/fhir+json',
            ...(body ? { 'content-type': 'application/fhir+json' } : {}),
          },
          ...(body ? { body: JSON.stringify(body) } : {}),
        });
        return { status: res.status, body: (await res.json()) as Record<string, unknown> };
      };
      const endpoint = (await call('GET', '/Endpoint/newclinic-endpoint')).body;
      const wrong = `${newGln.slice(0, 12)}${(Number(newGln[12]) + 1) % 10}`;
      const refused = await call('PUT', '/Endpoint/wrong-gln', {
        ...endpoint,
        id: 'wrong-gln',
        identifier: [{ use: 'official', system: 'http://www.gs1.org/gln', value: wrong }],
      });
      assert.equal(refused.status, 422, JSON.stringify(refused.body));
      assert.match(JSON.stringify(refused.body), /wrong check digit/);
      assert.equal((await call('GET', '/Endpoint/wrong-gln')).status, 404);
      const published = await eventually('both publications done', async () => {
        const status = await call('GET', '/Organization/newclinic/$publication-status');
        const parts = (
          (status.body.parameter as { part: { name: string; valueCode?: string }[] }[]) ?? []
        ).map((p) => Object.fromEntries(p.part.map((x) => [x.name, x.valueCode])));
        return parts.length === 2 && parts.every((p) => p.status === 'published') ? parts : undefined;
      });
      assert.deepEqual(published.map((p) => p.target).sort(), ['eas', 'smp']);
    });

    it('the MSH refuses a message to a valid GLN the SMP does not serve (422 naming it) and accepts one to a registered receiver', async () => {
      const unknown = gln('579000099886');
      const gp = client.organisation('gp');
      // The prøvesvar to the gp, its receiver's GLN swapped for a valid one no register holds.
      const bytes = JSON.stringify(
        sampleHomeCareObservation(client.organisation('municipality'), gp),
      ).replaceAll(gp.gln, unknown);
      const res = await client.call('municipality', 'POST', '/messages', {
        bytes,
        contentType: 'application/fhir+json',
      });
      assert.equal(res.status, 422, res.text);
      assert.match(res.text, new RegExp(`0088:${unknown} is not registered in the SMP`));
      assert.match(res.text, /EHMI_RECEIVER_NOT_REGISTERED/);
      const ok = await client.call('municipality', 'POST', '/messages', {
        bytes: JSON.stringify(
          sampleHomeCareObservation(client.organisation('municipality'), client.organisation('gp')),
        ),
        contentType: 'application/fhir+json',
      });
      assert.equal(ok.status, 202, ok.text);
    });

    it('a restart keeps the registers (and the secrets), and is ready again', {
      timeout: 60_000,
    }, async () => {
      const secrets = readFileSync(join(dataDir, 'central', 'secrets.json'), 'utf8');
      // Re-seeding unchanged organisations writes nothing: no new EER history versions at a restart.
      const eerUrl = readNetworkManifest(dataDir).services.eer!;
      const versions = () =>
        Promise.all(
          ['Organization/gp', 'Endpoint/gp-endpoint', 'Device/gp-ap'].map(async (id) => {
            const res = await maintainer.fetch(`${eerUrl}/${id}/_history`);
            return ((await res.json()) as { total: number }).total;
          }),
        );
      const versionsBefore = await versions();
      await net!.close();
      net = undefined;
      net = await startNetwork(options());
      assert.equal(readFileSync(join(dataDir, 'central', 'secrets.json'), 'utf8'), secrets);
      assert.deepEqual(await versions(), versionsBefore);
      const r = await smpClient().lookup(`0088:${newGln}`, HOMECARE_1_1, PROCESS_ID);
      assert.equal(r.endpointUrl, 'https://127.0.0.1:9/as4');
      const gp = readNetworkManifest(dataDir).organisations.find((o) => o.name === 'gp')!;
      const again = await smpClient().lookup(`0088:${gp.gln}`, RECEIPT_DOCUMENT_ID, PROCESS_ID);
      assert.equal(again.endpointUrl, gp.ap);
    });
  });
}
