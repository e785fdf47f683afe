import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { receiptFor, validate, validateMany, wrap } from '../src/index.ts';
import { HCO, SBDH } from './fixtures.ts';

const ex = (name: string): Buffer => readFileSync(join(SBDH, name));
const base = await wrap(readFileSync(join(HCO, 'Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json')));
const rules = (r: { errors: { rule: string }[] }): string[] => r.errors.map((e) => e.rule);

describe('validate: MedCom examples (docs/specs/ehmi-core.md §2.9)', () => {
  it('accepts the XSD-valid examples, naming the IG schema it applied', async () => {
    const files = [
      'examples/ehmiSBDH_9a6ff822_ReceiptAcknowledgement_full.xml',
      'pages/TestExampleEmbeddedHCO.xml',
      'pages/TestExampleXDSEmbeddedHCO.xml',
    ];
    const results = await validateMany(files.map((f) => ({ xml: ex(f), source: f })));
    for (const [i, r] of results.entries()) {
      assert.equal(r.valid, true, `${files[i]}: ${JSON.stringify(r.errors)}`);
      assert.equal(r.schema, 'ehmiSBDH 2.0.1 (ehmiStandardBusinessDocumentHeader.xsd)');
    }
  });

  it('accepts the known-variant examples with a warning for each variant', async () => {
    const files = [
      'examples/ehmisbdh_fullsample.xml',
      'examples/ehmiSBDH_9a6ff822_HCO_full.xml',
      'examples/20250429_ehmisbdh_sample.xml',
      'pages/sample_ehmiSBDH_9a6ff822-08de-5a6f-9670-9fa4b9d2f0dc_HCO_full.xml',
      'examples/ehmiSBDH_9a6ff822_HomeCareObservation_XDS_full.xml',
      'examples/20250429_ehmisbdh_ack_sample.xml',
      'pages/TestExampleEmbeddedFHIRAckSBDH.xml',
      'pages/TestExample_ehmiSBDH_Embedded_SBDHAck.xml',
      'pages/TextExampleSBDHAck.xml',
      'examples/ehmisbdh_fullsample_ack.xml',
      'examples/ehmisbdh_fullsample_sbdhack.xml',
    ];
    const results = await validateMany(files.map((f) => ({ xml: ex(f), source: f })));
    for (const [i, r] of results.entries()) {
      assert.equal(r.valid, true, `${files[i]}: ${JSON.stringify(r.errors)}`);
      assert.ok(r.warnings.length > 0, `${files[i]} has no warning`);
    }
  });

  it('names pretty-printed dateTimes as a variant', async () => {
    const r = await validate(ex('examples/ehmisbdh_fullsample.xml'));
    assert.ok(
      r.warnings.some(
        (w) => w.rule === 'variant-whitespace' && w.element.endsWith('ExpectedResponseDateTime'),
      ),
    );
  });

  it('names the XDS_METADATA misspelling as a variant', async () => {
    const r = await validate(ex('examples/ehmiSBDH_9a6ff822_HomeCareObservation_XDS_full.xml'));
    assert.ok(r.warnings.some((w) => w.rule === 'variant-xds-metadata-spelling'));
  });

  it('names a Standard in the wrong case as a variant', async () => {
    const r = await validate(ex('examples/20250429_ehmisbdh_ack_sample.xml'));
    assert.ok(r.warnings.some((w) => w.rule === 'variant-standard-case'));
  });

  it('names the older DOCUMENTID and PROCESSID forms as variants', async () => {
    const r = await validate(ex('pages/TestExampleEmbeddedHCO.xml'));
    const variants = r.warnings.map((w) => w.rule).filter((rule) => rule.startsWith('variant'));
    assert.deepEqual(variants.sort(), ['variant-documentid', 'variant-processid']);
    // Its Sender/Receiver GLNs are not its payload's organisations' GLNs: named, not fatal.
    assert.ok(r.warnings.some((w) => w.rule === 'payload-metadata' && w.element.includes('Sender')));
  });

  it('names a Response without ExpectedResponseDateTime as a variant', async () => {
    const r = await validate(ex('pages/TextExampleSBDHAck.xml'));
    assert.ok(r.warnings.some((w) => w.rule === 'variant-response-without-expected'));
    assert.ok(r.warnings.some((w) => w.rule === 'variant-response-ttar'));
  });

  it('does not recognise a FHIR Bundle as an envelope', async () => {
    const r = await validate(ex('examples/ehmiMessage.xml'));
    assert.equal(r.recognised, false);
    assert.equal(r.valid, false);
  });

  it('checks a bare ebBP signal (the receipt payload) instead of refusing it as unknown', async () => {
    const ok = await validate(ex('pages/TestExample_ehmiMessage_SBDHAck.xml'));
    assert.equal(ok.recognised, true);
    assert.equal(ok.valid, true, JSON.stringify(ok.errors));
    assert.match(ok.schema ?? '', /ebBP signals/);
    // MedCom's RA sample lacks OriginalMessageDateTime (its value sits in a non-schema RequestionField).
    const ra = await validate(ex('examples/ehmiSbdhRA_401cbc36_HCO_RA.xml'));
    assert.equal(ra.recognised, true);
    assert.equal(ra.valid, false);
    assert.equal(ra.errors[0]?.element, 'bpssignal/OriginalMessageDateTime');
    assert.ok(ra.warnings.some((w) => w.element === 'bpssignal/RequestionField'));
  });

  it('rejects the examples that are not well-formed', async () => {
    const r = await validate(ex('pages/ehmiSBDH_example.xml'));
    assert.equal(r.recognised, true);
    assert.deepEqual(rules(r), ['well-formed']);
  });
});

describe('validate: invalid envelopes', () => {
  it('rejects a missing Receiver, naming it', async () => {
    const r = await validate(base.replace(/\s*<Receiver>[\s\S]*?<\/Receiver>/, ''));
    assert.equal(r.valid, false);
    assert.equal(r.errors[0]?.element, 'StandardBusinessDocumentHeader/Receiver');
  });

  it('rejects a wrong HeaderVersion', async () => {
    const r = await validate(base.replace('<HeaderVersion>1.0<', '<HeaderVersion>2.0<'));
    assert.deepEqual(rules(r), ['xsd']);
    assert.equal(r.errors[0]?.element, 'HeaderVersion');
  });

  it('rejects an unknown Scope Type', async () => {
    const r = await validate(base.replace('<Type>StatisticalInformation</Type>', '<Type>STATISTICS</Type>'));
    assert.equal(r.valid, false);
    assert.ok(r.errors.some((e) => e.rule === 'xsd' && e.message.includes('STATISTICS')));
  });

  it('rejects BinaryContent that is not base64', async () => {
    const r = await validate(base.replace(/(<BinaryContent[^>]*>)[^<]*/, '$1%%%not-base64%%%'));
    assert.deepEqual(rules(r), ['base64']);
    assert.equal(r.errors[0]?.element, 'BinaryContent');
  });

  it('rejects truncated base64', async () => {
    const r = await validate(
      base.replace(/(<BinaryContent[^>]*>)([^<]*)/, (_m, a: string, b: string) => a + b.slice(0, -2)),
    );
    assert.deepEqual(rules(r), ['base64']);
  });

  it('rejects BinaryContent whose payload is not the mimeType it claims', async () => {
    const r = await validate(
      base.replace(/(<BinaryContent[^>]*>)[^<]*/, `$1${Buffer.from('not json').toString('base64')}`),
    );
    assert.deepEqual(rules(r), ['payload']);
  });

  it('rejects a DOCTYPE', async () => {
    const r = await validate(base.replace('?>', '?>\n<!DOCTYPE x [<!ENTITY e "e">]>'));
    assert.deepEqual(rules(r), ['doctype']);
  });

  it('rejects malformed XML', async () => {
    const r = await validate(base.replace('</Sender>', '</Sendr>'));
    assert.deepEqual(rules(r), ['well-formed']);
  });

  it('rejects a StandardBusinessDocument in the wrong namespace, naming it', async () => {
    const r = await validate(
      base.replaceAll('http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader', 'urn:wrong'),
    );
    assert.deepEqual(rules(r), ['namespace']);
    assert.equal(r.errors[0]?.element, 'StandardBusinessDocument');
  });

  it('rejects a message envelope without PATIENTID', async () => {
    const r = await validate(base.replace(/\s*<Scope>\s*<Type>PATIENTID<\/Type>[\s\S]*?<\/Scope>/, ''));
    assert.deepEqual(rules(r), ['patientid-missing']);
  });

  it('rejects ORIGINAL* scopes on a primary message', async () => {
    const extra =
      '<Scope><Type>ORIGINALENVELOPEIDENTIFIER</Type><InstanceIdentifier>x</InstanceIdentifier><Identifier>dk-medcom-messaging</Identifier></Scope>';
    const r = await validate(base.replace('<BusinessScope>', `<BusinessScope>${extra}`));
    assert.deepEqual(rules(r), ['original-in-message']);
  });

  it('rejects a DOCUMENTID that names another message type', async () => {
    const r = await validate(
      base.replace(
        'homecareobservation-message##urn:dk:medcom:fhir:homecareobservation-message::1.1',
        'acknowledgement-message##urn:dk:medcom:fhir:acknowledgement-message::2.0',
      ),
    );
    assert.deepEqual(rules(r), ['documentid']);
  });

  it('reports the line of an XSD error', async () => {
    const r = await validate(base.replace('<MultipleType>false<', '<MultipleType>maybe<'));
    assert.equal(r.errors[0]?.rule, 'xsd');
    assert.equal(typeof r.errors[0]?.line, 'number');
  });
});

describe('validate: XDS-METADATA content', () => {
  const withXds = (value: string): string =>
    base.replace(
      '<Scope>\n        <Type>EHMI-ReceiptAcknowledgement',
      `<Scope><Type>XDS-METADATA</Type><InstanceIdentifier><![CDATA[${value}]]></InstanceIdentifier><Identifier>dk-medcom-DocumentReference</Identifier></Scope>\n      <Scope>\n        <Type>EHMI-ReceiptAcknowledgement`,
    );

  it('accepts a DocumentReference as XML in the CDATA', async () => {
    const r = await validate(
      withXds('<DocumentReference xmlns="http://hl7.org/fhir"><status value="current"/></DocumentReference>'),
    );
    assert.equal(r.valid, true, JSON.stringify(r.errors));
  });

  it('rejects XDS-METADATA that is not a DocumentReference', async () => {
    const r = await validate(withXds('{"resourceType":"Patient"}'));
    assert.deepEqual(rules(r), ['xds-content']);
  });
});

describe('validate: values the XSD lets through', () => {
  const b64 = (payload: string | Buffer): string =>
    base.replace(/(<BinaryContent[^>]*>)[^<]*/, `$1${Buffer.from(payload).toString('base64')}`);

  it('rejects an empty EnvelopeIdentifier (DocumentIdentification/InstanceIdentifier)', async () => {
    const r = await validate(
      base.replace(/(<DocumentIdentification>[\s\S]*?<InstanceIdentifier>)[^<]*/, '$1'),
    );
    assert.equal(r.valid, false);
    assert.ok(
      r.errors.some(
        (e) => e.element === 'StandardBusinessDocumentHeader/DocumentIdentification/InstanceIdentifier',
      ),
    );
  });

  for (const type of ['SENDERID', 'RECEIVERID', 'MESSAGEIDENTIFIER', 'PATIENTID', 'StatisticalInformation']) {
    it(`rejects an empty ${type}`, async () => {
      const r = await validate(
        base.replace(new RegExp(`(<Type>${type}</Type>\\s*<InstanceIdentifier>)[^<]*`), '$1'),
      );
      assert.deepEqual(rules(r), ['scope-empty']);
      assert.equal(
        r.errors[0]?.element,
        `StandardBusinessDocumentHeader/BusinessScope/Scope[${type}]/InstanceIdentifier`,
      );
    });
  }

  it('rejects a FHIR payload that is not a Bundle although Type says Bundle', async () => {
    const r = await validate(b64('{"resourceType":"Patient","id":"p"}'));
    assert.deepEqual(rules(r), ['payload']);
  });

  it('rejects a payload whose MessageHeader is another message than the Standard', async () => {
    const ack = readFileSync(
      join(HCO, '../medcom-acknowledgement-2.0.3/Bundle-a8c041b8-c65a-4fde-a90f-962076918834.json'),
    );
    const r = await validate(b64(ack));
    assert.ok(rules(r).includes('payload-standard'), JSON.stringify(r.errors));
    assert.equal(r.valid, false);
  });

  it('rejects a JSON payload that is not UTF-8', async () => {
    const r = await validate(b64(Buffer.from('{"resourceType":"Bundle","id":"\xff\xfe"}', 'latin1')));
    assert.deepEqual(rules(r), ['payload']);
    assert.match(r.errors[0]?.message ?? '', /UTF-8/);
  });

  it('warns when PATIENTID is not the payload’s patient', async () => {
    const r = await validate(base.replace('>2509479989<', '>0101010227<'));
    assert.equal(r.valid, true, JSON.stringify(r.errors));
    assert.ok(
      r.warnings.some((w) => w.rule === 'payload-metadata' && w.element.endsWith('Scope[PATIENTID]')),
    );
  });

  it('rejects a ReceiptException whose signal cannot be read', async () => {
    const receipt = receiptFor(base, { kind: 'exception', reason: 'x' });
    const r = await validate(
      receipt.replace(/(<BinaryContent[^>]*>)[^<]*/, `$1${Buffer.from('not xml').toString('base64')}`),
    );
    assert.equal(r.valid, false);
    assert.deepEqual(rules(r), ['signal']);
  });
});
