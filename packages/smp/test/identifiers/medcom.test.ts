import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  documentId,
  medcomDocumentId,
  medcomDocumentType,
  processId,
  sameDocumentType,
  sameProcess,
} from '../../src/index.ts';
import { FIXTURES } from '../helpers/fixtures.ts';

// The spellings listed in docs/specs/ehmi-core.md §2.3.
const ACK_CURRENT =
  'urn:dk:healthcare:medcom:messaging:fhir:structuredefinition::acknowledgement-message##urn:dk:medcom:fhir:acknowledgement-message::2.0';
const ACK_LEGACY = 'urn:dk:healthcare:medcom:messaging:fhir:structuredefinition:acknowledgement:2.0';
const SBDH_ACK_CURRENT =
  'urn:dk:healthcare:messaging:oasis:ebxml:schema:xsd::ehmisbdh-acknowledgement##urn:dk:ehmi:sbdh:ehmisbdh-acknowledgement::1.0';
const SBDH_ACK_LEGACY = 'urn:dk:healthcare:ehmi:messaging:envelope:xml:sbdhacknowledgement:1.0';
const HCO_SMP_PAGE =
  'urn:dk:healthcare:prod:medcom:messaging:fhir:structuredefinition:homecareobservation#urn:dk:medcom:fhir:homecareobservation:3.0';
const HCO_11_LEGACY =
  'urn:dk:healthcare:medcom:messaging:fhir:structuredefinition:homecareobservation-message:1.1';

describe('MedCom document type identifiers (ehmi-core §2.3)', () => {
  it('recognise the current ::…##…:: form in a real ehmiSBDH example', () => {
    const xml = readFileSync(`${FIXTURES}ehmi-sbdh/examples/ehmisbdh_fullsample.xml`, 'utf8');
    const value = /<Type>DOCUMENTID<\/Type>\s*<InstanceIdentifier>([^<]+)</.exec(xml)![1]!;
    assert.deepEqual(medcomDocumentType(value), {
      form: 'current',
      name: 'homecareobservation-message',
      canonicalName: 'homecareobservation',
      version: '1.2',
    });
  });

  it('recognise the single-separator form of the 2024 ehmiSMP page', () => {
    assert.deepEqual(medcomDocumentType(HCO_SMP_PAGE), {
      form: 'single-separator',
      name: 'homecareobservation',
      canonicalName: 'homecareobservation',
      version: '3.0',
    });
  });

  it('recognise the legacy :<name>:<version> form', () => {
    assert.equal(medcomDocumentType(HCO_11_LEGACY)?.form, 'legacy');
    assert.equal(medcomDocumentType(HCO_11_LEGACY)?.version, '1.1');
  });

  it('treat the acknowledgement in current and legacy spelling as one document type', () => {
    assert.ok(sameDocumentType(documentId(ACK_CURRENT), documentId(ACK_LEGACY)));
  });

  it('treat the ehmiSBDH acknowledgement in both spellings as one document type', () => {
    assert.ok(sameDocumentType(documentId(SBDH_ACK_CURRENT), documentId(SBDH_ACK_LEGACY)));
  });

  it('keep different versions apart', () => {
    assert.ok(
      !sameDocumentType(documentId(HCO_11_LEGACY), medcomDocumentId('homecareobservation-message', '1.2')),
    );
  });

  it('leave non-MedCom identifiers alone', () => {
    const peppol =
      'urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##urn:cen.eu:en16931:2017::2.1';
    assert.equal(medcomDocumentType(peppol), undefined);
    assert.ok(!sameDocumentType(documentId(peppol), documentId(ACK_LEGACY)));
  });

  it('build the current form', () => {
    assert.equal(medcomDocumentId('acknowledgement-message', '2.0').value, ACK_CURRENT);
    assert.equal(medcomDocumentId('sbdhacknowledgement', '1.0').value, SBDH_ACK_CURRENT);
  });

  it('take sdn-emergence and urn:ehmi:sdn-emergence as one process', () => {
    assert.ok(sameProcess(processId('urn:ehmi:sdn-emergence'), processId('sdn-emergence')));
    assert.ok(!sameProcess(processId('urn:ehmi:sdn-emergence'), processId('urn:ehmi:other')));
  });
});
