import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import { type SchemaSet, validateXsd } from '@ehmi/xml';
import {
  buildServiceGroup,
  buildServiceMetadata,
  buildSignedServiceMetadata,
  documentId,
  parseServiceGroup,
  parseServiceMetadata,
  participantId,
  type SmpFlavour,
} from '../../src/index.ts';
import { FIXTURES } from '../helpers/fixtures.ts';
import { HCO_CURRENT, HCO_LEGACY, RECEIVER, sampleMetadata } from '../helpers/model.ts';
import { type TestPki, testPki } from '../helpers/pki.ts';

// The OASIS schema imports XML-DSig without a schemaLocation; name the file so libxml2 can load it (in memory).
const SCHEMAS: SchemaSet = {
  entry: 'bdx-smp-201605.xsd',
  files: [
    {
      fileName: 'bdx-smp-201605.xsd',
      contents: readFileSync(`${FIXTURES}smp/xsd/bdx-smp-201605.xsd`, 'utf8').replace(
        '<xs:import namespace="http://www.w3.org/2000/09/xmldsig#" />',
        '<xs:import namespace="http://www.w3.org/2000/09/xmldsig#" schemaLocation="xmldsig-core-schema.xsd"/>',
      ),
    },
    {
      fileName: 'xmldsig-core-schema.xsd',
      contents: readFileSync(`${FIXTURES}as4/xsd/xmldsig-core-schema.xsd`, 'utf8'),
    },
  ],
};

let pki: TestPki;
before(async () => {
  pki = await testPki();
});

describe('buildServiceMetadata', () => {
  for (const flavour of ['oasis-bdxr-1', 'peppol'] as SmpFlavour[]) {
    it(`round-trips through parseServiceMetadata (${flavour})`, () => {
      const model = sampleMetadata(pki.ap.certificate.raw, { flavour });
      const back = parseServiceMetadata(buildServiceMetadata(model));
      assert.equal(back.flavour, flavour);
      const a = model.serviceInformation!;
      const b = back.serviceInformation!;
      assert.ok(b.participant.equals(a.participant));
      assert.ok(b.documentType.equals(a.documentType));
      assert.deepEqual(b.processes[0]!.endpoints[0], a.processes[0]!.endpoints[0]);
    });
  }

  it('writes OASIS BDXR SMP 1.0 that the schema accepts, signed and unsigned', async () => {
    const model = sampleMetadata(pki.ap.certificate.raw);
    const signed = buildSignedServiceMetadata(model, { key: pki.smp.key, certificate: pki.smp.certificate });
    const results = await validateXsd([buildServiceMetadata(model), signed], SCHEMAS);
    for (const r of results) assert.ok(r.valid, JSON.stringify(r.issues));
  });

  it('is checked by a schema run that does refuse a broken document (no Certificate)', async () => {
    const xml = buildServiceMetadata(sampleMetadata(pki.ap.certificate.raw)).replace(
      /<Certificate>[^<]*<\/Certificate>/,
      '',
    );
    const [r] = await validateXsd([xml], SCHEMAS);
    assert.equal(r!.valid, false);
  });

  it('refuses a ServiceInformation without endpoints', () => {
    const model = sampleMetadata(pki.ap.certificate.raw);
    model.serviceInformation!.processes[0]!.endpoints = [];
    assert.throws(() => buildServiceMetadata(model), /at least one process/);
  });
});

describe('buildServiceGroup', () => {
  it('writes percent-encoded references under the base URL that parse back to the document types', () => {
    const xml = buildServiceGroup(
      {
        participant: participantId(RECEIVER),
        references: [{ documentType: documentId(HCO_CURRENT) }, { documentType: documentId(HCO_LEGACY) }],
      },
      { baseUrl: 'https://smp.ehmi.test/' },
    );
    const group = parseServiceGroup(xml);
    assert.equal(
      group.references[0]!.href,
      `https://smp.ehmi.test/iso6523-actorid-upis%3A%3A0088%3A5790000121526/services/${documentId(HCO_CURRENT).toUrlPath()}`,
    );
    assert.ok(group.references[0]!.documentType!.equals(documentId(HCO_CURRENT)));
    assert.ok(group.references[1]!.documentType!.equals(documentId(HCO_LEGACY)));
  });

  it('writes a ServiceGroup the OASIS schema accepts', async () => {
    const xml = buildServiceGroup({
      participant: participantId(RECEIVER),
      references: [{ href: 'https://smp.ehmi.test/x/services/y' }],
    });
    const [r] = await validateXsd([xml], SCHEMAS);
    assert.ok(r!.valid, JSON.stringify(r!.issues));
  });

  it('writes the Peppol flavour with ids:ParticipantIdentifier', () => {
    const xml = buildServiceGroup({
      flavour: 'peppol',
      participant: participantId(RECEIVER),
      references: [],
    });
    assert.match(xml, /<ids:ParticipantIdentifier scheme="iso6523-actorid-upis">0088:5790000121526</);
    assert.equal(parseServiceGroup(xml).flavour, 'peppol');
  });

  it('needs baseUrl for references given as document types', () => {
    assert.throws(
      () =>
        buildServiceGroup({
          participant: participantId(RECEIVER),
          references: [{ documentType: documentId(HCO_CURRENT) }],
        }),
      /baseUrl/,
    );
  });
});
