import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkDocumentId, fhirDocumentId, RECEIPT_DOCUMENT_ID } from '../src/document-id.ts';

const HCO = 'homecareobservation-message';

describe('DOCUMENTID forms (docs/specs/ehmi-core.md §2.3)', () => {
  it('builds the current form', () => {
    assert.equal(
      fhirDocumentId(HCO, '1.2'),
      'urn:dk:healthcare:medcom:messaging:fhir:structuredefinition::homecareobservation-message##urn:dk:medcom:fhir:homecareobservation-message::1.2',
    );
  });

  it('accepts the current form as current', () => {
    assert.deepEqual(checkDocumentId(fhirDocumentId(HCO, '1.2'), HCO, '1.2'), { form: 'current' });
    assert.deepEqual(checkDocumentId(RECEIPT_DOCUMENT_ID, 'ehmisbdh-acknowledgement', 'ebbp-signals-2.0'), {
      form: 'current',
    });
  });

  for (const [name, value, version] of [
    [
      'the older single-colon form',
      'urn:dk:healthcare:medcom:messaging:fhir:structuredefinition:homecareobservation-message:1.1',
      '1.1',
    ],
    [
      'the terminology form without -message',
      'urn:dk:healthcare:medcom:messaging:fhir:structuredefinition:homecareobservation:1.1',
      '1.1',
    ],
    [
      'the 2024 SMP form',
      'urn:dk:healthcare:prod:medcom:messaging:fhir:structuredefinition:homecareobservation#urn:dk:medcom:fhir:homecareobservation:3.0',
      '1.2',
    ],
    [
      'the prose template',
      'urn:dk:healthcare:prod:messaging:medcom:fhir:structuredefinition::homecareobservation-message##urn:dk:medcom:fhir:homecareobservation-message::1.2',
      '1.2',
    ],
  ] as const) {
    it(`accepts ${name} as a variant`, () => {
      assert.equal(checkDocumentId(value, HCO, version).form, 'legacy');
    });
  }

  it('accepts the older receipt forms as variants', () => {
    for (const v of [
      'urn:dk:healthcare:ehmi:messaging:envelope:xml:sbdhacknowledgement:1.0',
      'urn:dk:healthcare:prod:messaging:oasis:ebxml:schema:xsd:SBDHReceiptAcknowledgement',
    ]) {
      assert.equal(checkDocumentId(v, 'ehmisbdh-acknowledgement', 'ebbp-signals-2.0').form, 'legacy');
    }
  });

  it('rejects a DOCUMENTID of another message type or version', () => {
    assert.equal(
      checkDocumentId(fhirDocumentId('acknowledgement-message', '2.0'), HCO, '1.2').form,
      'mismatch',
    );
    assert.equal(checkDocumentId(fhirDocumentId(HCO, '1.1'), HCO, '1.2').form, 'mismatch');
    assert.equal(checkDocumentId('urn:something:else', HCO, '1.2').form, 'mismatch');
  });
});
