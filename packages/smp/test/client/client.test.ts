import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { EhmiError } from '@ehmi/errors';
import {
  bdxlHostname,
  buildServiceGroup,
  buildSignedServiceMetadata,
  documentId,
  gs1CheckDigit,
  MAX_SMP_RESPONSE_BYTES,
  participantId,
  processId,
  type ServiceMetadata,
  SmpClient,
  type SmpClientOptions,
  serviceMetadataUrl,
  smlHostname,
} from '../../src/index.ts';
import { startDnsServer } from '../helpers/dns-server.ts';
import { HCO_CURRENT, HCO_LEGACY, RECEIVER, SDN, sampleMetadata } from '../helpers/model.ts';
import { type TestPki, testPki } from '../helpers/pki.ts';
import { NOT_FOUND_BODY, type SmpServer, startSmpServer } from '../helpers/smp-server.ts';

const ZONE = 'sml.ehmi.test';
const SMP_HOST = 'smp.ehmi.test';
const gln = (base12: string) => `0088:${base12}${gs1CheckDigit(base12)}`;
const CNAME_ONLY = '0088:5790000201389';
const UNKNOWN = gln('579000000000');
const SERVFAIL = gln('579000000001');

let pki: TestPki;
let smp: SmpServer;
let smp2: SmpServer;
let dns: Awaited<ReturnType<typeof startDnsServer>>;

const path = (p: string, d?: string) =>
  d
    ? `/${participantId(p, { lenient: true })}/services/${documentId(d)}`
    : `/${participantId(p, { lenient: true })}`;

function sign(
  md: ServiceMetadata,
  party: TestPki['smp'] = pki.smp,
  chain?: TestPki['smp']['certificate'][],
): string {
  return buildSignedServiceMetadata(md, { key: party.key, certificate: chain ?? party.certificate });
}

function publish(server: SmpServer, participant: string, md: ServiceMetadata, party?: TestPki['smp']): void {
  const d = md.serviceInformation!.documentType.value;
  server.routes.set(path(participant, d), { body: sign(md, party) });
  server.routes.set(path(participant), {
    body: buildServiceGroup(
      {
        participant: participantId(participant, { lenient: true }),
        references: [{ documentType: documentId(d) }],
      },
      { baseUrl: `http://127.0.0.1:${server.port}` },
    ),
  });
}

const md = (over: Parameters<typeof sampleMetadata>[1] = {}) => sampleMetadata(pki.ap.certificate.raw, over);

before(async () => {
  pki = await testPki();
  smp = await startSmpServer();
  smp2 = await startSmpServer();
  publish(smp, RECEIVER, md());
  publish(smp, CNAME_ONLY, md({ participant: CNAME_ONLY }));
  dns = await startDnsServer({
    naptr: {
      [bdxlHostname(participantId(RECEIVER), ZONE)]: [
        {
          order: 100,
          preference: 10,
          flags: 'U',
          service: 'Meta:SMP',
          regexp: `!^.*$!http://${SMP_HOST}:${smp.port}/!`,
        },
      ],
    },
    cname: {
      [smlHostname(participantId(RECEIVER), ZONE)]: SMP_HOST,
      [smlHostname(participantId(CNAME_ONLY), ZONE)]: SMP_HOST,
    },
    a: { [SMP_HOST]: ['127.0.0.1'] },
    servfail: [bdxlHostname(participantId(SERVFAIL), ZONE)],
  });
});

after(async () => {
  await smp.close();
  await smp2.close();
  await dns.close();
});

const direct = (over: Partial<SmpClientOptions> = {}) =>
  new SmpClient({ smpUrl: `http://127.0.0.1:${smp.port}`, trustAnchors: [pki.root], cacheTtlMs: 0, ...over });
const viaDns = (over: Partial<SmpClientOptions> = {}) =>
  new SmpClient({
    sml: { zone: ZONE, cnamePort: smp.port, ...(over.sml ?? {}) },
    dns: { host: '127.0.0.1', port: dns.port, timeoutMs: 500, tries: 1 },
    trustAnchors: [pki.root],
    cacheTtlMs: 0,
    ...over,
  });

const rejects = (code: string, reason?: string, check?: (err: EhmiError) => void) => (err: unknown) => {
  assert.ok(err instanceof EhmiError, String(err));
  assert.equal(err.code, code, err.message);
  if (reason) assert.equal(err.details.reason, reason, err.message);
  check?.(err);
  return true;
};

describe('SmpClient with a configured SMP URL', () => {
  it('returns the endpoint URL, the AP certificate and the transport profile', async () => {
    const r = await direct().lookup(RECEIVER, HCO_CURRENT);
    assert.equal(r.endpointUrl, 'https://ap.ehmi.test/as4');
    assert.equal(r.transportProfile, 'bdxr-transport-ebms3-as4-v1p0');
    assert.equal(r.certificate.fingerprint256, pki.ap.certificate.fingerprint256);
    assert.equal(r.smpCertificate.fingerprint256, pki.smp.certificate.fingerprint256);
    assert.equal(r.process.value, SDN);
    assert.ok(r.participant.equals(participantId(RECEIVER)));
  });

  it('asks for the percent-encoded resource (no raw # or :: on the wire)', async () => {
    const before = smp.hits.length;
    await direct().lookup(RECEIVER, HCO_CURRENT);
    const hit = smp.hits.slice(before).find((h) => h.includes('/services/'))!;
    assert.equal(
      hit,
      `/${participantId(RECEIVER).toUrlPath()}/services/${documentId(HCO_CURRENT).toUrlPath()}`,
    );
  });

  it('tells an unknown participant (SMP 404) as not registered, with the SMP error body', async () => {
    await assert.rejects(
      direct().lookup(UNKNOWN, HCO_CURRENT),
      rejects('EHMI_SMP_NOT_REGISTERED', 'smp', (err) => {
        assert.equal(err.details.smpStatus, 404);
        assert.equal(err.details.smpBody, NOT_FOUND_BODY);
        assert.match(err.message, /Unknown participant in this SMP/);
        assert.equal(err.status, 404);
      }),
    );
  });

  it('names the registered document types when the one asked for is missing', async () => {
    const other =
      'urn:dk:healthcare:medcom:messaging:fhir:structuredefinition::carecommunication-message##urn:dk:medcom:fhir:carecommunication-message::4.0';
    await assert.rejects(
      direct().lookup(RECEIVER, other),
      rejects('EHMI_SMP_NOT_REGISTERED', 'document-type', (err) => {
        assert.deepEqual(err.details.available, [documentId(HCO_CURRENT).toString()]);
      }),
    );
  });

  it('finds a document type the SMP publishes under another MedCom spelling', async () => {
    const r = await direct().lookup(RECEIVER, HCO_LEGACY);
    assert.equal(r.documentType.value, HCO_CURRENT);
    assert.equal(r.endpointUrl, 'https://ap.ehmi.test/as4');
  });

  it('matches the process in its short EHMI form', async () => {
    assert.equal((await direct().lookup(RECEIVER, HCO_CURRENT, 'sdn-emergence')).process.value, SDN);
  });

  it('tells a process the participant does not offer as not registered', async () => {
    await assert.rejects(
      direct().lookup(RECEIVER, HCO_CURRENT, 'urn:ehmi:other'),
      rejects('EHMI_SMP_NOT_REGISTERED', 'process'),
    );
  });

  it('names a malformed participant before any request', async () => {
    const before = smp.hits.length;
    await assert.rejects(
      direct().lookup('0088:5790000121527', HCO_CURRENT),
      rejects('EHMI_SMP_IDENTIFIER_INVALID', undefined, (err) =>
        assert.match(err.message, /0088:5790000121527/),
      ),
    );
    assert.equal(smp.hits.length, before);
  });

  it('refuses a response whose signature does not verify', async () => {
    const p = gln('579000000010');
    smp.routes.set(path(p, HCO_CURRENT), {
      body: sign(md({ participant: p })).replace('https://ap.ehmi.test/as4', 'https://evil.test/as4'),
    });
    await assert.rejects(direct().lookup(p, HCO_CURRENT), rejects('EHMI_SMP_SIGNATURE_INVALID', 'digest'));
  });

  it('refuses a response signed by an SMP certificate that is not trusted', async () => {
    const p = gln('579000000011');
    publish(smp, p, md({ participant: p }), pki.rogueSmp);
    await assert.rejects(direct().lookup(p, HCO_CURRENT), rejects('EHMI_SMP_CERTIFICATE_UNTRUSTED'));
  });

  it('refuses a validly signed answer about another participant (replay)', async () => {
    const p = gln('579000000012');
    smp.routes.set(path(p, HCO_CURRENT), { body: sign(md()) });
    await assert.rejects(direct().lookup(p, HCO_CURRENT), rejects('EHMI_SMP_RESPONSE_INVALID'));
  });

  it('prefers the eDelivery AS4 transport profile over others', async () => {
    const p = gln('579000000013');
    const m = md({ participant: p });
    const as4 = m.serviceInformation!.processes[0]!.endpoints[0]!;
    m.serviceInformation!.processes[0]!.endpoints = [
      { ...as4, transportProfile: 'peppol-transport-as4-v2_0', endpointUrl: 'https://peppol.ehmi.test/as4' },
      { ...as4, transportProfile: 'busdox-transport-as2-ver1p0', endpointUrl: 'https://as2.ehmi.test/' },
      as4,
    ];
    publish(smp, p, m);
    assert.equal((await direct().lookup(p, HCO_CURRENT)).endpointUrl, 'https://ap.ehmi.test/as4');
  });

  it('skips an endpoint whose ServiceExpirationDate has passed', async () => {
    const p = gln('579000000014');
    const m = md({ participant: p });
    m.serviceInformation!.processes[0]!.endpoints[0]!.serviceExpirationDate = new Date(
      '2025-06-01T00:00:00Z',
    );
    publish(smp, p, m);
    await assert.rejects(direct().lookup(p, HCO_CURRENT), rejects('EHMI_SMP_NOT_REGISTERED', 'endpoint'));
  });

  it('tells an endpoint without a usable transport profile as not registered', async () => {
    const p = gln('579000000015');
    publish(smp, p, md({ participant: p, transportProfile: 'busdox-transport-as2-ver1p0' }));
    await assert.rejects(
      direct().lookup(p, HCO_CURRENT),
      rejects('EHMI_SMP_NOT_REGISTERED', 'endpoint', (err) =>
        assert.deepEqual(err.details.offered, ['busdox-transport-as2-ver1p0']),
      ),
    );
  });

  it('tells an SMP error (HTTP 500) as a failed, transient lookup', async () => {
    const p = gln('579000000016');
    smp.routes.set(path(p, HCO_CURRENT), { status: 500, body: 'boom' });
    await assert.rejects(
      direct().lookup(p, HCO_CURRENT),
      rejects('EHMI_SMP_LOOKUP_FAILED', undefined, (err) => assert.equal(err.transient, true)),
    );
  });

  it('tells an unreachable SMP as a failed lookup', async () => {
    const closed = await startSmpServer();
    const port = closed.port;
    await closed.close();
    await assert.rejects(
      new SmpClient({ smpUrl: `http://127.0.0.1:${port}`, trustAnchors: [pki.root] }).lookup(
        RECEIVER,
        HCO_CURRENT,
      ),
      rejects('EHMI_SMP_LOOKUP_FAILED'),
    );
  });

  it('reads a Peppol SMP (busdox) response the same way', async () => {
    const p = gln('579000000023');
    publish(smp, p, md({ participant: p, flavour: 'peppol', transportProfile: 'peppol-transport-as4-v2_0' }));
    const r = await direct().lookup(p, HCO_CURRENT);
    assert.equal(r.transportProfile, 'peppol-transport-as4-v2_0');
    assert.equal(r.endpointUrl, 'https://ap.ehmi.test/as4');
  });

  it('refuses a response over the 1 MiB limit', async () => {
    const p = gln('579000000021');
    smp.routes.set(path(p, HCO_CURRENT), { body: `<x>${'a'.repeat(MAX_SMP_RESPONSE_BYTES)}</x>` });
    await assert.rejects(
      direct().lookup(p, HCO_CURRENT),
      rejects('EHMI_SMP_RESPONSE_INVALID', undefined, (err) =>
        assert.match(err.message, /larger than 1048576 bytes/),
      ),
    );
  });

  it('gives up on an SMP that does not answer within timeoutMs', async () => {
    const p = gln('579000000022');
    smp.routes.set(path(p, HCO_CURRENT), { body: sign(md({ participant: p })), delayMs: 5_000 });
    const started = Date.now();
    await assert.rejects(
      direct({ timeoutMs: 200 }).lookup(p, HCO_CURRENT),
      rejects('EHMI_SMP_LOOKUP_FAILED'),
    );
    assert.ok(Date.now() - started < 4_000);
  });

  it('follows a signed Redirect to the SMP whose certificate it names', async () => {
    const p = gln('579000000017');
    const target = serviceMetadataUrl(
      `http://127.0.0.1:${smp2.port}`,
      participantId(p),
      documentId(HCO_CURRENT),
    );
    smp.routes.set(path(p, HCO_CURRENT), {
      body: sign({ flavour: 'oasis-bdxr-1', redirect: { href: target, certificateUid: 'SMP ehmi-test 2' } }),
    });
    smp2.routes.set(path(p, HCO_CURRENT), {
      body: sign(md({ participant: p, endpointUrl: 'https://moved.ehmi.test/as4' }), pki.smpViaIntermediate, [
        pki.smpViaIntermediate.certificate,
        pki.intermediate,
      ]),
    });
    const r = await direct().lookup(p, HCO_CURRENT);
    assert.equal(r.endpointUrl, 'https://moved.ehmi.test/as4');
    assert.equal(r.smpCertificate.fingerprint256, pki.smpViaIntermediate.certificate.fingerprint256);
  });

  it('refuses a Redirect target signed by another certificate than the one named', async () => {
    const p = gln('579000000018');
    const target = serviceMetadataUrl(
      `http://127.0.0.1:${smp2.port}`,
      participantId(p),
      documentId(HCO_CURRENT),
    );
    smp.routes.set(path(p, HCO_CURRENT), {
      body: sign({ flavour: 'oasis-bdxr-1', redirect: { href: target, certificateUid: 'SMP ehmi-test 2' } }),
    });
    smp2.routes.set(path(p, HCO_CURRENT), { body: sign(md({ participant: p })) });
    await assert.rejects(direct().lookup(p, HCO_CURRENT), rejects('EHMI_SMP_CERTIFICATE_UNTRUSTED'));
  });

  it('uses the fetch it is given', async () => {
    const seen: string[] = [];
    const client = direct({
      fetch: (async (url: string | URL | Request, init?: RequestInit) => {
        seen.push(String(url));
        return fetch(url, init);
      }) as typeof fetch,
    });
    await client.lookup(RECEIVER, HCO_CURRENT);
    assert.equal(seen.length, 1);
  });
});

describe('SmpClient discovery through DNS', () => {
  it('finds the SMP through U-NAPTR Meta:SMP on the configured DNS server', async () => {
    const client = viaDns();
    assert.equal(await client.smpUrlOf(RECEIVER), `http://${SMP_HOST}:${smp.port}/`);
    const r = await client.lookup(RECEIVER, HCO_CURRENT);
    assert.equal(r.endpointUrl, 'https://ap.ehmi.test/as4');
    assert.equal(r.smpUrl, `http://${SMP_HOST}:${smp.port}/`);
  });

  it('finds the SMP through the Peppol SML B-<md5> CNAME', async () => {
    const client = viaDns({ sml: { zone: ZONE, naming: 'cname', cnamePort: smp.port } });
    const host = smlHostname(participantId(CNAME_ONLY), ZONE);
    assert.equal(await client.smpUrlOf(CNAME_ONLY), `http://${host}:${smp.port}/`);
    assert.equal((await client.lookup(CNAME_ONLY, HCO_CURRENT)).endpointUrl, 'https://ap.ehmi.test/as4');
  });

  it('falls back from NAPTR to CNAME when asked to', async () => {
    const client = viaDns({ sml: { zone: ZONE, naming: 'naptr-then-cname', cnamePort: smp.port } });
    assert.equal((await client.lookup(CNAME_ONLY, HCO_CURRENT)).endpointUrl, 'https://ap.ehmi.test/as4');
  });

  it('takes the DNS server as { server, port } too', async () => {
    const client = new SmpClient({
      sml: { zone: ZONE },
      dns: { server: '127.0.0.1', port: dns.port, timeoutMs: 500, tries: 1 },
      trustAnchors: [pki.root],
    });
    assert.equal(await client.smpUrlOf(RECEIVER), `http://${SMP_HOST}:${smp.port}/`);
  });

  it('takes a resolver of its own as dns', async () => {
    const asked: string[] = [];
    const resolver = {
      resolveNaptr: async (name: string) => {
        asked.push(name);
        return [
          {
            flags: 'U',
            service: 'Meta:SMP',
            regexp: `!^.*$!http://127.0.0.1:${smp.port}/!`,
            replacement: '',
            order: 1,
            preference: 1,
          },
        ];
      },
      resolveCname: async () => [],
      resolve4: async () => ['127.0.0.1'],
      resolve6: async () => [],
    };
    const client = new SmpClient({ sml: { zone: ZONE }, dns: resolver, trustAnchors: [pki.root] });
    assert.equal((await client.lookup(RECEIVER, HCO_CURRENT)).endpointUrl, 'https://ap.ehmi.test/as4');
    assert.deepEqual(asked, [bdxlHostname(participantId(RECEIVER), ZONE)]);
  });

  it('resolves an SMP host its DNS server does not know through the system resolver', async () => {
    const p = gln('579000000020');
    publish(smp, p, md({ participant: p }));
    const name = bdxlHostname(participantId(p), ZONE);
    dns.zone.naptr![name] = [
      {
        order: 1,
        preference: 1,
        flags: 'U',
        service: 'Meta:SMP',
        regexp: `!^.*$!http://localhost:${smp.port}/!`,
      },
    ];
    assert.equal((await viaDns().lookup(p, HCO_CURRENT)).smpUrl, `http://localhost:${smp.port}/`);
  });

  it('tells a participant without NAPTR name (NXDOMAIN) as not registered', async () => {
    await assert.rejects(
      viaDns().lookup(UNKNOWN, HCO_CURRENT),
      rejects('EHMI_SMP_NOT_REGISTERED', 'dns', (err) => {
        assert.equal(err.details.dnsCode, 'ENOTFOUND');
        assert.equal(err.details.name, bdxlHostname(participantId(UNKNOWN), ZONE));
      }),
    );
  });

  it('tells a participant without CNAME as not registered', async () => {
    await assert.rejects(
      viaDns({ sml: { zone: ZONE, naming: 'cname' } }).lookup(UNKNOWN, HCO_CURRENT),
      rejects('EHMI_SMP_NOT_REGISTERED', 'dns'),
    );
  });

  it('tells a DNS SERVFAIL as a failed, transient lookup', async () => {
    await assert.rejects(
      viaDns().lookup(SERVFAIL, HCO_CURRENT),
      rejects('EHMI_SMP_LOOKUP_FAILED', undefined, (err) => {
        assert.equal(err.details.dnsCode, 'ESERVFAIL');
        assert.equal(err.transient, true);
      }),
    );
  });

  it('tells an unreachable DNS server as a failed lookup, not as not registered', async () => {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const port = socket.address().port; // bound and silent: queries time out
    try {
      const client = new SmpClient({
        sml: { zone: ZONE },
        dns: { host: '127.0.0.1', port, timeoutMs: 200, tries: 1 },
        trustAnchors: [pki.root],
      });
      await assert.rejects(client.lookup(RECEIVER, HCO_CURRENT), rejects('EHMI_SMP_LOOKUP_FAILED'));
    } finally {
      socket.close();
    }
  });
});

describe('SmpClient cache', () => {
  const lookups = () => smp.hits.filter((h) => h.includes('/services/')).length;

  it('answers a repeated lookup from the cache within cacheTtlMs', async () => {
    const client = direct({ cacheTtlMs: 60_000 });
    await client.lookup(RECEIVER, HCO_CURRENT);
    const n = lookups();
    const again = await client.lookup(participantId(RECEIVER), documentId(HCO_CURRENT));
    assert.equal(lookups(), n);
    assert.equal(again.endpointUrl, 'https://ap.ehmi.test/as4');
  });

  it('asks the SMP again once cacheTtlMs has passed (on the client’s clock)', async () => {
    let now = Date.now();
    const client = direct({ cacheTtlMs: 100, clock: () => new Date(now) });
    await client.lookup(RECEIVER, HCO_CURRENT);
    const n = lookups();
    now += 99;
    await client.lookup(RECEIVER, HCO_CURRENT);
    assert.equal(lookups(), n, 'cached until the TTL has passed');
    now += 1;
    await client.lookup(RECEIVER, HCO_CURRENT);
    assert.equal(lookups(), n + 1);
  });

  it('does not cache when cacheTtlMs is 0', async () => {
    const client = direct({ cacheTtlMs: 0 });
    const n = lookups();
    await client.lookup(RECEIVER, HCO_CURRENT);
    await client.lookup(RECEIVER, HCO_CURRENT);
    assert.equal(lookups(), n + 2);
  });

  it('shares one request between concurrent lookups', async () => {
    const client = direct({ cacheTtlMs: 60_000 });
    const n = lookups();
    await Promise.all([1, 2, 3, 4].map(() => client.lookup(RECEIVER, HCO_CURRENT)));
    assert.equal(lookups(), n + 1);
  });

  it('does not cache failures', async () => {
    const p = gln('579000000019');
    const client = direct({ cacheTtlMs: 60_000 });
    await assert.rejects(client.lookup(p, HCO_CURRENT), rejects('EHMI_SMP_NOT_REGISTERED'));
    publish(smp, p, md({ participant: p }));
    assert.equal((await client.lookup(p, HCO_CURRENT)).endpointUrl, 'https://ap.ehmi.test/as4');
  });

  it('caches the DNS answer too', async () => {
    const client = viaDns({ cacheTtlMs: 60_000 });
    await client.smpUrlOf(RECEIVER);
    const name = bdxlHostname(participantId(RECEIVER), ZONE);
    const saved = dns.zone.naptr![name];
    delete dns.zone.naptr![name];
    try {
      assert.equal(await client.smpUrlOf(RECEIVER), `http://${SMP_HOST}:${smp.port}/`);
    } finally {
      dns.zone.naptr![name] = saved!;
    }
  });
});

describe('SmpClient configuration', () => {
  it('needs trust anchors', () => {
    assert.throws(
      () => new SmpClient({ smpUrl: 'http://127.0.0.1:1', trustAnchors: [] }),
      rejects('EHMI_CONFIG_INVALID'),
    );
  });

  it('refuses a trust anchor that is not a certificate', () => {
    assert.throws(
      () => new SmpClient({ smpUrl: 'http://127.0.0.1:1', trustAnchors: ['not a certificate'] }),
      rejects('EHMI_CONFIG_INVALID'),
    );
  });

  it('needs an SMP URL or an SML zone', () => {
    assert.throws(() => new SmpClient({ trustAnchors: [pki.root] }), rejects('EHMI_CONFIG_INVALID'));
  });

  it('refuses an SMP URL that is not http(s)', () => {
    assert.throws(
      () => new SmpClient({ smpUrl: 'ftp://smp', trustAnchors: [pki.root] }),
      rejects('EHMI_CONFIG_INVALID'),
    );
  });

  it('accepts a process identifier object', async () => {
    assert.equal((await direct().lookup(RECEIVER, HCO_CURRENT, processId(SDN))).process.value, SDN);
  });
});
