import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EhmiError } from '@ehmi/errors';
import { parse, scopeValue } from '../src/index.ts';
import { SBDH } from './fixtures.ts';

const ex = (name: string): Buffer => readFileSync(join(SBDH, name));
const fails = (xml: string | Buffer, code: string, expression?: string): void => {
  assert.throws(
    () => parse(xml),
    (e: unknown) =>
      e instanceof EhmiError &&
      e.code === code &&
      (expression === undefined || e.expression[0] === expression),
  );
};

describe('parse: typed envelope, lenient', () => {
  it('reads header, scopes and BinaryContent of the IG receipt example', () => {
    const env = parse(ex('examples/ehmiSBDH_9a6ff822_ReceiptAcknowledgement_full.xml'));
    assert.equal(env.profile, 'ehmi');
    assert.equal(env.headerVersion, '1.0');
    assert.equal(env.sender.value, '0088:5790000127092');
    assert.equal(env.documentIdentification.type, 'ReceiptAcknowledgement');
    assert.equal(scopeValue(env, 'ORIGINALENVELOPEIDENTIFIER'), '9a6ff822-08de-5a6f-9670-9fa4b9d2f0dc');
    assert.equal(env.binaryContent.mimeType, 'application/xml');
    assert.deepEqual(env.warnings, []);
  });

  it('reads pretty-printed values trimmed and lists them as warnings', () => {
    const env = parse(ex('examples/ehmisbdh_fullsample.xml'));
    const ci = env.scopes.find((s) => s.type === 'EHMI-ReceiptAcknowledgement')?.correlationInformation;
    assert.equal(ci?.expectedResponseDateTime, '2021-02-17T09:40:10+01:00');
    assert.ok(env.warnings.length > 0);
  });

  it('reads the XDS-METADATA DocumentReference from its CDATA', () => {
    const env = parse(ex('pages/TestExampleXDSEmbeddedHCO.xml'));
    const doc = JSON.parse(scopeValue(env, 'XDS-METADATA')!) as { resourceType: string };
    assert.equal(doc.resourceType, 'DocumentReference');
  });

  it('throws EHMI_XML_MALFORMED for malformed XML', () =>
    fails('<StandardBusinessDocument', 'EHMI_XML_MALFORMED'));

  it('throws EHMI_XML_DOCTYPE_FORBIDDEN for a DOCTYPE', () =>
    fails('<!DOCTYPE a [<!ENTITY b "c">]><StandardBusinessDocument/>', 'EHMI_XML_DOCTYPE_FORBIDDEN'));

  it('throws EHMI_XML_SCHEMA_INVALID for the wrong namespace', () =>
    fails(
      '<StandardBusinessDocument xmlns="urn:x"/>',
      'EHMI_XML_SCHEMA_INVALID',
      'StandardBusinessDocument',
    ));

  it('throws EHMI_INPUT_UNREADABLE for a document that is not an envelope', () =>
    fails(ex('examples/ehmiMessage.xml'), 'EHMI_INPUT_UNREADABLE'));

  it('names a missing required element', () => {
    const xml = ex('examples/ehmiSBDH_9a6ff822_ReceiptAcknowledgement_full.xml')
      .toString('utf8')
      .replace(/<Sender>[\s\S]*?<\/Sender>/, '');
    fails(xml, 'EHMI_VALIDATION_FAILED', 'StandardBusinessDocumentHeader/Sender');
  });

  it('names BinaryContent whose base64 does not decode', () => {
    const xml = ex('examples/ehmiSBDH_9a6ff822_ReceiptAcknowledgement_full.xml')
      .toString('utf8')
      .replace(/(<BinaryContent[^>]*>)[^<]*/, '$1abc');
    fails(xml, 'EHMI_VALIDATION_FAILED', 'BinaryContent');
  });
});
