import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EhmiError } from '@ehmi/errors';
import { documentId, identifierFromUrlPath, participantId, processId } from '../../src/index.ts';
import { HCO_CURRENT } from '../helpers/model.ts';

const invalid = (kind: string) => (err: unknown) => {
  assert.ok(err instanceof EhmiError);
  assert.equal(err.code, 'EHMI_SMP_IDENTIFIER_INVALID');
  assert.equal(err.details.kind, kind);
  return true;
};

describe('participant identifiers', () => {
  it('default to the iso6523-actorid-upis scheme', () => {
    const p = participantId('0088:5790000121526');
    assert.equal(p.scheme, 'iso6523-actorid-upis');
    assert.equal(p.value, '0088:5790000121526');
    assert.equal(p.toString(), 'iso6523-actorid-upis::0088:5790000121526');
  });

  it('read an explicit scheme::value', () => {
    const p = participantId('iso6523-actorid-upis::0088:5790000201389');
    assert.equal(p.scheme, 'iso6523-actorid-upis');
    assert.equal(p.value, '0088:5790000201389');
  });

  it('encode as one URL segment with %3A (Peppol SMP URL form)', () => {
    assert.equal(
      participantId('0088:5790000121526').toUrlPath(),
      'iso6523-actorid-upis%3A%3A0088%3A5790000121526',
    );
  });

  it('compare values case-insensitively (Peppol Policy for use of Identifiers POLICY 2)', () => {
    assert.ok(
      participantId('9915:ABC', { lenient: true }).equals(participantId('9915:abc', { lenient: true })),
    );
  });

  it('name a malformed ISO 6523 value in the error', () => {
    assert.throws(
      () => participantId('88:5790000121526'),
      (err: unknown) => {
        invalid('participant')(err);
        assert.match((err as Error).message, /88:5790000121526/);
        return true;
      },
    );
  });

  it('refuse a GLN with a wrong check digit', () => {
    assert.throws(() => participantId('0088:5790000121527'), /check digit/);
  });

  it('accept a wrong GLN check digit when lenient', () => {
    assert.equal(participantId('0088:123abc', { lenient: true }).value, '0088:123abc');
  });

  it('refuse an empty value', () => {
    assert.throws(() => participantId('iso6523-actorid-upis::'), invalid('participant'));
  });

  it('refuse control characters', () => {
    assert.throws(() => participantId('9915:a\nb', { lenient: true }), invalid('participant'));
  });

  it('refuse a non-string input', () => {
    assert.throws(() => participantId(42 as never), invalid('participant'));
  });
});

describe('document type identifiers', () => {
  it('keep the :: and ## of a MedCom identifier in the value when no scheme is given', () => {
    const d = documentId(HCO_CURRENT);
    assert.equal(d.scheme, 'dk-medcom-messaging');
    assert.equal(d.value, HCO_CURRENT);
  });

  it('percent-encode # as %23 and : as %3A in the URL', () => {
    const d = documentId(HCO_CURRENT, { scheme: 'busdox-docid-qns' });
    assert.equal(
      d.toUrlPath(),
      'busdox-docid-qns%3A%3Aurn%3Adk%3Ahealthcare%3Amedcom%3Amessaging%3Afhir%3Astructuredefinition%3A%3Ahomecareobservation-message%23%23urn%3Adk%3Amedcom%3Afhir%3Ahomecareobservation-message%3A%3A1.2',
    );
    assert.ok(!d.toUrlPath().includes('#'));
  });

  it('encode / so it cannot split the URL path', () => {
    assert.ok(documentId('a/b').toUrlPath().includes('a%2Fb'));
  });

  it('compare values case-sensitively', () => {
    assert.ok(!documentId('urn:x:A').equals(documentId('urn:x:a')));
  });

  it('refuse a value longer than 500 characters', () => {
    assert.throws(() => documentId(`urn:${'x'.repeat(500)}`), invalid('document'));
  });

  it('refuse an invalid scheme', () => {
    assert.throws(() => documentId({ scheme: 'bad scheme', value: 'urn:x' }), invalid('document'));
  });
});

describe('identifiers in URL paths', () => {
  it('read the percent-encoded form', () => {
    const p = identifierFromUrlPath('participant', 'iso6523-actorid-upis%3A%3A0088%3A5790000121526');
    assert.equal(p.toString(), 'iso6523-actorid-upis::0088:5790000121526');
  });

  it('read a raw :: as phoss-smp accepts it', () => {
    const p = identifierFromUrlPath('participant', 'iso6523-actorid-upis::0088:5790000121526');
    assert.equal(p.value, '0088:5790000121526');
  });

  it('round-trip a document identifier with # and ::', () => {
    const d = documentId(HCO_CURRENT, { scheme: 'busdox-docid-qns' });
    assert.ok(identifierFromUrlPath('document', d.toUrlPath()).equals(d));
  });

  it('refuse a segment without a scheme', () => {
    assert.throws(() => identifierFromUrlPath('document', 'urn%3Ax'), invalid('document'));
  });

  it('refuse broken percent-encoding', () => {
    assert.throws(
      () => identifierFromUrlPath('participant', 'iso6523-actorid-upis%3A%3A%ZZ'),
      invalid('participant'),
    );
  });
});

describe('process identifiers', () => {
  it('default to the dk-medcom-messaging scheme', () => {
    assert.equal(
      processId('urn:ehmi:sdn-emergence').toString(),
      'dk-medcom-messaging::urn:ehmi:sdn-emergence',
    );
  });

  it('are not participant identifiers', () => {
    assert.throws(() => participantId(processId('urn:ehmi:sdn-emergence')), invalid('participant'));
  });
});
