import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cprFacts } from '../src/archive/document-reference.ts';
import { findScope, parse, scopeValue, validate, wrapForArchive } from '../src/index.ts';
import { HCO, IG_XSD, xmllint } from './fixtures.ts';

const message = readFileSync(join(HCO, 'Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json'));
const copy = await wrapForArchive(message);
const env = parse(copy);
interface Res {
  resourceType: string;
  id: string;
  identifier?: unknown;
}
interface DocRef {
  resourceType: string;
  contained: Res[];
  type: { coding: { code: string }[] };
  masterIdentifier: { value: string };
  subject: { reference: string };
  content: { attachment: { size: number; contentType: string } }[];
}
const docRef = JSON.parse(scopeValue(env, 'XDS-METADATA')!) as DocRef;

describe('wrapForArchive: the copy for the document archive (ehmiSBDH IG "XDS-Metadata")', () => {
  it('adds XDS-METADATA with Identifier dk-medcom-DocumentReference', () => {
    assert.equal(findScope(env, 'XDS-METADATA')?.identifier, 'dk-medcom-DocumentReference');
    assert.equal(docRef.resourceType, 'DocumentReference');
  });

  it('keeps every scope of the primary envelope', () => {
    for (const t of [
      'DOCUMENTID',
      'PATIENTID',
      'SENDERID',
      'RECEIVERID',
      'MESSAGEIDENTIFIER',
      'EHMI-ReceiptAcknowledgement',
    ]) {
      assert.ok(findScope(env, t), t);
    }
  });

  it('builds the DocumentReference from the message: patient, author, type and attachment', () => {
    const patient = docRef.contained.find((r) => r.resourceType === 'Patient')!;
    assert.deepEqual(patient.identifier, [{ system: 'urn:oid:1.2.208.176.1.2', value: '2509479989' }]);
    const org = docRef.contained.find((r) => r.resourceType === 'Organization')!;
    assert.deepEqual(org.identifier, [{ system: 'urn:oid:1.2.208.176.1.1', value: '1144561000016002' }]);
    assert.equal(docRef.type.coding[0]?.code, 'HCOMsg');
    assert.equal(docRef.masterIdentifier.value, 'urn:uuid:489de4f2-0d8d-4de2-a7ce-ccb93568799f');
    assert.equal(docRef.content[0]?.attachment.size, message.length);
    assert.equal(docRef.content[0]?.attachment.contentType, 'application/fhir+json');
    assert.equal(docRef.subject.reference, `#${patient.id}`);
  });

  it('is valid against the IG XSD and its rules', async () => {
    const r = await validate(copy);
    assert.equal(r.valid, true, JSON.stringify(r.errors));
    assert.deepEqual(r.warnings, []);
  });

  it('is accepted by an independent xmllint', (t) => {
    const r = xmllint(copy, IG_XSD);
    if (!r) return t.skip('xmllint is not installed');
    assert.equal(r.ok, true, r.output);
  });

  it('can address the archive instead of the receiver', async () => {
    const e = parse(await wrapForArchive(message, { archiveReceiver: '5790000000005' }));
    assert.equal(e.receiver.value, '0088:5790000000005');
  });
});

describe('the patient’s birth date and sex from the CPR number (XDS sourcePatientInfo)', () => {
  const cpr = (value: string) => cprFacts({ system: 'urn:oid:1.2.208.176.1.2', value });
  it('reads the century from the 7th digit and the sex from the last', () => {
    assert.deepEqual(cpr('2509479989'), { birthDate: '1947-09-25', gender: 'male' });
    assert.deepEqual(cpr('0201919990'), { birthDate: '1991-01-02', gender: 'female' });
    assert.deepEqual(cpr('0101054002'), { birthDate: '2005-01-01', gender: 'female' });
    assert.deepEqual(cpr('0101605001'), { birthDate: '1860-01-01', gender: 'male' });
    assert.deepEqual(cpr('2902004001'), { birthDate: '2000-02-29', gender: 'male' });
  });
  it('gives nothing for a number that is no date, or another identifier', () => {
    assert.equal(cpr('3102471234'), undefined);
    assert.equal(cpr('2902014001'), undefined);
    assert.equal(cprFacts({ system: 'urn:oid:1.2.208.176.1.6.1.1', value: '2509479989' }), undefined);
  });
});
