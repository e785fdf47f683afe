// validateBuilt (an envelope checked from its model) gives what validate gives for the text serializeEnvelope writes,
// and never accepts what xmllint refuses: compared over the envelopes this package builds, MedCom's examples read
// as models, and models changed one value at a time.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { validateXsd } from '@ehmi/xml';
import {
  type EhmiEnvelope,
  loadEnvelope,
  receiptFor,
  serializeEnvelope,
  validateBuilt,
  validateMany,
  wrap,
  wrapForArchive,
} from '../src/index.ts';
import { schemaSet } from '../src/validate/schemas.ts';
import { exampleBundles, SBDH } from './fixtures.ts';

const bundles = exampleBundles();

const built: { name: string; envelope: EhmiEnvelope }[] = [];
for (const file of bundles) {
  let xml: string;
  try {
    xml = await wrap(readFileSync(file));
  } catch {
    continue; // a Bundle the wrapper refuses is no envelope we build
  }
  const name = file.slice(file.lastIndexOf('/') + 1);
  const model = (x: string) => loadEnvelope(x, name).envelope;
  built.push({ name: `wrap ${name}`, envelope: model(xml) });
  built.push({ name: `receipt ${name}`, envelope: model(receiptFor(xml, { kind: 'acknowledgement' })) });
  built.push({
    name: `exception ${name}`,
    envelope: model(
      receiptFor(xml, { kind: 'exception', category: 'Syntax', reason: 'a <reason> & "quotes" ]]> æøå' }),
    ),
  });
  if (name.includes('401cbc36'))
    built.push({ name: `archive ${name}`, envelope: model(await wrapForArchive(readFileSync(file))) });
}

const examples = ['examples', 'pages'].flatMap((dir) =>
  readdirSync(join(SBDH, dir))
    .filter((f) => f.endsWith('.xml'))
    .flatMap((f) => {
      const xml = readFileSync(join(SBDH, dir, f), 'utf8');
      if (!xml.includes('StandardBusinessDocument')) return [];
      try {
        return [{ name: `${dir}/${f}`, envelope: loadEnvelope(xml, f).envelope }];
      } catch {
        return [];
      }
    }),
);

/** One change to a model; each is applied to every base it applies to. */
type Change = [string, (e: EhmiEnvelope) => unknown];
const scopeOf = (e: EhmiEnvelope, type: string) => e.scopes.find((s) => s.type === type);
const withCi = (e: EhmiEnvelope) => e.scopes.find((s) => s.correlationInformation)?.correlationInformation;
const withBs = (e: EhmiEnvelope) => e.scopes.find((s) => s.businessService)?.businessService;
const CHANGES: Change[] = [
  [
    'profile gs1',
    (e) => {
      e.profile = 'gs1';
    },
  ],
  [
    'HeaderVersion 2.0',
    (e) => {
      e.headerVersion = '2.0';
    },
  ],
  [
    'HeaderVersion spaced',
    (e) => {
      e.headerVersion = ' 1.0';
    },
  ],
  [
    'Authority other',
    (e) => {
      e.sender.authority = 'other';
    },
  ],
  [
    'Sender empty',
    (e) => {
      e.sender.value = '';
    },
  ],
  [
    'Sender spaced',
    (e) => {
      e.sender.value = `${e.sender.value} `;
    },
  ],
  [
    'Receiver without 0088',
    (e) => {
      e.receiver.value = e.receiver.value.replace(/^0088:/, '');
    },
  ],
  [
    'Receiver with CR',
    (e) => {
      e.receiver.value = `${e.receiver.value}\r`;
    },
  ],
  [
    'Receiver with CR inside',
    (e) => {
      e.receiver.value = `a\rb`;
    },
  ],
  [
    'Receiver with a control character',
    (e) => {
      e.receiver.value = `a\u0001b`;
    },
  ],
  [
    'Receiver with a lone surrogate',
    (e) => {
      e.receiver.value = `a\uD800b`;
    },
  ],
  [
    'Receiver with markup',
    (e) => {
      e.receiver.value = `0088:<&>"']]>`;
    },
  ],
  [
    'Standard in capitals',
    (e) => {
      e.documentIdentification.standard = 'HOMECAREOBSERVATION-MESSAGE';
    },
  ],
  [
    'Standard unknown',
    (e) => {
      e.documentIdentification.standard = 'other-message';
    },
  ],
  [
    'TypeVersion empty',
    (e) => {
      e.documentIdentification.typeVersion = '';
    },
  ],
  [
    'TypeVersion other',
    (e) => {
      e.documentIdentification.typeVersion = '9.9';
    },
  ],
  [
    'InstanceIdentifier not a UUID',
    (e) => {
      e.documentIdentification.instanceIdentifier = 'x y';
    },
  ],
  [
    'Type other',
    (e) => {
      e.documentIdentification.type = 'Other';
    },
  ],
  [
    'MultipleType false',
    (e) => {
      e.documentIdentification.multipleType = false;
    },
  ],
  [
    'MultipleType true',
    (e) => {
      e.documentIdentification.multipleType = true;
    },
  ],
  [
    'CreationDateAndTime month 13',
    (e) => {
      e.documentIdentification.creationDateAndTime = '2026-13-01T00:00:00Z';
    },
  ],
  [
    'CreationDateAndTime no zone',
    (e) => {
      e.documentIdentification.creationDateAndTime = '2026-03-01T00:00:00';
    },
  ],
  [
    'CreationDateAndTime spaced',
    (e) => {
      e.documentIdentification.creationDateAndTime = ' 2026-03-01T00:00:00Z';
    },
  ],
  [
    'no scopes',
    (e) => {
      e.scopes = [];
    },
  ],
  [
    'a scope dropped',
    (e) => {
      e.scopes.pop();
    },
  ],
  [
    'a scope twice',
    (e) => {
      e.scopes.push(structuredClone(e.scopes[0]!));
    },
  ],
  [
    'a scope of an unknown type',
    (e) => {
      e.scopes[0]!.type = 'NOT-A-SCOPE';
    },
  ],
  [
    'a scope spelled XDS_METADATA',
    (e) => {
      const s = scopeOf(e, 'XDS-METADATA');
      if (s) s.type = 'XDS_METADATA';
      return s !== undefined;
    },
  ],
  [
    'a scope without Identifier',
    (e) => {
      delete e.scopes[0]!.identifier;
    },
  ],
  [
    'a scope Identifier other',
    (e) => {
      e.scopes[0]!.identifier = 'other';
    },
  ],
  [
    'a scope value empty',
    (e) => {
      e.scopes[0]!.instanceIdentifier = '';
    },
  ],
  [
    'a scope value spaced',
    (e) => {
      e.scopes[0]!.instanceIdentifier = ` ${e.scopes[0]!.instanceIdentifier}`;
    },
  ],
  [
    'PATIENTID changed',
    (e) => {
      const s = scopeOf(e, 'PATIENTID');
      if (s) s.instanceIdentifier = '0101010101';
      return s !== undefined;
    },
  ],
  [
    'XDS-METADATA with ]]>',
    (e) => {
      const s = scopeOf(e, 'XDS-METADATA');
      if (s) s.instanceIdentifier = `${s.instanceIdentifier.slice(0, -1)}, "x": "]]>"}`;
      return s !== undefined;
    },
  ],
  [
    'no ExpectedResponseDateTime',
    (e) => {
      const ci = withCi(e);
      if (ci) delete ci.expectedResponseDateTime;
      return ci !== undefined;
    },
  ],
  [
    'ExpectedResponseDateTime invalid',
    (e) => {
      const ci = withCi(e);
      if (ci) ci.expectedResponseDateTime = 'tomorrow';
      return ci !== undefined;
    },
  ],
  [
    'RequestingDocumentCreationDateTime other',
    (e) => {
      const ci = withCi(e);
      if (ci) ci.requestingDocumentCreationDateTime = '2020-01-01T00:00:00+01:00';
      return ci !== undefined;
    },
  ],
  [
    'BusinessServiceName other',
    (e) => {
      const bs = withBs(e);
      if (bs) bs.businessServiceName = 'Other';
      return bs !== undefined;
    },
  ],
  [
    'TimeToAcknowledgeReceipt 0',
    (e) => {
      const bs = withBs(e);
      if (bs) bs.serviceTransaction.TimeToAcknowledgeReceipt = '0';
      return bs !== undefined;
    },
  ],
  [
    'ServiceTransaction attribute unknown',
    (e) => {
      const bs = withBs(e);
      if (bs) bs.serviceTransaction.Other = 'x';
      return bs !== undefined;
    },
  ],
  [
    'ServiceTransaction attribute dropped',
    (e) => {
      const bs = withBs(e);
      if (bs) delete bs.serviceTransaction.Recurrence;
      return bs !== undefined;
    },
  ],
  [
    'mimeType text/plain',
    (e) => {
      e.binaryContent.mimeType = 'text/plain';
    },
  ],
  [
    'mimeType fhir+xml',
    (e) => {
      e.binaryContent.mimeType = 'application/fhir+xml';
    },
  ],
  [
    'encoding UTF-16',
    (e) => {
      e.binaryContent.encoding = 'UTF-16';
    },
  ],
  [
    'encoding ISO-8859-1',
    (e) => {
      e.binaryContent.encoding = 'ISO-8859-1';
    },
  ],
  [
    'encoding dropped',
    (e) => {
      delete e.binaryContent.encoding;
    },
  ],
  [
    'BinaryContent in the PEPPOL namespace',
    (e) => {
      e.binaryContent.namespace = 'http://peppol.eu/xsd/ticc/envelope/1.0';
    },
  ],
  [
    'base64 empty',
    (e) => {
      e.binaryContent.base64 = '';
    },
  ],
  [
    'base64 in lines',
    (e) => {
      e.binaryContent.base64 = e.binaryContent.base64.replace(/.{1,76}/g, '$&\n');
    },
  ],
  [
    'base64 bad padding bits',
    (e) => {
      e.binaryContent.base64 = e.binaryContent.base64.replace(/[A-Za-z0-9+/]=$/, '/=');
    },
  ],
  [
    'base64 one character short',
    (e) => {
      e.binaryContent.base64 = e.binaryContent.base64.slice(0, -1);
    },
  ],
  [
    'base64 of other bytes',
    (e) => {
      e.binaryContent.base64 = Buffer.from('not the message').toString('base64');
    },
  ],
];

function changed(bases: { name: string; envelope: EhmiEnvelope }[]) {
  const out: { name: string; envelope: EhmiEnvelope }[] = [];
  for (const base of bases) {
    for (const [name, change] of CHANGES) {
      const envelope = structuredClone(base.envelope);
      if (change(envelope) !== false) out.push({ name: `${base.name}: ${name}`, envelope });
    }
  }
  return out;
}

describe('validateBuilt: an envelope we built, checked from its model', () => {
  it('gives the result validate gives for its text, and accepts only what xmllint accepts', async () => {
    const models = [
      ...built,
      ...examples,
      ...changed([...built.slice(0, 6), ...built.slice(-4), ...examples]),
    ];
    const ours = models.map((m) => validateBuilt(structuredClone(m.envelope)));
    const taken = models.flatMap((m, i) => (ours[i] ? [{ ...m, ours: ours[i]! }] : []));
    const texts = taken.map((m) => serializeEnvelope(m.envelope));
    const theirs = await validateMany(texts.map((xml, i) => ({ xml, source: taken[i]!.name })));
    const xsd = await validateXsd(texts, await schemaSet('ehmi'));
    let invalidByRules = 0;
    for (const [i, m] of taken.entries()) {
      const t = theirs[i]!;
      assert.equal(
        xsd[i]!.valid,
        true,
        `${m.name} is taken, but xmllint says ${JSON.stringify(xsd[i]!.issues)}`,
      );
      assert.deepEqual(m.ours.envelope, t.envelope, `${m.name}: the model does not read back as it is`);
      assert.deepEqual(
        { ...m.ours, envelope: undefined },
        { ...t, envelope: undefined },
        `${m.name}: a result other than validate's`,
      );
      if (!m.ours.valid) invalidByRules++;
    }
    for (const b of built) assert.ok(validateBuilt(b.envelope)?.valid, `${b.name} is not taken as valid`);
    assert.ok(built.length >= 20, `only ${built.length} built envelopes`);
    assert.ok(taken.length >= built.length + 50, `only ${taken.length} models taken`);
    assert.ok(invalidByRules >= 10, `only ${invalidByRules} taken models invalid by the IG's rules`);
    assert.ok(
      models.length - taken.length >= 200,
      `only ${models.length - taken.length} models left to the text`,
    );
  });

  it('leaves to the text whatever would not read back unchanged or is outside the schema', () => {
    const left = [
      'profile gs1',
      'HeaderVersion 2.0',
      'HeaderVersion spaced',
      'Authority other',
      'Sender empty',
      'Sender spaced',
      'Receiver with CR',
      'Receiver with CR inside',
      'Receiver with a control character',
      'Receiver with a lone surrogate',
      'Standard in capitals',
      'Standard unknown',
      'TypeVersion empty',
      'MultipleType true',
      'CreationDateAndTime month 13',
      'CreationDateAndTime spaced',
      'a scope of an unknown type',
      'a scope without Identifier',
      'a scope Identifier other',
      'a scope value empty',
      'a scope value spaced',
      'mimeType text/plain',
      'encoding UTF-16',
      'BinaryContent in the PEPPOL namespace',
      'base64 empty',
      'base64 in lines',
      'base64 one character short',
    ];
    const base = built[0]!.envelope;
    for (const [name, change] of CHANGES) {
      if (!left.includes(name)) continue;
      const e = structuredClone(base);
      assert.notEqual(change(e), false, name);
      assert.equal(validateBuilt(e), undefined, `${name} is taken`);
    }
  });
});
