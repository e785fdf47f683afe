import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EhmiError } from '@ehmi/errors';
import { jsonToXml, xmlToJson } from '@ehmi/fhir';
import {
  findScope,
  parse,
  payloadOf,
  scopeValue,
  validate,
  validateMany,
  wrap,
  wrapMessage,
} from '../src/index.ts';
import { ACK, HCO, IG_XSD, json, NOW, SBDH, xmllint } from './fixtures.ts';

const hcoBundles = readdirSync(HCO)
  .filter((f) => f.startsWith('Bundle-'))
  .map((f) => join(HCO, f));
const ackBundles = readdirSync(ACK)
  .filter((f) => f.startsWith('Bundle-'))
  .map((f) => join(ACK, f))
  .filter(
    (f) =>
      (json(f).entry as { resource: { eventCoding?: { code?: string } } }[])[0]!.resource.eventCoding
        ?.code === 'acknowledgement-message',
  );

describe('wrap: MedCom FHIR message → ehmiSBDH (ehmiSBDH IG "If the MedCom Message is of type FHIR")', () => {
  it('maps Sender/Receiver to 0088:<GLN> of MessageHeader.sender and destination.receiver', async () => {
    const env = parse(
      await wrap(readFileSync(join(HCO, 'Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json'))),
    );
    assert.deepEqual(env.sender, { authority: 'iso6523-actorid-upis', value: '0088:5790000123117' });
    assert.deepEqual(env.receiver, { authority: 'iso6523-actorid-upis', value: '0088:5790000127092' });
  });

  it('maps DocumentIdentification from eventCoding.code and the definition version suffix', async () => {
    const env = parse(
      await wrap(readFileSync(join(HCO, 'Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json')), {
        now: NOW,
        instanceIdentifier: '11111111-2222-4333-8444-555555555555',
      }),
    );
    assert.deepEqual(env.documentIdentification, {
      standard: 'homecareobservation-message',
      typeVersion: '1.1',
      instanceIdentifier: '11111111-2222-4333-8444-555555555555',
      type: 'Bundle',
      multipleType: false,
      creationDateAndTime: '2026-03-02T10:15:30+01:00',
    });
  });

  it('maps every BusinessScope of a HomeCareObservation', async () => {
    const env = parse(
      await wrap(readFileSync(join(HCO, 'Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json'))),
    );
    assert.deepEqual(
      env.scopes.map((s) => [
        s.type,
        s.type === 'EHMI-ReceiptAcknowledgement' ? s.instanceIdentifier : s.instanceIdentifier,
        s.identifier,
      ]),
      [
        [
          'DOCUMENTID',
          'urn:dk:healthcare:medcom:messaging:fhir:structuredefinition::homecareobservation-message##urn:dk:medcom:fhir:homecareobservation-message::1.1',
          'dk-medcom-messaging',
        ],
        ['PROCESSID', 'urn:ehmi:sdn-emergence', 'dk-medcom-messaging'],
        ['PATIENTID', '2509479989', 'dk-medcom-messaging'],
        ['SENDERID', '1144561000016002', 'dk-medcom-messaging'],
        ['RECEIVERID', '52581000016005', 'dk-medcom-messaging'],
        ['MESSAGEIDENTIFIER', '489de4f2-0d8d-4de2-a7ce-ccb93568799f', 'dk-medcom-messaging'],
        ['MESSAGEENVELOPEIDENTIFIER', '401cbc36-db1e-4fe0-bf90-6df331dde179', 'dk-medcom-messaging'],
        ['StatisticalInformation', 'MCM:homecareobservation-message', 'dk-medcom-messaging'],
        ['EHMI-ReceiptAcknowledgement', 'Request', 'dk-medcom-messaging'],
      ],
    );
  });

  it('asks for a receipt with the 10-minute ExpectedResponseDateTime and the fixed ServiceTransaction', async () => {
    const env = parse(
      await wrap(readFileSync(join(HCO, 'Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json')), {
        creationDateAndTime: '2025-04-01T16:19:00+01:00',
      }),
    );
    const s = findScope(env, 'EHMI-ReceiptAcknowledgement')!;
    assert.deepEqual(s.correlationInformation, {
      requestingDocumentCreationDateTime: '2025-04-01T16:19:00+01:00',
      requestingDocumentInstanceIdentifier: env.documentIdentification.instanceIdentifier,
      expectedResponseDateTime: '2025-04-01T16:29:00+01:00',
    });
    assert.equal(s.businessService?.businessServiceName, 'EHMI-ReceiptAcknowledgement-Request');
    assert.equal(
      s.businessService?.serviceTransaction.TypeOfServiceTransaction,
      'RequestingServiceTransaction',
    );
    assert.equal(s.businessService?.serviceTransaction.TimeToAcknowledgeReceipt, '600000');
  });

  it('carries the message bytes unchanged as base64 with mimeType application/fhir+json', async () => {
    const bytes = readFileSync(join(HCO, 'Bundle-add5e7e2-0c0f-4a4a-bfff-f6f984fa7e3c.json'));
    const env = parse(await wrap(bytes));
    assert.equal(env.binaryContent.mimeType, 'application/fhir+json');
    assert.equal(env.binaryContent.encoding, 'UTF-8');
    assert.deepEqual(payloadOf(env), bytes);
  });

  it('wraps a patient known only by an eCPR with the eCPR as PATIENTID', async () => {
    const env = parse(await wrap(readFileSync(join(HCO, 'Bundle-ReceiveTestExample3.json'))));
    assert.equal(scopeValue(env, 'PATIENTID'), '0703921VJ5');
  });

  it('reads an eCPR issued under another replacement arc (urn:oid:1.2.208.176.1.6.*)', async () => {
    const bundle = json(join(HCO, 'Bundle-ReceiveTestExample3.json')) as {
      entry: { resource: { resourceType: string; identifier?: unknown[] } }[];
    };
    const patient = bundle.entry.find((e) => e.resource.resourceType === 'Patient')!.resource;
    patient.identifier = [{ system: 'urn:oid:1.2.208.176.1.6.1.3', value: '0703921AB1' }];
    assert.equal(scopeValue(parse(await wrap(bundle)), 'PATIENTID'), '0703921AB1');
  });

  it('prefers the CPR when the patient has both a CPR and an eCPR', async () => {
    const bundle = json(join(HCO, 'Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json')) as {
      entry: { resource: { resourceType: string; identifier?: unknown[] } }[];
    };
    const patient = bundle.entry.find((e) => e.resource.resourceType === 'Patient')!.resource;
    patient.identifier = [
      { system: 'urn:oid:1.2.208.176.1.6.1.1', value: '0703921VJ5' },
      ...(patient.identifier ?? []),
    ];
    assert.equal(scopeValue(parse(await wrap(bundle)), 'PATIENTID'), '2509479989');
  });

  it('gives an acknowledgement ORIGINAL* scopes and no PATIENTID', async () => {
    const env = parse(
      await wrap(readFileSync(join(ACK, 'Bundle-a8c041b8-c65a-4fde-a90f-962076918834.json'))),
    );
    assert.equal(env.documentIdentification.standard, 'acknowledgement-message');
    assert.equal(env.documentIdentification.typeVersion, '2.0');
    assert.equal(scopeValue(env, 'PATIENTID'), undefined);
    assert.equal(scopeValue(env, 'ORIGINALMESSAGEIDENTIFIER'), '42cb9200-f421-4d08-8391-7d51a2503cb4');
    assert.equal(scopeValue(env, 'ORIGINALMESSAGESTANDARD'), 'unknown');
    assert.equal(scopeValue(env, 'ORIGINALENVELOPEIDENTIFIER'), undefined);
  });

  it('takes an acknowledgement’s ORIGINAL* values from the original envelope when given', async () => {
    const original = parse(
      await wrap(readFileSync(join(HCO, 'Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json'))),
    );
    const env = parse(
      await wrap(readFileSync(join(ACK, 'Bundle-a8c041b8-c65a-4fde-a90f-962076918834.json')), { original }),
    );
    assert.equal(
      scopeValue(env, 'ORIGINALMESSAGEENVELOPEIDENTIFIER'),
      '401cbc36-db1e-4fe0-bf90-6df331dde179',
    );
    assert.equal(scopeValue(env, 'ORIGINALMESSAGESTANDARD'), 'homecareobservation-message');
    assert.equal(scopeValue(env, 'ORIGINALMESSAGEVERSION'), '1.1');
  });

  it('wraps the same envelope from bytes with their JSON form given as from the bytes alone', async () => {
    const stamp = { instanceIdentifier: 'a1b2c3d4-0000-4000-8000-000000000001', now: NOW };
    const bytes = readFileSync(join(HCO, 'Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json'));
    const resource = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    assert.equal(
      (await wrapMessage(bytes, { ...stamp, resource })).xml,
      (await wrapMessage(bytes, stamp)).xml,
    );
    const xml = readFileSync(join(SBDH, 'examples/ehmiMessage_401cbc36_HCO_bundle.xml'));
    const fromXml = (await wrapMessage(xml, stamp)).xml;
    assert.equal(
      (await wrapMessage(xml, { ...stamp, resource: xmlToJson(xml.toString('utf8')) })).xml,
      fromXml,
    );
    // The given form is used, not the bytes read again: the mapped facts come from it.
    const other = structuredClone(resource) as { entry: { resource: { id: string } }[] };
    other.entry[0]!.resource.id = 'f0f0f0f0-0000-4000-8000-000000000002';
    const wrapped = await wrapMessage(bytes, { ...stamp, resource: other });
    assert.equal(scopeValue(wrapped.envelope, 'MESSAGEIDENTIFIER'), 'f0f0f0f0-0000-4000-8000-000000000002');
    assert.deepEqual(payloadOf(parse(wrapped.xml)), bytes);
  });

  it('reads a JSON message with its JSON form given as from the bytes alone, however long its leading whitespace', async () => {
    const stamp = { instanceIdentifier: 'a1b2c3d4-0000-4000-8000-000000000001', now: NOW };
    const json = readFileSync(join(HCO, 'Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json'));
    const resource = JSON.parse(json.toString('utf8')) as Record<string, unknown>;
    // Whitespace past the first KiB read, one of them a no-break space (two octets) cut by that KiB's end; a byte
    // order mark first.
    for (const lead of [
      Buffer.from(' '.repeat(2000)),
      Buffer.concat([Buffer.from(' '.repeat(1023)), Buffer.from('\u00a0\n', 'utf8')]),
      Buffer.from('\ufeff\n  ', 'utf8'),
    ]) {
      const bytes = Buffer.concat([lead, json]);
      const given = await wrapMessage(bytes, { ...stamp, resource });
      assert.equal(given.envelope.binaryContent.mimeType, 'application/fhir+json');
      // The no-break space is whitespace to FHIR's first-character test, not to JSON.parse: alone, it is refused.
      if (!lead.includes(0xa0)) assert.equal(given.xml, (await wrapMessage(bytes, stamp)).xml);
    }
    // Not JSON past the first KiB: refused as from the bytes alone.
    const notJson = Buffer.concat([Buffer.from(' '.repeat(1500)), Buffer.from('hello')]);
    await assert.rejects(wrapMessage(notJson, { ...stamp, resource }), /neither FHIR JSON nor FHIR XML/);
    await assert.rejects(wrapMessage(notJson, stamp), /neither FHIR JSON nor FHIR XML/);
  });

  it('wraps FHIR XML with mimeType application/fhir+xml', async () => {
    const xml = readFileSync(join(SBDH, 'examples/ehmiMessage_401cbc36_HCO_bundle.xml'));
    const env = parse(await wrap(xml));
    assert.equal(env.binaryContent.mimeType, 'application/fhir+xml');
    assert.equal(scopeValue(env, 'MESSAGEIDENTIFIER'), '489de4f2-0d8d-4de2-a7ce-ccb93568799f');
    assert.deepEqual(payloadOf(env), xml);
  });

  it('produces IG-XSD-valid envelopes for every HomeCareObservation and acknowledgement example', async () => {
    const xmls = await Promise.all([...hcoBundles, ...ackBundles].map((f) => wrap(readFileSync(f))));
    const results = await validateMany(xmls.map((xml) => ({ xml })));
    for (const [i, r] of results.entries()) {
      assert.equal(r.valid, true, `${[...hcoBundles, ...ackBundles][i]}: ${JSON.stringify(r.errors)}`);
      assert.deepEqual(r.warnings, []);
      assert.match(r.schema ?? '', /ehmiSBDH 2\.0\.1/);
    }
  });

  it('is accepted by an independent xmllint with the IG XSDs', async (t) => {
    const xml = await wrap(readFileSync(join(HCO, 'Bundle-ReceiveTestExample3.json')));
    const r = xmllint(xml, IG_XSD);
    if (!r) return t.skip('xmllint (libxml2-utils) is not installed');
    assert.equal(r.ok, true, r.output);
  });
});

describe('wrap: bad input gives a specific error naming the element', () => {
  const code = async (input: Parameters<typeof wrap>[0]): Promise<EhmiError> => {
    try {
      await wrap(input);
    } catch (err) {
      assert.ok(err instanceof EhmiError, String(err));
      return err;
    }
    assert.fail('no error');
  };

  it('rejects a Bundle whose MessageHeader is not the first entry (medcom-messaging-1)', async () => {
    const bundle = json(join(HCO, 'Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json')) as {
      entry: unknown[];
    };
    bundle.entry.push(bundle.entry.shift());
    const err = await code(bundle);
    assert.equal(err.code, 'EHMI_VALIDATION_FAILED');
    assert.deepEqual(err.expression, ['Bundle.entry[0].resource']);
  });

  it('rejects malformed JSON', async () => {
    assert.equal((await code('{"resourceType": "Bundle", ')).code, 'EHMI_VALIDATION_FAILED');
  });

  it('rejects FHIR XML with a DOCTYPE', async () => {
    const err = await code(
      '<?xml version="1.0"?><!DOCTYPE b [<!ENTITY x "y">]><Bundle xmlns="http://hl7.org/fhir"/>',
    );
    assert.equal(err.code, 'EHMI_XML_DOCTYPE_FORBIDDEN');
  });

  it('wraps ISO-8859-1 FHIR XML as written, with BinaryContent@encoding ISO-8859-1', async () => {
    // Characters outside Latin-1 become character references, as an ISO-8859-1 writer does.
    const text = jsonToXml(json(join(HCO, 'Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json'))).replace(
      /[^\t\n\r\u0020-\u00ff]/gu,
      (c) => `&#${c.codePointAt(0)};`,
    );
    const xml = Buffer.from(`<?xml version="1.0" encoding="ISO-8859-1"?>\n<!-- Ærø -->${text}`, 'latin1');
    const out = await wrap(xml);
    const env = parse(out);
    assert.equal(env.binaryContent.encoding, 'ISO-8859-1');
    assert.deepEqual(payloadOf(env), xml);
    assert.equal((await validate(out)).valid, true);
  });

  it('rejects malformed FHIR XML with one message naming the elements', async () => {
    const err = await code('<Bundle xmlns="http://hl7.org/fhir"><id value="x"/></Bundl>');
    assert.equal(err.code, 'EHMI_XML_MALFORMED');
    assert.match(err.message, /Bundle/);
    assert.doesNotMatch(err.message, /caused EhmiError/);
  });

  it('rejects XML outside the FHIR namespace, naming the root', async () => {
    const err = await code('<Bundle xmlns="urn:not-fhir"/>');
    assert.equal(err.code, 'EHMI_XML_SCHEMA_INVALID');
    assert.deepEqual(err.expression, ['Bundle']);
  });

  it('rejects a sender without a GLN, naming the identifier', async () => {
    const bundle = json(join(HCO, 'Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json')) as {
      entry: { resource: { id: string; identifier?: { system: string }[] } }[];
    };
    const sender = bundle.entry.find(
      (e) => e.resource.id === 'a0330c62-fe29-4719-83fa-a94959084f29',
    )!.resource;
    sender.identifier = sender.identifier!.filter((i) => i.system !== 'https://www.gs1.org/gln');
    const err = await code(bundle);
    assert.match(
      err.expression[0]!,
      /^MessageHeader\.sender\.resolve\(\)\.identifier\.where\(system='https:\/\/www\.gs1\.org\/gln'\)/,
    );
  });

  it('rejects a HomeCareObservation without a Patient (PATIENTID is required)', async () => {
    const bundle = json(join(HCO, 'Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json')) as {
      entry: { resource: { resourceType: string } }[];
    };
    bundle.entry = bundle.entry.filter((e) => e.resource.resourceType !== 'Patient');
    assert.deepEqual((await code(bundle)).expression, ['Bundle.entry.resource.ofType(Patient)']);
  });

  it('rejects a message without a version when none is known', async () => {
    const err = await code(
      readFileSync(join(HCO, '../medcom-messaging-4.0.1/Bundle-eb26be85-fdb7-454d-a980-95cba6d1745b.json')),
    );
    assert.deepEqual(err.expression, ['MessageHeader.definition']);
  });

  it('returns the typed envelope with the facts it mapped', async () => {
    const r = await wrapMessage(readFileSync(join(HCO, 'Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json')));
    assert.equal(r.facts.senderSor, scopeValue(r.envelope, 'SENDERID'));
  });
});
