// The ebMS3 header we build, checked against the ebMS3 header schema (fixtures/as4/xsd, Holodeck-B2B's refactored copy).
// The schema imports the SOAP 1.1 envelope schema and xml.xsd by http URL; neither is in the fixtures, so the test
// supplies two small stubs declaring just the attributes the ebMS schema refers to. Validation is a test-time check
// only: nothing here is needed at run time, so no schema ships in packages/as4/resources.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { type SchemaSet, serializeXml, validateXsd } from '@ehmi/xml';
import { buildErrorSignal, buildReceipt, buildUserMessage, parseEnvelope } from '../src/index.ts';
import { AS4_FIXTURES, readVector } from './helpers.ts';

const xsd = (name: string) => readFileSync(`${AS4_FIXTURES}xsd/${name}`, 'utf8');

const S11_STUB = `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="http://schemas.xmlsoap.org/soap/envelope/">
  <xs:attribute name="mustUnderstand" type="xs:boolean"/>
  <xs:attribute name="encodingStyle" type="xs:anyURI"/>
  <xs:attribute name="actor" type="xs:anyURI"/>
</xs:schema>`;
const XML_STUB = `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="http://www.w3.org/XML/1998/namespace">
  <xs:attribute name="lang" type="xs:language"/>
</xs:schema>`;

const PROPERTY_NAME = '<xsd:attribute name="name" type="tns:non-empty-string" use="required"/>';

// The 2007 ebMS3 schema has no eb:Property/@type; the eDelivery Four Corner enhancement (eDelivery AS4 1.15
// §2.6.1) adds it to originalSender/finalRecipient, and Domibus' copy of the schema declares it. `withPropertyType`
// adds that one optional attribute; everything else is the schema as published.
const schemaSet = (withPropertyType: boolean): SchemaSet => ({
  entry: 'ebms.xsd',
  files: [
    {
      fileName: 'ebms.xsd',
      contents: xsd('ebms-header-3_0-200704_refactored.xsd')
        .replace(
          PROPERTY_NAME,
          withPropertyType
            ? `${PROPERTY_NAME}<xsd:attribute name="type" type="tns:non-empty-string" use="optional"/>`
            : PROPERTY_NAME,
        )
        .replace(
          'schemaLocation="http://schemas.xmlsoap.org/soap/envelope/"',
          'schemaLocation="s11-stub.xsd"',
        )
        .replace(
          'schemaLocation="http://www.w3.org/2003/05/soap-envelope"',
          'schemaLocation="soap12-envelope.xsd"',
        )
        .replace('schemaLocation="http://www.w3.org/2001/03/xml.xsd"', 'schemaLocation="xml-stub.xsd"'),
    },
    {
      fileName: 'soap12-envelope.xsd',
      contents: xsd('soap12-envelope.xsd').replace(
        'schemaLocation="http://www.w3.org/2001/xml.xsd"',
        'schemaLocation="xml-stub.xsd"',
      ),
    },
    { fileName: 's11-stub.xsd', contents: S11_STUB },
    { fileName: 'xml-stub.xsd', contents: XML_STUB },
  ],
});
const SET = schemaSet(true);

const messagingOf = (xml: string | Buffer) => serializeXml(parseEnvelope(xml).messaging);

describe('ebMS3 header schema', () => {
  it('the published 2007 schema objects only to the four-corner Property/@type', async () => {
    const xml = messagingOf(
      serializeXml(
        buildUserMessage({
          from: { partyIds: [{ value: 'a', type: 'urn:t' }], role: 'urn:r1' },
          to: { partyIds: [{ value: 'b', type: 'urn:t' }], role: 'urn:r2' },
          service: { value: 'urn:s' },
          action: 'urn:a',
          messageProperties: [{ name: 'originalSender', value: '0088:1', type: 'iso6523-actorid-upis' }],
        }).document,
      ),
    );
    const [strict] = await validateXsd([xml], schemaSet(false));
    const [patched] = await validateXsd([xml], SET);
    assert.equal(strict?.valid, false);
    assert.match(strict?.issues[0]?.message ?? '', /attribute 'type' is not allowed/);
    assert.equal(patched?.valid, true);
  });

  it('the schema set itself accepts real eb:Messaging headers (phase4 receipt and user message)', async () => {
    const docs = [
      messagingOf(readVector('phase4-receipt-helger-POP000306.as4in').body),
      messagingOf(readVector('phase4-usermessage-unsigned.xml').body),
    ];
    const results = await validateXsd(docs, SET);
    assert.deepEqual(
      results.map((r) => r.issues),
      [[], []],
    );
  });

  it('rejects a header the schema forbids (a UserMessage without PartyInfo), so the check can fail', async () => {
    const bad = messagingOf(readVector('phase4-usermessage-unsigned.xml').body).replace(
      /<eb:PartyInfo>[\s\S]*<\/eb:PartyInfo>/,
      '',
    );
    const [result] = await validateXsd([bad], SET);
    assert.equal(result?.valid, false);
  });

  it('accepts the UserMessage, receipt and error signal we build', async () => {
    const um = buildUserMessage({
      from: {
        partyIds: [{ value: '5790000000001', type: 'urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088' }],
        role: 'urn:r:initiator',
      },
      to: {
        partyIds: [{ value: '5790000000002', type: 'urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088' }],
        role: 'urn:r:responder',
      },
      agreementRef: { value: 'urn:ehmi:agreement', pmode: 'p1' },
      service: { value: 'urn:ehmi:service', type: 'urn:ehmi:service-type' },
      action: 'urn:ehmi:action',
      messageProperties: [
        { name: 'originalSender', value: '0088:5790000000001', type: 'iso6523-actorid-upis' },
        { name: 'finalRecipient', value: '0088:5790000000002', type: 'iso6523-actorid-upis' },
      ],
      payloadInfo: [
        {
          href: 'cid:p1@ehmi',
          partProperties: [
            { name: 'MimeType', value: 'application/xml' },
            { name: 'CompressionType', value: 'application/gzip' },
          ],
        },
      ],
    });
    const receipt = buildReceipt({
      refToMessageId: um.userMessage.messageInfo.messageId,
      references: [
        {
          uri: 'cid:p1@ehmi',
          transforms: [],
          digestMethod: 'http://www.w3.org/2001/04/xmlenc#sha256',
          digestValue: 'AAAA',
        },
      ],
    });
    const error = buildErrorSignal(new Error('boom'), {
      refToMessageInError: um.userMessage.messageInfo.messageId,
    });
    const results = await validateXsd(
      [um.document, receipt.document, error.document].map((d) =>
        serializeXml(parseEnvelope(serializeXml(d)).messaging),
      ),
      SET,
    );
    assert.deepEqual(
      results.map((r) => r.issues),
      [[], [], []],
    );
  });
});

describe('SOAP 1.2 envelope schema', () => {
  const soapSet: SchemaSet = { ...SET, entry: 'soap12-envelope.xsd' };

  it('accepts the envelopes we build, and rejects one with two Bodies (so the check can fail)', async () => {
    const party = { partyIds: [{ value: 'a', type: 'urn:t' }], role: 'urn:r' };
    const um = buildUserMessage({ from: party, to: party, service: { value: 'urn:s' }, action: 'urn:a' });
    const ok = serializeXml(um.document);
    const bad = ok.replace(/(<S12:Body[^>]*\/>)/, '$1$1');
    const [good, wrong] = await validateXsd([ok, bad], soapSet);
    assert.deepEqual(good?.issues, []);
    assert.equal(wrong?.valid, false);
  });
});
