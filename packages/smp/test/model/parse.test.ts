import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { EhmiError } from '@ehmi/errors';
import { parseServiceGroup, parseServiceMetadata, parseSignedServiceMetadata } from '../../src/index.ts';
import { SMP_FIXTURES, smpFixture } from '../helpers/fixtures.ts';

const code = (c: string) => (err: unknown) => err instanceof EhmiError && err.code === c;

describe('real SMP responses in fixtures/smp', () => {
  const files = readdirSync(SMP_FIXTURES).filter((f) => f.endsWith('.xml'));
  it('are all covered here (eight files)', () => {
    assert.equal(files.length, 8);
  });
  for (const file of files) {
    it(`parse: ${file}`, () => {
      const xml = smpFixture(file);
      if (file.includes('service-group')) {
        const group = parseServiceGroup(xml);
        assert.equal(group.participant.toString(), 'iso6523-actorid-upis::9915:xxx');
        return;
      }
      const md = parseServiceMetadata(xml);
      const endpoint = md.serviceInformation?.processes[0]?.endpoints[0];
      assert.ok(endpoint, 'an endpoint');
      assert.match(endpoint.endpointUrl, /^https?:\/\//);
      assert.ok(endpoint.transportProfile.length > 0);
    });
  }
});

describe('parseSignedServiceMetadata', () => {
  it('reads the Peppol busdox response (peppol-signed-service-metadata2.xml) field by field', () => {
    const md = parseSignedServiceMetadata(smpFixture('peppol-signed-service-metadata2.xml'));
    assert.equal(md.flavour, 'peppol');
    const info = md.serviceInformation!;
    assert.equal(info.participant.toString(), 'iso6523-actorid-upis::0088:5060482240009');
    assert.equal(info.documentType.scheme, 'busdox-docid-qns');
    assert.match(info.documentType.value, /^urn:oasis:names:specification:ubl:schema:xsd:Order-2::Order##/);
    const process = info.processes[0]!;
    assert.equal(process.processId.toString(), 'cenbii-procid-ubl::urn:www.cenbii.eu:profile:bii28:ver2.0');
    const e = process.endpoints[0]!;
    assert.equal(e.transportProfile, 'busdox-transport-as2-ver1p0');
    assert.equal(e.endpointUrl, 'https://peppol.netedi.com/receive.aspx');
    assert.equal(e.requireBusinessLevelSignature, false);
    assert.equal(e.minimumAuthenticationLevel, '1');
    assert.equal(e.serviceActivationDate?.toISOString(), '2016-11-02T00:00:00.000Z');
    assert.equal(e.serviceExpirationDate?.toISOString(), '2026-11-02T00:00:00.000Z');
    assert.match(new X509Certificate(Buffer.from(e.certificate, 'base64')).subject, /CN=PNO000070/);
    assert.equal(e.technicalContactUrl, 'support@netedi.co.uk');
  });

  it('reads the OASIS BDXR response with the eDelivery AS4 transport profile (Domibus sample)', () => {
    const md = parseSignedServiceMetadata(
      smpFixture('domibus-struct-oasis-smp1-signed-service-metadata.xml'),
    );
    assert.equal(md.flavour, 'oasis-bdxr-1');
    const info = md.serviceInformation!;
    assert.equal(info.participant.toString(), 'ehealth-actorid-qns::urn:romania:ncpb');
    assert.equal(info.documentType.toString(), 'ehealth-resid-qns::urn::epsos##services:extended:epsos::107');
    const e = info.processes[0]!.endpoints[0]!;
    assert.equal(e.transportProfile, 'bdxr-transport-ebms3-as4-v1p0');
    assert.equal(e.endpointUrl, 'http://localhost:9090/anonymous/msh');
    assert.equal(e.minimumAuthenticationLevel, 'urn:epSOS:loa:1');
    assert.equal(e.serviceActivationDate?.toISOString(), '2016-06-06T09:06:02.000Z');
    assert.ok(!/\s/.test(e.certificate), 'whitespace removed from the base64 certificate');
    assert.equal(e.serviceDescription, 'This is the epSOS Patient Service List for the Polish NCP');
  });

  it('refuses a bare ServiceMetadata', () => {
    assert.throws(
      () => parseSignedServiceMetadata(smpFixture('domibus-oasis-smp1-service-metadata-unsigned.xml')),
      code('EHMI_SMP_RESPONSE_INVALID'),
    );
  });
});

describe('parse errors', () => {
  it('refuse a document in neither SMP namespace, naming the element', () => {
    assert.throws(
      () => parseServiceMetadata('<ServiceMetadata xmlns="urn:other"/>'),
      (err: unknown) => code('EHMI_SMP_RESPONSE_INVALID')(err) && /urn:other/.test((err as Error).message),
    );
  });

  it('refuse a DOCTYPE (no entity expansion)', () => {
    assert.throws(
      () =>
        parseServiceGroup(
          '<!DOCTYPE x [<!ENTITY a "b">]><ServiceGroup xmlns="http://docs.oasis-open.org/bdxr/ns/SMP/2016/05"/>',
        ),
      code('EHMI_XML_DOCTYPE_FORBIDDEN'),
    );
  });

  it('report malformed XML as an invalid SMP response', () => {
    assert.throws(() => parseServiceGroup('<ServiceGroup'), code('EHMI_SMP_RESPONSE_INVALID'));
  });

  it('report a missing endpoint address with its path', () => {
    const xml = smpFixture('phoss-rest-bdxr1-service-metadata.xml').replace(
      /<smp:EndpointURI>[^<]*<\/smp:EndpointURI>/,
      '',
    );
    assert.throws(
      () => parseServiceMetadata(xml),
      (err: unknown) =>
        code('EHMI_SMP_RESPONSE_INVALID')(err) && /smp:Endpoint/.test((err as EhmiError).expression[0] ?? ''),
    );
  });

  it('refuse an endpoint date that is not an xs:dateTime', () => {
    const xml = smpFixture('domibus-oasis-smp1-service-metadata-unsigned.xml').replace(
      '2016-06-06T11:06:02.000+02:00',
      'next tuesday',
    );
    assert.throws(() => parseServiceMetadata(xml), /ServiceActivationDate is not an xs:dateTime/);
  });

  it('read a Redirect', () => {
    const md = parseServiceMetadata(
      '<ServiceMetadata xmlns="http://docs.oasis-open.org/bdxr/ns/SMP/2016/05"><Redirect href="https://other.smp/x"><CertificateUID>CN=other</CertificateUID></Redirect></ServiceMetadata>',
    );
    assert.deepEqual(md.redirect, { href: 'https://other.smp/x', certificateUid: 'CN=other' });
  });
});
