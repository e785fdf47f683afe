import { EhmiError } from '@ehmi/errors';
import { shippedValidator } from '@ehmi/fhir';
import { HCO_DOCUMENT_REFERENCE_PROFILE, XDS_EXTENSION } from '@ehmi/sbdh';

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
const list = (v: unknown): Json[] => (Array.isArray(v) ? v.map(obj).filter((x): x is Json => !!x) : []);
const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** The CPR system (`urn:oid:1.2.208.176.1.2`) and SOR (`urn:oid:1.2.208.176.1.1`). */
export const CPR_SYSTEM = 'urn:oid:1.2.208.176.1.2';
export const SOR_SYSTEM = 'urn:oid:1.2.208.176.1.1';

/** What the archive indexes of a DocumentReference (the FHIR search parameters it offers). */
export interface DocumentFacts {
  id: string;
  patientCpr: string;
  type: { system: string; code: string };
  /** DocumentReference.date, else the attachment's creation (XDS creationTime). */
  date: number;
  authorSor: string;
  status: string;
  contentType: string;
}

/**
 * Earlier canonicals of the two extensions MedComCoreDocumentReference requires, as MedCom's own published examples
 * still carry them (the XDS documents IG example and the ehmiSBDH IG's XDS copy use the IHE XDS metadata IG's, the
 * ehmiSBDH IG's DocumentReference sample the first core document IG's and the R5 `DocumentReference.version`). The
 * archive reads them as the profile's extensions, so their values are checked by its rules (the version the profile
 * fixes, the homeCommunityId value set); any other extension stays what it is.
 */
export const XDS_EXTENSION_ALIASES: Readonly<Record<string, string>> = {
  'https://medcomfhir.dk/ig/ihexdsmetadata/StructureDefinition/medcom-xds-homecommunityid-extension':
    XDS_EXTENSION.homeCommunityId,
  'http://medcomfhir.dk/ig/document/StructureDefinition/medcom-document-homecommunityid-extension':
    XDS_EXTENSION.homeCommunityId,
  'https://medcomfhir.dk/ig/ihexdsmetadata/StructureDefinition/medcom-xds-version-id-extension':
    XDS_EXTENSION.versionId,
  'http://hl7.org/fhir/5.0/StructureDefinition/extension-DocumentReference.version': XDS_EXTENSION.versionId,
};

/** The DocumentReference as the profile is checked on: its extensions under their current canonicals. */
function withCurrentExtensions(docRef: Json): Json {
  if (!Array.isArray(docRef.extension)) return docRef;
  return {
    ...docRef,
    extension: docRef.extension.map((e: unknown) => {
      const x = obj(e);
      const url = text(x?.url);
      const current = url ? XDS_EXTENSION_ALIASES[url] : undefined;
      return current ? { ...x, url: current } : e;
    }),
  };
}

/**
 * Validates a DocumentReference against the MedCom XDS DocumentReference of a prøvesvar copy
 * (HomeCareObservationDocumentReference → MedComMessageDocumentReference → MedComCoreDocumentReference, shipped in
 * `@ehmi/fhir`) and every other profile it claims, with the R4 base. Returns the validator's outcome.
 *
 * @example
 * const outcome = validateXdsDocumentReference(JSON.parse(scopeValue(envelope, 'XDS-METADATA')!));
 */
export function validateXdsDocumentReference(value: unknown) {
  const docRef = obj(value);
  if (!docRef) return shippedValidator().validate(value);
  const meta = obj(docRef.meta)?.profile;
  const claimed = (Array.isArray(meta) ? meta : []).filter((p): p is string => typeof p === 'string');
  const profiles = [...new Set([HCO_DOCUMENT_REFERENCE_PROFILE, ...claimed])];
  return shippedValidator().validate(withCurrentExtensions(docRef), { profile: profiles });
}

/** A reference's target: a contained resource (`#id`) of the DocumentReference. */
function resolve(docRef: Json, reference: unknown): Json | undefined {
  const ref = text(obj(reference)?.reference);
  if (!ref?.startsWith('#')) return undefined;
  return list(docRef.contained).find((c) => c.id === ref.slice(1));
}

function identifierOf(resource: Json | undefined, system: string): string | undefined {
  return text(list(resource?.identifier).find((i) => i.system === system)?.value);
}

/**
 * Check a copy's DocumentReference as the archive needs it and read what it indexes. First the project's FHIR
 * validator against the MedCom XDS DocumentReference profile of a prøvesvar ({@link validateXdsDocumentReference}),
 * then what the archive searches on: the patient by CPR (contained, `subject`), the
 * author organisation by SOR (contained, `author`), `type`, `status`, `masterIdentifier` (the document's uniqueId)
 * and one attachment with its content type. Any failure is `EHMI_VALIDATION_FAILED` naming every finding.
 */
export function readDocumentReference(value: unknown): DocumentFacts {
  const outcome = validateXdsDocumentReference(value);
  const errors = outcome.issue.filter((i) => i.severity === 'error' || i.severity === 'fatal');
  const problems: { expression: string; message: string }[] = errors.map((i) => ({
    expression: i.expression?.[0] ?? 'DocumentReference',
    message: i.diagnostics ?? 'invalid',
  }));
  const docRef = obj(value) ?? {};
  const need = (ok: boolean, expression: string, message: string) => {
    if (!ok) problems.push({ expression, message });
  };
  need(
    docRef.resourceType === 'DocumentReference',
    'resourceType',
    'XDS-METADATA is not a DocumentReference',
  );
  const id = text(docRef.id);
  need(
    !!id && /^[A-Za-z0-9\-.]{1,64}$/.test(id),
    'DocumentReference.id',
    'an id (the archive serves it by it)',
  );
  const patient = resolve(docRef, docRef.subject);
  const cpr = identifierOf(patient, CPR_SYSTEM);
  need(
    !!cpr && /^\d{10}$/.test(cpr),
    'DocumentReference.subject',
    'the subject must be a contained Patient with a CPR identifier (urn:oid:1.2.208.176.1.2)',
  );
  const author = list(docRef.author)
    .map((a) => resolve(docRef, a))
    .find((r) => r?.resourceType === 'Organization');
  const sor = identifierOf(author, SOR_SYSTEM);
  need(
    !!sor,
    'DocumentReference.author',
    'an author must be a contained Organization with a SOR identifier (urn:oid:1.2.208.176.1.1)',
  );
  const coding = list(obj(docRef.type)?.coding)[0];
  const typeSystem = text(coding?.system);
  const typeCode = text(coding?.code);
  need(
    !!typeSystem && !!typeCode,
    'DocumentReference.type',
    'a type coding with system and code (XDS typeCode)',
  );
  const status = text(docRef.status);
  need(!!status, 'DocumentReference.status', 'a status');
  need(
    !!text(obj(docRef.masterIdentifier)?.value),
    'DocumentReference.masterIdentifier',
    "the document's uniqueId",
  );
  const content = list(docRef.content);
  const attachment = obj(content[0]?.attachment);
  need(content.length === 1 && !!attachment, 'DocumentReference.content', 'one content with an attachment');
  const contentType = text(attachment?.contentType);
  need(!!contentType, 'DocumentReference.content.attachment.contentType', 'the content type of the document');
  const dateText = text(docRef.date) ?? text(attachment?.creation);
  const date = dateText ? Date.parse(dateText) : Number.NaN;
  need(
    Number.isFinite(date),
    'DocumentReference.date',
    'a date or the attachment creation (XDS creationTime), as a FHIR dateTime',
  );
  if (problems.length > 0) {
    const first = problems[0]!;
    throw new EhmiError(
      'EHMI_VALIDATION_FAILED',
      `the DocumentReference of the copy: ${first.expression}: ${first.message}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`,
      { expression: problems.map((p) => p.expression), details: { outcome } },
    );
  }
  return {
    id: id!,
    patientCpr: cpr!,
    type: { system: typeSystem!, code: typeCode! },
    date,
    authorSor: sor!,
    status: status!,
    contentType: contentType!,
  };
}
