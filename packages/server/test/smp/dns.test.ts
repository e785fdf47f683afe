import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EhmiError } from '@ehmi/errors';
import {
  bdxlHostname,
  createResolver,
  participantId,
  SmpClient,
  type SmpClientOptions,
  smlHostname,
} from '@ehmi/smp';
import { smpDiscovery } from '../../src/ap/discovery-config.ts';
import { SmpAdminClient } from '../../src/eer/smp-admin-client.ts';
import { engines } from '../helpers/engines.ts';
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
  ZONE,
} from './helpers.ts';

const require = createRequire(import.meta.url);
const { Packet } = require('dns2') as {
  Packet: {
    new (): { header: { id: number; rd: number }; questions: unknown[]; toBuffer(): Buffer };
    parse(b: Buffer): {
      header: { rcode: number; aa: number };
      answers: {
        type: number;
        name: string;
        ttl: number;
        data?: Buffer;
        domain?: string;
        address?: string;
      }[];
      authorities: { type: number; minimum?: number }[];
    };
  };
};
const NAPTR = 35;
const CNAME = 5;
const A = 1;
const SOA = 6;

/** One DNS query over TCP (RFC 7766: two-octet length prefix), as a resolver does after a truncated UDP answer. */
async function queryTcp(port: number, name: string, type: number) {
  const packet = new Packet();
  packet.header.id = 4242;
  packet.questions.push({ name, type, class: 1 });
  const query = packet.toBuffer();
  const socket = connect(port, '127.0.0.1');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(query.length);
  socket.end(Buffer.concat([len, query]));
  const chunks: Buffer[] = [];
  for await (const chunk of socket) chunks.push(chunk as Buffer);
  const data = Buffer.concat(chunks);
  assert.equal(data.readUInt16BE(0), data.length - 2);
  return Packet.parse(data.subarray(2));
}

const rejects = (code: string, check?: (err: EhmiError) => void) => (err: unknown) => {
  assert.ok(err instanceof EhmiError, String(err));
  assert.equal(err.code, code, err.message);
  check?.(err);
  return true;
};

let pki: SmpTestPki;
before(async () => {
  pki = await smpTestPki();
});
after(() => pki.cleanup());

for (const engine of engines()) {
  describe(`SMP DNS zone and dynamic discovery (${engine.name})`, { skip: engine.skip }, () => {
    let test: Awaited<ReturnType<typeof engine.open>>;
    let smp: Awaited<ReturnType<typeof startSmp>>;
    let admin: SmpAdminClient;
    const port = () => Number(new URL(smp.url).port);
    const client = (over: Partial<SmpClientOptions> = {}) =>
      new SmpClient({
        sml: { zone: ZONE, cnamePort: port(), ...(over.sml ?? {}) },
        dns: { host: '127.0.0.1', port: smp.dns!.port, timeoutMs: 1000, tries: 2 },
        trustAnchors: [pki.root.certificate],
        cacheTtlMs: 0,
        ...over,
      });
    const publish = (participant: string) =>
      admin.publishServiceMetadata({
        participant,
        documentType: HCO_CURRENT,
        process: SDN,
        endpointUrl: AP_URL,
        certificatePem: pki.ap.certificatePem,
      });

    before(async () => {
      test = await engine.open();
      smp = await startSmp(test.store, pki);
      admin = new SmpAdminClient({ baseUrl: smp.url, token: TOKEN });
      await admin.publishServiceGroup(RECEIVER);
      await publish(RECEIVER);
    });
    after(async () => {
      await smp?.close();
      await test?.cleanup();
    });

    it('resolves a published participant through its BDXL U-NAPTR record to the SMP, endpoint and certificate', async () => {
      const r = await client().lookup(RECEIVER, HCO_CURRENT, SDN);
      assert.equal(r.smpUrl, `${smp.url}/`);
      assert.equal(r.endpointUrl, AP_URL);
      assert.equal(r.certificate.fingerprint256, pki.ap.certificate.fingerprint256);
      assert.equal(r.smpCertificate.fingerprint256, pki.smp.certificate.fingerprint256);
      assert.equal(r.transportProfile, 'bdxr-transport-ebms3-as4-v1p0');
    });

    it('resolves a published participant through its Peppol SML CNAME to the SMP host', async () => {
      const r = await client({ sml: { zone: ZONE, naming: 'cname', cnamePort: port() } }).lookup(
        RECEIVER,
        HCO_LEGACY,
      );
      const host = smlHostname(participantId(RECEIVER), ZONE);
      assert.equal(r.smpUrl, `http://${host}:${port()}/`);
      assert.equal(r.endpointUrl, AP_URL);
      assert.equal(r.certificate.fingerprint256, pki.ap.certificate.fingerprint256);
      const cname = await createResolver({ host: '127.0.0.1', port: smp.dns!.port }).resolveCname(host);
      assert.deepEqual(cname, [`smp.${ZONE}`]);
    });

    it('answers the NAPTR record the client and the BDXL specification expect', async () => {
      const records = await createResolver({ host: '127.0.0.1', port: smp.dns!.port }).resolveNaptr(
        bdxlHostname(participantId(RECEIVER), ZONE),
      );
      assert.deepEqual(records, [
        {
          flags: 'U',
          service: 'Meta:SMP',
          regexp: `!.*!${smp.url}/!`,
          replacement: '',
          order: 100,
          preference: 10,
        },
      ]);
    });

    it('tells an unregistered participant apart: EHMI_SMP_NOT_REGISTERED by NAPTR and by CNAME', async () => {
      for (const naming of ['naptr', 'cname'] as const) {
        await assert.rejects(
          client({ sml: { zone: ZONE, naming, cnamePort: port() } }).lookup(OTHER, HCO_CURRENT),
          rejects('EHMI_SMP_NOT_REGISTERED', (err) => assert.equal(err.details.reason, 'dns')),
        );
      }
    });

    it('adds and withdraws the records with the ServiceGroup writes', async () => {
      await admin.publishServiceGroup(OTHER);
      await publish(OTHER);
      assert.equal((await client().lookup(OTHER, HCO_CURRENT)).endpointUrl, AP_URL);
      await admin.removeServiceGroup(OTHER);
      await assert.rejects(
        client().lookup(OTHER, HCO_CURRENT),
        rejects('EHMI_SMP_NOT_REGISTERED', (err) => assert.equal(err.details.dnsCode, 'ENOTFOUND')),
      );
    });

    it('refuses a response signed by a certificate it does not trust', async () => {
      await assert.rejects(
        client({ trustAnchors: [pki.rogueRoot.certificate] }).lookup(RECEIVER, HCO_CURRENT),
        rejects('EHMI_SMP_CERTIFICATE_UNTRUSTED'),
      );
      // An SMP on the same data, signing with a certificate from a CA nobody trusts.
      const rogue = await startSmp(test.store, pki, {
        signing: { cert: join(pki.dir, 'rogue.pem'), key: join(pki.dir, 'rogue.key') },
      });
      try {
        await assert.rejects(
          new SmpClient({ smpUrl: rogue.url, trustAnchors: [pki.root.certificate], cacheTtlMs: 0 }).lookup(
            RECEIVER,
            HCO_CURRENT,
          ),
          rejects('EHMI_SMP_CERTIFICATE_UNTRUSTED'),
        );
      } finally {
        await rogue.close();
      }
    });

    it('gives the access point what it needs through the ReceiverDiscovery adapter', async () => {
      const found = await smpDiscovery(client()).lookup(RECEIVER, HCO_CURRENT, SDN);
      assert.equal(found.endpointUrl, AP_URL);
      assert.equal(found.transportProfile, 'bdxr-transport-ebms3-as4-v1p0');
      assert.ok(
        found.certificate instanceof X509Certificate,
        "node:crypto's certificate, as SmpClient returns it",
      );
      assert.equal(found.certificate.raw.toString('base64'), pki.ap.certificate.raw.toString('base64'));
      await assert.rejects(
        smpDiscovery(client()).lookup(OTHER, HCO_CURRENT),
        rejects('EHMI_SMP_NOT_REGISTERED'),
      );
    });

    it('answers over TCP as over UDP, authoritatively, with short TTLs', async () => {
      const name = bdxlHostname(participantId(RECEIVER), ZONE);
      const naptr = await queryTcp(smp.dns!.port, name, NAPTR);
      assert.equal(naptr.header.rcode, 0);
      assert.equal(naptr.header.aa, 1);
      assert.equal(naptr.answers.length, 1);
      assert.equal(naptr.answers[0]!.type, NAPTR);
      assert.equal(naptr.answers[0]!.ttl, 5);
      assert.match(naptr.answers[0]!.data!.toString('latin1'), /Meta:SMP/);
      const a = await queryTcp(smp.dns!.port, smlHostname(participantId(RECEIVER), ZONE), A);
      assert.deepEqual(
        a.answers.map((r) => [r.type, r.domain ?? r.address]),
        [
          [CNAME, `smp.${ZONE}`],
          [A, '127.0.0.1'],
        ],
      );
    });

    it('answers NXDOMAIN with the SOA for unknown names, NODATA for empty non-terminals, REFUSED outside the zone', async () => {
      const unknown = await queryTcp(smp.dns!.port, `nothing.iso6523-actorid-upis.${ZONE}`, NAPTR);
      assert.equal(unknown.header.rcode, 3);
      assert.equal(unknown.authorities[0]!.type, SOA);
      assert.equal(unknown.authorities[0]!.minimum, 5);
      const nonTerminal = await queryTcp(smp.dns!.port, `iso6523-actorid-upis.${ZONE}`, NAPTR);
      assert.equal(nonTerminal.header.rcode, 0);
      assert.equal(nonTerminal.answers.length, 0);
      const outside = await queryTcp(smp.dns!.port, 'example.org', A);
      assert.equal(outside.header.rcode, 5);
      const resolver = new Resolver({ timeout: 1000, tries: 1 });
      resolver.setServers([`127.0.0.1:${smp.dns!.port}`]);
      await assert.rejects(resolver.resolveNaptr(`x.${ZONE}`), { code: 'ENOTFOUND' });
      const soa = await resolver.resolveSoa(ZONE);
      assert.equal(soa.nsname, `ns.${ZONE}`);
    });

    it('serves the zone from the tables after a restart', async () => {
      await smp.close();
      smp = await startSmp(test.store, pki);
      assert.equal((await client().lookup(RECEIVER, HCO_CURRENT)).endpointUrl, AP_URL);
    });
  });
}
