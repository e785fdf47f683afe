import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { documentTypeOf, smpEntries } from '../../src/eer/propagate.ts';
import { publicationIssues } from '../../src/eer/publication.ts';
import { parseSearch } from '../../src/eer/search.ts';
import { referenceKey } from '../../src/eer/search-params.ts';
import type { Json } from './helpers.ts';

const EER = 'http://medcomehmi.dk/ig/eer/StructureDefinition/';
const HCO_CURRENT =
  'urn:dk:healthcare:medcom:messaging:fhir:structuredefinition::homecareobservation-message##urn:dk:medcom:fhir:homecareobservation-message::1.2';
const CERT = Buffer.from('not a real certificate, only carried').toString('base64');

function endpoint(over: Json = {}): Json {
  return {
    resourceType: 'Endpoint',
    id: 'ep',
    extension: [
      {
        url: `${EER}smp-public-key`,
        extension: [{ url: `${EER}smp-public-certificate`, valueBase64Binary: CERT }],
      },
    ],
    identifier: [{ system: 'http://www.gs1.org/gln', value: '5790000121526' }],
    status: 'active',
    connectionType: { code: 'EerMessagingEdelivery' },
    period: { start: '2025-01-01' },
    payloadType: [{ coding: [{ code: HCO_CURRENT }] }],
    address: 'https://ap.example/as4',
    ...over,
  };
}

const view = (endpoints: Json[], devices: Json[] = []) => ({
  organization: { resourceType: 'Organization', id: 'o' },
  endpoints,
  devices,
});
const NOW = Date.parse('2026-06-01T00:00:00Z');

describe('documentTypeOf (Endpoint.payloadType → SMP document type)', () => {
  it('keeps the current DOCUMENTID form as written', () => {
    assert.equal(documentTypeOf(HCO_CURRENT), HCO_CURRENT);
  });
  it('rewrites the legacy and single-separator MedCom spellings to the current form', () => {
    assert.equal(
      documentTypeOf('urn:dk:healthcare:medcom:messaging:fhir:structuredefinition:homecareobservation:1.2'),
      HCO_CURRENT,
    );
    assert.equal(
      documentTypeOf(
        'urn:dk:healthcare:prod:medcom:messaging:fhir:structuredefinition:homecareobservation#urn:dk:medcom:fhir:homecareobservation:1.2',
      ),
      HCO_CURRENT,
    );
    assert.equal(
      documentTypeOf('urn:dk:healthcare:ehmi:messaging:envelope:xml:sbdhacknowledgement:1.0'),
      'urn:dk:healthcare:messaging:oasis:ebxml:schema:xsd::ehmisbdh-acknowledgement##urn:dk:ehmi:sbdh:ehmisbdh-acknowledgement::1.0',
    );
  });
  it('publishes anything else as written', () => {
    assert.equal(documentTypeOf('urn:example:doc'), 'urn:example:doc');
  });
});

describe('smpEntries (what the SMP should hold)', () => {
  it('participant 0088:<Endpoint GLN>, one entry per payloadType, Endpoint.address and the certificate', () => {
    const [e, ...rest] = smpEntries(view([endpoint()]), NOW);
    assert.equal(rest.length, 0);
    assert.equal(e!.participant, 'iso6523-actorid-upis::0088:5790000121526');
    assert.equal(e!.documentType, HCO_CURRENT);
    assert.equal(e!.endpointUrl, 'https://ap.example/as4');
    assert.equal(e!.certificateDer.toString('base64'), CERT);
    assert.equal(e!.activation?.toISOString(), '2025-01-01T00:00:00.000Z');
  });
  it('takes URL and certificate from the AP Device the endpoint names when the endpoint has none', () => {
    const ap: Json = {
      resourceType: 'Device',
      id: 'ap',
      url: 'https://device.example/as4',
      extension: endpoint().extension,
    };
    const ep = endpoint({
      extension: [{ url: `${EER}eer-dk-ap-system-extension`, valueReference: { reference: 'Device/ap' } }],
    });
    const [e] = smpEntries(view([ep], [ap]), NOW);
    assert.equal(e!.endpointUrl, 'https://device.example/as4');
    assert.equal(e!.certificateDer.toString('base64'), CERT);
  });
  it('skips endpoints that are not active, not eDelivery, ended, without GLN or without certificate', () => {
    const skipped: string[] = [];
    const entries = smpEntries(
      view([
        endpoint({ id: 'off', status: 'off' }),
        endpoint({ id: 'rest', connectionType: { code: 'hl7-fhir-rest' } }),
        endpoint({ id: 'ended', period: { start: '2023-01-01', end: '2024-01-01' } }),
        endpoint({ id: 'nogln', identifier: [{ system: 'urn:other', value: '1' }] }),
        endpoint({ id: 'nocert', extension: [] }),
      ]),
      NOW,
      (m) => skipped.push(m),
    );
    assert.deepEqual(entries, []);
    assert.equal(skipped.length, 2, 'the GLN-less and the certificate-less endpoints are logged');
  });
});

describe('search parsing', () => {
  const limits = { defaultCount: 50, maxCount: 1000 };
  it('caps _count at the configured maximum and splits comma-separated values (\\, escapes a comma)', () => {
    const r = parseSearch('Organization', { _count: '99999', name: 'a\\,b,c' }, limits);
    assert.equal(r.count, 1000);
    assert.deepEqual(r.criteria[0]!.values, ['a,b', 'c']);
  });
  it('reads references relative and under the own base URL only', () => {
    assert.equal(referenceKey('Organization/x', undefined), 'Organization/x');
    assert.equal(referenceKey('Endpoint/e/_history/2', undefined), 'Endpoint/e');
    assert.equal(referenceKey('https://eer.example/fhir/Device/d', 'https://eer.example/fhir'), 'Device/d');
    assert.equal(referenceKey('https://other.example/fhir/Device/d', 'https://eer.example/fhir'), undefined);
    assert.equal(referenceKey('#contained', undefined), undefined);
    assert.equal(referenceKey('Patient/p', undefined), undefined);
  });
});

describe('EER publication rules', () => {
  it('an Endpoint whose address is plain HTTP is refused, except under the insecure development switch', () => {
    const endpoint = {
      resourceType: 'Endpoint',
      connectionType: { code: 'EerMessagingEdeliveryFhir' },
      address: 'http://127.0.0.1:1/as4',
    };
    const refused = publicationIssues('Endpoint', endpoint, { trustAnchors: [], insecure: false });
    assert.ok(
      refused.some((i) => /is not https/.test(i.message)),
      JSON.stringify(refused),
    );
    assert.deepEqual(publicationIssues('Endpoint', endpoint, { trustAnchors: [], insecure: true }), []);
  });
});
