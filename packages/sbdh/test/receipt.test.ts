import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EhmiError } from '@ehmi/errors';
import { parseXmlLean } from '@ehmi/xml';
import {
  correlateReceipt,
  parse,
  parseReceipt,
  payloadOf,
  readSignal,
  receiptFor,
  scopeValue,
  validateMany,
  wrapMessage,
} from '../src/index.ts';
import { HCO, IG_XSD, SBDH, xmllint } from './fixtures.ts';

const original = await wrapMessage(
  readFileSync(join(HCO, 'Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json')),
  {
    creationDateAndTime: '2025-04-01T16:19:00+01:00',
  },
);
const ack = receiptFor(
  original.xml,
  { kind: 'acknowledgement' },
  { creationDateAndTime: '2025-04-01T16:20:00+01:00' },
);
const exc = receiptFor(original.envelope, {
  kind: 'exception',
  category: 'Syntax',
  reason: 'XSD validation failed',
  message: 'line 4',
});

describe('receiptFor: ehmiSBDH EnvelopeReceipt (ehmiSBDHEnvelopeReceipt)', () => {
  it('swaps Sender and Receiver and the SOR scopes', () => {
    const r = parse(ack);
    assert.deepEqual(r.sender, original.envelope.receiver);
    assert.deepEqual(r.receiver, original.envelope.sender);
    assert.equal(scopeValue(r, 'SENDERID'), scopeValue(original.envelope, 'RECEIVERID'));
    assert.equal(scopeValue(r, 'RECEIVERID'), scopeValue(original.envelope, 'SENDERID'));
  });

  it('identifies itself as an ehmisbdh-acknowledgement ReceiptAcknowledgement', () => {
    const d = parse(ack).documentIdentification;
    assert.equal(d.standard, 'ehmisbdh-acknowledgement');
    assert.equal(d.typeVersion, 'ebbp-signals-2.0');
    assert.equal(d.type, 'ReceiptAcknowledgement');
    assert.equal(
      scopeValue(parse(ack), 'DOCUMENTID'),
      'urn:dk:healthcare:messaging:oasis:ebxml:schema:xsd::ehmisbdh-acknowledgement##urn:dk:ehmi:sbdh:ehmisbdh-acknowledgement::1.0',
    );
  });

  it('carries the ORIGINAL* scopes of the original and no PATIENTID', () => {
    const r = parse(ack);
    const o = original.envelope;
    assert.equal(scopeValue(r, 'ORIGINALMESSAGEIDENTIFIER'), scopeValue(o, 'MESSAGEIDENTIFIER'));
    assert.equal(
      scopeValue(r, 'ORIGINALMESSAGEENVELOPEIDENTIFIER'),
      scopeValue(o, 'MESSAGEENVELOPEIDENTIFIER'),
    );
    assert.equal(scopeValue(r, 'ORIGINALMESSAGESTANDARD'), 'homecareobservation-message');
    assert.equal(scopeValue(r, 'ORIGINALMESSAGEVERSION'), '1.1');
    assert.equal(scopeValue(r, 'ORIGINALENVELOPEIDENTIFIER'), o.documentIdentification.instanceIdentifier);
    assert.equal(scopeValue(r, 'PATIENTID'), undefined);
  });

  it('answers with a Response that correlates to the original envelope', () => {
    const s = parse(ack).scopes.find((x) => x.type === 'EHMI-ReceiptAcknowledgement')!;
    assert.equal(s.instanceIdentifier, 'Response');
    assert.equal(
      s.correlationInformation?.requestingDocumentInstanceIdentifier,
      original.envelope.documentIdentification.instanceIdentifier,
    );
    assert.equal(s.correlationInformation?.requestingDocumentCreationDateTime, '2025-04-01T16:19:00+01:00');
    assert.equal(
      s.businessService?.serviceTransaction.TypeOfServiceTransaction,
      'RespondingServiceTransaction',
    );
  });

  it('embeds a bpssignal:ReceiptAcknowledgement as application/xml', () => {
    const r = parse(ack);
    assert.equal(r.binaryContent.mimeType, 'application/xml');
    const { signal, issues } = readSignal(payloadOf(r));
    assert.deepEqual(issues, []);
    assert.equal(signal?.kind, 'ReceiptAcknowledgement');
    assert.equal(
      signal?.originalMessageIdentifier,
      original.envelope.documentIdentification.instanceIdentifier,
    );
    assert.equal(signal?.originalMessageDateTime, '2025-04-01T16:19:00+01:00');
    assert.equal(signal?.thisMessageDateTime, '2025-04-01T16:20:00+01:00');
    assert.equal(signal?.fromPartyInfo?.value, original.envelope.receiver.value);
  });

  it('embeds a bpssignal:Exception with category and reason for a ReceiptException', () => {
    const r = parse(exc);
    assert.equal(r.documentIdentification.type, 'ReceiptException');
    const { signal } = readSignal(payloadOf(r));
    assert.deepEqual(signal?.exception, {
      category: 'Syntax',
      reason: 'XSD validation failed',
      message: 'line 4',
    });
  });

  it('builds receipts that are valid against the IG XSD', async () => {
    const results = await validateMany([{ xml: ack }, { xml: exc }]);
    for (const r of results) {
      assert.equal(r.valid, true, JSON.stringify(r.errors));
      assert.deepEqual(r.warnings, []);
    }
  });

  it('builds receipts an independent xmllint accepts', (t) => {
    const r = xmllint(exc, IG_XSD);
    if (!r) return t.skip('xmllint is not installed');
    assert.equal(r.ok, true, r.output);
  });

  it('builds a valid, correlating receipt for a known-variant IG example', async () => {
    const igOriginal = parse(readFileSync(join(SBDH, 'examples/ehmisbdh_fullsample.xml')));
    const receipt = receiptFor(igOriginal, { kind: 'acknowledgement' });
    const [r] = await validateMany([{ xml: receipt }]);
    assert.equal(r?.valid, true, JSON.stringify(r?.errors));
    assert.equal(parseReceipt(receipt, igOriginal).correlation?.matches, true);
  });

  it('never acknowledges an EnvelopeReceipt', () => {
    assert.throws(
      () => receiptFor(ack, { kind: 'acknowledgement' }),
      (e: unknown) => e instanceof EhmiError && e.code === 'EHMI_NOT_SUPPORTED',
    );
  });

  it('rejects an unknown exception category', () => {
    assert.throws(
      () => receiptFor(original.envelope, { kind: 'exception', category: 'Bogus' as 'Syntax', reason: 'x' }),
      (e: unknown) => e instanceof EhmiError && e.code === 'EHMI_USAGE',
    );
  });
});

describe('parseReceipt: correlation by the ORIGINAL* scopes', () => {
  it('correlates a receipt built for an envelope back to it', () => {
    const r = parseReceipt(ack, original.envelope);
    assert.equal(r.kind, 'ReceiptAcknowledgement');
    assert.deepEqual(r.correlation, { matches: true, mismatches: [] });
  });

  it('reads the exception of a ReceiptException', () => {
    const r = parseReceipt(exc, original.envelope);
    assert.equal(r.kind, 'ReceiptException');
    assert.equal(r.exception?.reason, 'XSD validation failed');
    assert.equal(r.correlation?.matches, true);
  });

  it('does not correlate a receipt to another envelope', async () => {
    const other = await wrapMessage(
      readFileSync(join(HCO, 'Bundle-faa0c104-0ebf-49cb-bad1-9e0f59436e18.json')),
    );
    const c = parseReceipt(ack, other.envelope).correlation!;
    assert.equal(c.matches, false);
    assert.ok(c.mismatches.some((m) => m.startsWith('ORIGINALENVELOPEIDENTIFIER')));
  });

  it('correlates the IG receipt example by its ORIGINALMESSAGEIDENTIFIER', () => {
    const r = parseReceipt(
      readFileSync(join(SBDH, 'examples/ehmiSBDH_9a6ff822_ReceiptAcknowledgement_full.xml')),
    );
    assert.equal(r.original.messageIdentifier, '489de4f2-0d8d-4de2-a7ce-ccb93568799f');
    assert.equal(r.original.envelopeIdentifier, '9a6ff822-08de-5a6f-9670-9fa4b9d2f0dc');
    const igOriginal = parse(readFileSync(join(SBDH, 'examples/ehmiSBDH_9a6ff822_HCO_full.xml')));
    const c = correlateReceipt(r, igOriginal);
    // The IG's two examples disagree on the parties and the version; the identifiers match.
    assert.ok(
      !c.mismatches.some(
        (m) => m.startsWith('ORIGINALMESSAGEIDENTIFIER') || m.startsWith('ORIGINALENVELOPEIDENTIFIER'),
      ),
    );
  });

  it('refuses an envelope that is not a receipt', () => {
    assert.throws(
      () => parseReceipt(original.xml),
      (e: unknown) => e instanceof EhmiError && e.code === 'EHMI_VALIDATION_FAILED',
    );
  });
});

describe('readSignal: the lean tree and the DOM read a signal alike', () => {
  const example = parse(
    readFileSync(join(SBDH, 'examples/ehmiSBDH_9a6ff822_ReceiptAcknowledgement_full.xml')),
  );
  const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');
  const signals: [string, string][] = [
    ['a built ReceiptAcknowledgement', text(payloadOf(parse(ack)))],
    ['a built Exception', text(payloadOf(parse(exc)))],
    ['the IG example (an element the schema does not know)', text(payloadOf(example))],
    [
      'a signal missing its required elements, out of order',
      `<bpssignal:Exception xmlns:bpssignal="http://docs.oasis-open.org/ebxml-bp/ebbp-signals-2.0"><bpssignal:ThisMessageDateTime>x</bpssignal:ThisMessageDateTime><bpssignal:OriginalMessageIdentifier> a &amp; b </bpssignal:OriginalMessageIdentifier><bpssignal:ExceptionType><bpssignal:ReceiptException>Other</bpssignal:ReceiptException></bpssignal:ExceptionType></bpssignal:Exception>`,
    ],
    ['another root', '<x:Other xmlns:x="urn:x"/>'],
  ];
  for (const [name, xml] of signals) {
    it(`reads ${name} as the DOM does`, () => {
      // The signal as sent reads over the lean tree; a comment after its root makes the lean reader give up, so
      // the same signal with one is read over the DOM.
      assert.ok(parseXmlLean(xml), 'the lean reader takes the signal as sent');
      const dom = `${xml}<!-- after the root -->`;
      assert.equal(parseXmlLean(dom), undefined, 'the lean reader leaves the variant to the DOM');
      assert.deepEqual(readSignal(Buffer.from(xml)), readSignal(Buffer.from(dom)));
    });
  }

  it('reports a signal that is not well-formed as before', () => {
    const { signal, issues } = readSignal(Buffer.from('<bpssignal:ReceiptAcknowledgement'));
    assert.equal(signal, undefined);
    assert.equal(issues.length, 1);
    assert.match(issues[0]!.message, /^the embedded signal is not well-formed XML: /);
  });
});
