// The archive role (the document archive, EMR/DDS, ehmi-core §1.3) on its own: the copies its access point hands it
// (an ehmiSBDH with XDS-METADATA) are validated and stored with their DocumentReference, and served over FHIR
// (DocumentReference search and read, Binary read). Both engines. Access tokens: packages/cli/test/pilot.test.ts.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import {
  HCO_DOCUMENT_REFERENCE_PROFILE,
  parse,
  scopeValue,
  wrapMessage,
  wrapMessageForArchive,
  XDS_EXTENSION,
} from '@ehmi/sbdh';
import pino from 'pino';
import { fetch } from 'undici';
import { archiveViewer } from '../../src/archive/access.ts';
import { readDocumentReference, validateXdsDocumentReference } from '../../src/archive/document.ts';
import { type ArchiveRole, createArchiveRole } from '../../src/archive/index.ts';
import { archiveRole } from '../../src/archive/role.ts';
import type { AccessClaims } from '../../src/authz.ts';
import type { InboundEnvelope } from '../../src/contract.ts';
import { roleContext } from '../../src/node.ts';
import { loadConfig } from '../../src/role-list.ts';
import { JobQueue } from '../../src/store/index.ts';
import { engines, type TestStore } from '../helpers/engines.ts';
import { FIXTURES } from '../helpers/fixtures.ts';

const HCO_DIR = `${FIXTURES}fhir/examples/medcom-homecareobservation-1.2.1/`;
const HCO_A = readFileSync(`${HCO_DIR}Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json`, 'utf8');
const HCO_B = readFileSync(`${HCO_DIR}Bundle-5f341feb-9a20-463a-96cc-a9ca8ace5567.json`, 'utf8');
const IG_DOCREF = `${FIXTURES}ehmi-sbdh/docref/DocumentReference-77787891-083a-4d19-9e56-423e7a223e30.json`;
/** The XDS documents IG's own example of its profile (SUSHI output, fixtures/SOURCES-xds-documents.md). */
const XDS_IG_DOCREF = `${FIXTURES}xds-documents/examples/DocumentReference-77787891-083a-4d19-9e56-423e7a223e30.json`;
/** The ehmiSBDH IG's copy to document sharing, its DocumentReference in XDS-METADATA. */
const IG_XDS_COPY = `${FIXTURES}ehmi-sbdh/pages/TestExampleXDSEmbeddedHCO.xml`;
/** An older sample of the ehmiSBDH IG, for the IHE XDS metadata IG's profile of the same name (LOINC type). */
const OLD_DOCREF = `${FIXTURES}ehmi-sbdh/docref/DocumentReference-instanceHomeCareObservationDocumentReference.json`;
/** The patient of both examples, and another one (the same message about someone else). */
const CPR = '2509479989';
const OTHER = '0101701234';
const ARCHIVE_GLN = '5790000000012';
const ARCHIVE = `0088:${ARCHIVE_GLN}`;
const CPR_SYSTEM = 'urn:oid:1.2.208.176.1.2';
const SENDER_SOR = '1144561000016002';
type Json = Record<string, unknown>;

let serial = 0;
function inbound(xml: string): InboundEnvelope {
  const bytes = Buffer.from(xml);
  serial += 1;
  return {
    as4MessageId: `as4-${serial}@test`,
    sender: '0088:5790000123117',
    receiver: ARCHIVE,
    process: 'urn:ehmi:sdn-emergence',
    documentType: 'doc',
    receivedAt: Date.now(),
    envelope: { size: bytes.byteLength, open: () => Readable.from([bytes]) },
  };
}

/** A copy of `message` for the archive, about `cpr`, with a new Bundle and MessageHeader id. */
async function copyOf(message: string, cpr = CPR) {
  const id = () => crypto.randomUUID();
  const m = JSON.parse(message.replaceAll(CPR, cpr)) as Json;
  m.id = id();
  ((m.entry as Json[])[0]!.resource as Json).id = id();
  // MedCom's examples name the patient by family name only; the XDS DocumentReference's contained patient
  // (medcom-core-document-patient) needs a given name too: the one the sample prøvesvar gives him.
  const patient = (m.entry as Json[])
    .map((e) => e.resource as Json)
    .find((r) => r.resourceType === 'Patient')!;
  for (const n of patient.name as Json[]) n.given ??= ['Bruno'];
  const bytes = JSON.stringify(m);
  const copy = await wrapMessageForArchive(bytes, { archiveReceiver: ARCHIVE, archiveReceiverSor: '1' });
  return { xml: copy.xml, bytes, messageHeaderId: copy.facts.messageHeaderId };
}

for (const engine of engines()) {
  describe(`archive role (${engine.name})`, { skip: engine.skip }, () => {
    let ts: TestStore;
    let role: ArchiveRole;
    const get = async (path: string, headers: Record<string, string> = {}) => {
      const res = await fetch(`${role.url}${path}`, { headers });
      const text = await res.text();
      let body: Json = {};
      try {
        body = JSON.parse(text) as Json;
      } catch {}
      return { status: res.status, body, text, type: res.headers.get('content-type') ?? '' };
    };
    const search = async (query: string) => {
      const r = await get(`/DocumentReference?${query}`);
      assert.equal(r.status, 200, r.text);
      return r.body as {
        total: number;
        entry?: { resource: Json }[];
        link: { relation: string; url: string }[];
      };
    };
    const archived: { id: string; bytes: string; messageHeaderId: string }[] = [];
    const deliver = async (message: string, cpr = CPR) => {
      const copy = await copyOf(message, cpr);
      await role.backend.deliver(inbound(copy.xml));
      const found = await search(`_count=1000`);
      const id = found.entry
        ?.map((e) => e.resource)
        .find((r) => (r.masterIdentifier as Json).value === `urn:uuid:${copy.messageHeaderId}`)?.id;
      return { ...copy, id: id as string | undefined };
    };

    before(async () => {
      ts = await engine.open();
      const config = loadConfig({
        env: {},
        overrides: {
          insecure: true,
          dataDir: ts.dataDir,
          organisation: { name: 'archive', gln: ARCHIVE_GLN, sor: '1' },
          archive: {
            enabled: true,
            port: 0,
            search: { defaultCount: 50, maxCount: 100 },
            maxEnvelopeBytes: 1_000_000,
          },
        },
      });
      const queue = new JobQueue(ts.store, {
        leaseMs: 30_000,
        maxAttempts: 3,
        backoffBaseMs: 10,
        backoffMaxMs: 10,
      });
      role = await createArchiveRole(
        roleContext(archiveRole, { config, store: ts.store, queue, logger: pino({ level: 'silent' }) }),
      );
      await role.start();
      for (const [message, cpr] of [
        [HCO_A, CPR],
        [HCO_B, CPR],
        [HCO_A, OTHER],
      ] as const) {
        const d = await deliver(message, cpr);
        assert.ok(d.id, 'the copy was archived');
        archived.push({ id: d.id, bytes: d.bytes, messageHeaderId: d.messageHeaderId });
      }
    });
    after(async () => {
      await role?.close();
      await ts?.cleanup();
    });

    it('finds a patient’s documents by CPR, newest first, with the DocumentReference as the copy carried it', async () => {
      const b = await search(`patient:identifier=${CPR_SYSTEM}|${CPR}`);
      assert.equal(b.total, 2);
      const [first, second] = b.entry!.map((e) => e.resource);
      // HCO_A's attachment was created 2023-09-13, HCO_B's 2023-09-12.
      assert.equal(first!.id, archived[0]!.id);
      assert.equal(second!.id, archived[1]!.id);
      assert.deepEqual(first!.meta && (first!.meta as Json).profile, [
        'https://medcomfhir.dk/ig/xdsdocuments/StructureDefinition/homecare-observation-documentreference',
      ]);
      const attachment = ((first!.content as Json[])[0]!.attachment as Json) ?? {};
      assert.equal(attachment.url, `${role.url}/Binary/${archived[0]!.id}`);
      assert.equal((await search(`patient:identifier=${OTHER}`)).total, 1);
      assert.equal((await search(`patient:identifier=0000000000`)).total, 0);
    });

    it('reads the document itself: its octets in its content type, or as a Binary resource', async () => {
      const raw = await get(`/Binary/${archived[0]!.id}`);
      assert.equal(raw.status, 200);
      assert.match(raw.type, /^application\/fhir\+json/);
      assert.equal(raw.text, archived[0]!.bytes);
      const resource = await get(`/Binary/${archived[0]!.id}`, { accept: 'application/fhir+json' });
      assert.equal(resource.body.resourceType, 'Binary');
      assert.equal(Buffer.from(String(resource.body.data), 'base64').toString(), archived[0]!.bytes);
      assert.equal((await get('/Binary/unknown-id')).status, 404);
      const read = await get(`/DocumentReference/${archived[1]!.id}`);
      assert.equal(read.status, 200);
      assert.equal(read.body.id, archived[1]!.id);
    });

    it('searches by type, date, author organisation and status, and pages with next links', async () => {
      assert.equal((await search('type=urn:oid:1.2.208.184.100.1|HCOMsg')).total, 3);
      assert.equal((await search('type=HCOMsg')).total, 3);
      assert.equal((await search('type=urn:oid:1.2.208.184.100.1|OTHER')).total, 0);
      assert.equal((await search('date=2023-09-12')).total, 1);
      assert.equal((await search('date=ge2023-09-13&date=lt2023-09-14')).total, 2);
      assert.equal((await search(`author:identifier=urn:oid:1.2.208.176.1.1|${SENDER_SOR}`)).total, 3);
      assert.equal((await search('author:identifier=urn:oid:1.2.208.176.1.1|999')).total, 0);
      assert.equal((await search('status=current')).total, 3);
      assert.equal((await search('status=entered-in-error')).total, 0);
      const page1 = await search('_count=2');
      assert.equal(page1.total, 3);
      assert.equal(page1.entry!.length, 2);
      const next = page1.link.find((l) => l.relation === 'next');
      assert.ok(next, 'a next link');
      const page2 = await get(new URL(next.url).pathname + new URL(next.url).search);
      assert.equal((page2.body.entry as Json[]).length, 1);
      assert.ok(!(page2.body.link as { relation: string }[]).some((l) => l.relation === 'next'));
    });

    it('refuses an unknown search parameter and a malformed CPR with 400 and an OperationOutcome', async () => {
      const unknown = await get('/DocumentReference?patient=123');
      assert.equal(unknown.status, 400);
      assert.equal(unknown.body.resourceType, 'OperationOutcome');
      assert.equal(
        (await get('/DocumentReference?patient:identifier=urn:oid:1.2.208.176.1.1|123')).status,
        400,
      );
      assert.equal((await get('/DocumentReference?date=yesterday')).status, 400);
    });

    it('offers a CapabilityStatement and writes nothing over its API (405)', async () => {
      const cap = await get('/metadata');
      assert.equal(cap.body.resourceType, 'CapabilityStatement');
      const rest = (cap.body.rest as Json[])[0]!;
      const dr = (rest.resource as Json[]).find((r) => r.type === 'DocumentReference')!;
      assert.deepEqual(
        (dr.searchParam as Json[]).map((p) => p.name),
        ['patient', 'type', 'date', 'author', 'status', '_id'],
      );
      const post = await fetch(`${role.url}/DocumentReference`, {
        method: 'POST',
        headers: { 'content-type': 'application/fhir+json' },
        body: '{}',
      });
      assert.equal(post.status, 405);
    });

    it('archives a copy delivered again once', async () => {
      const copy = await copyOf(HCO_B, '0202020202');
      const once = inbound(copy.xml);
      await role.backend.deliver(once);
      await role.backend.deliver(once);
      assert.equal((await search('patient:identifier=0202020202')).total, 1);
    });

    it('refuses, without failing the delivery, a copy over archive.maxEnvelopeBytes', async () => {
      const before = (await search('_count=0')).total;
      const copy = await copyOf(HCO_A, '0404040404');
      const padded = copy.xml.replace(
        '</StandardBusinessDocument>',
        `<!--${'x'.repeat(1_000_000)}--></StandardBusinessDocument>`,
      );
      assert.ok(padded.length > 1_000_000);
      const unsized = inbound(padded);
      await role.backend.deliver({ ...unsized, envelope: { ...unsized.envelope, size: undefined } });
      assert.equal((await search('_count=0')).total, before);
    });

    it('refuses, without failing the delivery, a copy without XDS-METADATA, one for another participant, one whose document is not the one described, one breaking the XDS profile', async () => {
      const before = (await search('_count=0')).total;
      const plain = (await wrapMessage(HCO_A.replaceAll(CPR, '0303030303'), {})).xml;
      await role.backend.deliver(inbound(plain));
      const elsewhere = await wrapMessageForArchive(HCO_A.replaceAll(CPR, '0303030303'), {
        archiveReceiver: '0088:5790000000029',
      });
      await role.backend.deliver(inbound(elsewhere.xml));
      const copy = await copyOf(HCO_A, '0303030303');
      await role.backend.deliver(
        inbound(copy.xml.replace(/(<BinaryContent[^>]*>)[A-Za-z0-9+/]{4}/, '$1AAAA')),
      );
      // A DocumentReference that breaks the XDS profile: MedCom's example names its patient by family name only.
      const unnamed = await wrapMessageForArchive(HCO_A.replaceAll(CPR, '0303030303'), {
        archiveReceiver: ARCHIVE,
      });
      await role.backend.deliver(inbound(unnamed.xml));
      assert.equal((await search('_count=0')).total, before);
    });
  });
}

describe('archive: the DocumentReference a copy must carry', () => {
  const errorsOf = (docRef: unknown) =>
    validateXdsDocumentReference(docRef).issue.filter(
      (i) => i.severity === 'error' || i.severity === 'fatal',
    );
  const igCopy = () => JSON.parse(scopeValue(parse(readFileSync(IG_XDS_COPY)), 'XDS-METADATA')!) as Json;

  it('validates the published examples against the MedCom XDS DocumentReference profile', () => {
    for (const file of [XDS_IG_DOCREF, IG_DOCREF]) {
      assert.deepEqual(errorsOf(JSON.parse(readFileSync(file, 'utf8'))), [], file);
    }
    assert.deepEqual(errorsOf(igCopy()), [], IG_XDS_COPY);
    const facts = readDocumentReference(igCopy());
    assert.deepEqual(facts.type, { system: 'urn:oid:1.2.208.184.100.1', code: 'HCOMsg' });
  });

  it('checks every DocumentReference against the profile, whatever it claims', () => {
    const docRef = JSON.parse(readFileSync(XDS_IG_DOCREF, 'utf8')) as Json;
    delete docRef.meta;
    docRef.securityLabel = [{ coding: [{ code: 'R' }] }];
    const errors = errorsOf(docRef);
    assert.ok(
      errors.some((i) => i.expression?.[0]?.startsWith('DocumentReference.securityLabel')),
      JSON.stringify(errors),
    );
  });

  it('refuses a copy of a published example that breaks a rule of the profile, naming it', () => {
    const cases: [string, (d: Json) => void, string][] = [
      // MedComCoreDocumentReference: extension[homeCommunityid] 1..1
      [
        'no homeCommunityId',
        (d) => {
          d.extension = (d.extension as Json[]).slice(1);
        },
        'DocumentReference.extension',
      ],
      // HomeCareObservationDocumentReference: securityLabel = #N
      [
        'another security label',
        (d) => {
          d.securityLabel = [{ coding: [{ code: 'V' }] }];
        },
        'DocumentReference.securityLabel',
      ],
      // MedComCoreDocumentReference: content.attachment.language 1..
      [
        'no language',
        (d) => void delete ((d.content as Json[])[0]!.attachment as Json).language,
        'DocumentReference.content[0].attachment',
      ],
      // MedComCoreDocumentReference: author[institution] 1..1, only a MedComCoreDocumentOrganization
      [
        'the practitioner as author',
        (d) => {
          d.author = [d.authenticator];
        },
        'DocumentReference.author',
      ],
      // medcom-core-document-patient: birthDate 1..
      [
        'a patient without birth date',
        (d) => void delete (d.contained as Json[]).find((c) => c.resourceType === 'Patient')!.birthDate,
        'DocumentReference.subject',
      ],
    ];
    for (const [what, edit, expression] of cases) {
      const docRef = igCopy();
      edit(docRef);
      assert.throws(
        () => readDocumentReference(docRef),
        (e: Error & { code?: string; expression?: string[] }) =>
          e.code === 'EHMI_VALIDATION_FAILED' &&
          !!e.expression?.some((x) => x.startsWith(expression)) &&
          /the DocumentReference of the copy/.test(e.message),
        what,
      );
    }
  });

  it('refuses the older sample for the IHE XDS metadata IG’s profile: no homeCommunityId, no CPR, no SOR', () => {
    assert.throws(
      () => readDocumentReference(JSON.parse(readFileSync(OLD_DOCREF, 'utf8'))),
      (e: Error & { code?: string; expression?: string[] }) =>
        e.code === 'EHMI_VALIDATION_FAILED' &&
        !!e.expression?.includes('DocumentReference.extension') &&
        !!e.expression?.includes('DocumentReference.subject'),
    );
  });

  it('what the MSH builds for the copy conforms to the profile', async () => {
    const copy = await copyOf(HCO_A);
    const docRef = JSON.parse(scopeValue(parse(copy.xml), 'XDS-METADATA')!) as Json;
    assert.deepEqual(errorsOf(docRef), []);
    assert.deepEqual((docRef.meta as Json).profile, [HCO_DOCUMENT_REFERENCE_PROFILE]);
    assert.deepEqual(
      (docRef.extension as Json[]).map((e) => e.url),
      [XDS_EXTENSION.homeCommunityId, XDS_EXTENSION.versionId],
    );
    const patient = (docRef.contained as Json[]).find((c) => c.resourceType === 'Patient')!;
    // From the CPR number 2509479989: 25 September 1947 (7th digit 9, year 47), odd last digit.
    assert.equal(patient.birthDate, '1947-09-25');
    assert.equal(patient.gender, 'male');
    // MedCom's example names the practitioner by given name only: no authenticator rather than a broken one.
    assert.equal(docRef.authenticator, undefined);
    // The same message with its patient named by family name only cannot make a conforming copy.
    const bare = await wrapMessageForArchive(HCO_A, { archiveReceiver: ARCHIVE });
    assert.ok(
      errorsOf(JSON.parse(scopeValue(parse(bare.xml), 'XDS-METADATA')!)).some((i) =>
        i.expression?.[0]?.includes('name[0].given'),
      ),
    );
  });

  it('takes the MedCom XDS example of the ehmiSBDH IG', () => {
    const facts = readDocumentReference(JSON.parse(readFileSync(IG_DOCREF, 'utf8')));
    assert.equal(facts.patientCpr, '0201919990');
    assert.equal(facts.authorSor, '61741000016007');
    assert.deepEqual(facts.type, { system: 'urn:oid:1.2.208.184.100.1', code: 'HCOM' });
    assert.equal(facts.date, Date.parse('2025-12-18T13:28:17+01:00'));
  });

  it('refuses one without a patient by CPR or an author by SOR, naming each', () => {
    const docRef = JSON.parse(readFileSync(IG_DOCREF, 'utf8')) as Json;
    delete docRef.subject;
    docRef.author = [{ display: 'someone' }];
    assert.throws(
      () => readDocumentReference(docRef),
      (e: Error & { code?: string; expression?: string[] }) =>
        e.code === 'EHMI_VALIDATION_FAILED' &&
        !!e.expression?.includes('DocumentReference.subject') &&
        !!e.expression?.includes('DocumentReference.author'),
    );
  });

  it('refuses one the FHIR validator finds invalid (R4 DocumentReference)', () => {
    const docRef = JSON.parse(readFileSync(IG_DOCREF, 'utf8')) as Json;
    docRef.status = 'archived-forever';
    assert.throws(() => readDocumentReference(docRef), /EHMI_VALIDATION_FAILED|status/);
  });
});

describe('archive: who reads', () => {
  const claims = (over: Partial<AccessClaims>): AccessClaims =>
    ({
      clientId: 'c',
      subject: undefined,
      scopes: new Set(),
      organisation: undefined,
      patient: undefined,
      user: undefined,
      expiresAt: new Date(),
      payload: {},
      ...over,
    }) as AccessClaims;
  it('a person without the patient-data entitlement reads nothing; with it, or a system client, reads', () => {
    assert.throws(
      () => archiveViewer(claims({ user: { subject: 'u', roles: new Set(['network-operator']) } })),
      /patient-data/,
    );
    assert.deepEqual(archiveViewer(claims({ user: { subject: 'u', roles: new Set(['patient-data']) } })), {
      patient: undefined,
    });
    assert.deepEqual(archiveViewer(claims({})), { patient: undefined });
    assert.deepEqual(archiveViewer(claims({ patient: { cpr: CPR } })), { patient: CPR });
  });
});
