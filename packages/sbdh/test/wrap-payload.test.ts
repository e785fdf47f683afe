import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EhmiError } from '@ehmi/errors';
import { NS, parse, payloadOf, scopeValue, validateMany, wrap, wrapPayload } from '../src/index.ts';
import { GS1_XSD, HCO, xmllint } from './fixtures.ts';

const OIOXML =
  '<?xml version="1.0" encoding="UTF-8"?><Emessage xmlns="http://rep.oio.dk/sundcom.dk/medcom.dk/xml/schemas/2007/02/01/"><Envelope/></Emessage>';
const EDIFACT =
  "UNA:+.? 'UNB+UNOC:3+5790000123117:14+5790000127092:14+250101:1200+1'UNH+1+MEDRPT:D:93A:UN:DK4'UNT+2+1'UNZ+1+1'";
const common = {
  sender: '5790000123117',
  receiver: '5790000127092',
  patientId: '0101010227',
  senderSor: '1144561000016002',
  receiverSor: '52581000016005',
  messageIdentifier: 'letter-1',
  messageEnvelopeIdentifier: 'envelope-1',
};

describe('wrapPayload: payloads the pilot XSD does not list, from explicit metadata', () => {
  const oio = wrapPayload(OIOXML, {
    ...common,
    kind: 'oioxml',
    standard: 'XDIS01',
    typeVersion: 'XD0131',
    documentId: 'urn:dk:medcom:oioxml:XDIS01',
  });
  const edi = wrapPayload(EDIFACT, {
    ...common,
    kind: 'edifact',
    standard: 'MEDRPT',
    typeVersion: 'DK4',
    documentId: 'urn:dk:medcom:edifact:MEDRPT',
  });
  const cda = wrapPayload('<ClinicalDocument xmlns="urn:hl7-org:v3"/>', {
    ...common,
    kind: 'cda',
    standard: 'cda-phmr',
    typeVersion: '1.3',
    documentId: 'urn:dk:cda:phmr',
  });

  it('keeps the ehmiSBDH structure and puts the payload in PEPPOL’s bc:BinaryContent', () => {
    const env = parse(oio);
    assert.equal(env.profile, 'gs1');
    assert.equal(env.binaryContent.namespace, NS.peppol);
    assert.equal(env.documentIdentification.type, 'Emessage');
    assert.equal(scopeValue(env, 'PATIENTID'), '0101010227');
    assert.equal(payloadOf(env).toString('utf8'), OIOXML);
  });

  it('takes the EDIFACT message type from UNH as DocumentIdentification/Type', () => {
    assert.equal(parse(edi).documentIdentification.type, 'MEDRPT');
    assert.equal(parse(edi).binaryContent.mimeType, 'application/edifact');
  });

  it('validates OIOXML, EDIFACT and CDA envelopes against the GS1/PEPPOL base schema', async () => {
    const results = await validateMany([{ xml: oio }, { xml: edi }, { xml: cda }]);
    for (const r of results) {
      assert.equal(r.valid, true, JSON.stringify(r.errors));
      assert.match(r.schema ?? '', /^GS1 SBDH 1\.3/);
      assert.deepEqual(
        r.warnings.map((w) => w.rule),
        ['standard-unlisted'],
      );
    }
  });

  it('validates an envelope built from the minimum metadata (no SOR ids, no message ids): named, not refused', async () => {
    const { senderSor, receiverSor, messageIdentifier, messageEnvelopeIdentifier, ...minimum } = common;
    const xml = wrapPayload(OIOXML, {
      ...minimum,
      kind: 'oioxml',
      standard: 'XDIS01',
      typeVersion: 'XD0131',
      documentId: 'urn:dk:medcom:oioxml:XDIS01',
    });
    const [r] = await validateMany([{ xml }]);
    assert.equal(r?.valid, true, JSON.stringify(r?.errors));
    assert.deepEqual(
      r?.warnings.filter((w) => w.rule === 'scope-missing').map((w) => w.element.replace(/.*\[|\]/g, '')),
      ['SENDERID', 'RECEIVERID', 'MESSAGEIDENTIFIER', 'MESSAGEENVELOPEIDENTIFIER'],
    );
  });

  it('is accepted by an independent xmllint with the GS1 schema', (t) => {
    const r = xmllint(edi, GS1_XSD);
    if (!r) return t.skip('xmllint is not installed');
    assert.equal(r.ok, true, r.output);
  });

  it('wraps another MedCom FHIR message for the GS1 base schema', async () => {
    const xml = await wrap(
      readFileSync(join(HCO, '../medcom-messaging-4.0.1/Bundle-eb26be85-fdb7-454d-a980-95cba6d1745b.json')),
      { typeVersion: '4.0' },
    );
    const [r] = await validateMany([{ xml }]);
    assert.equal(r?.valid, true, JSON.stringify(r?.errors));
    assert.equal(r?.profile, 'gs1');
    assert.equal(
      scopeValue(parse(xml), 'DOCUMENTID'),
      'urn:dk:healthcare:medcom:messaging:fhir:structuredefinition::empty-message##urn:dk:medcom:fhir:empty-message::4.0',
    );
  });

  it('needs an explicit DOCUMENTID for non-FHIR payloads', () => {
    assert.throws(
      () => wrapPayload(OIOXML, { ...common, kind: 'oioxml', standard: 'XDIS01', typeVersion: 'XD0131' }),
      (e: unknown) => e instanceof EhmiError && e.expression[0] === 'documentId',
    );
  });

  it('refuses an empty payload', () => {
    assert.throws(
      () =>
        wrapPayload('', {
          ...common,
          kind: 'edifact',
          standard: 'MEDRPT',
          typeVersion: 'DK4',
          documentId: 'x',
        }),
      (e: unknown) => e instanceof EhmiError && e.expression[0] === 'BinaryContent',
    );
  });
});

describe('StatisticalInformation designated postfix', () => {
  it('appends the CareCommunication category ("MCM:carecommunication-message#carecoordination")', async () => {
    const bundle = JSON.parse(
      readFileSync(
        join(HCO, '../medcom-messaging-4.0.1/Bundle-eb26be85-fdb7-454d-a980-95cba6d1745b.json'),
        'utf8',
      ),
    ) as {
      entry: { resource: Record<string, unknown> }[];
    };
    (bundle.entry[0]!.resource.eventCoding as { code: string }).code = 'care-communication-message';
    bundle.entry.push({
      resource: {
        resourceType: 'Communication',
        id: 'c1',
        category: [{ coding: [{ code: 'carecoordination' }] }],
      },
    });
    bundle.entry.push({
      resource: {
        resourceType: 'Patient',
        id: 'p1',
        identifier: [{ system: 'urn:oid:1.2.208.176.1.2', value: '0101010227' }],
      },
    });
    const env = parse(await wrap(bundle, { typeVersion: '4.0' }));
    assert.equal(
      scopeValue(env, 'StatisticalInformation'),
      'MCM:care-communication-message#carecoordination',
    );
  });
});
