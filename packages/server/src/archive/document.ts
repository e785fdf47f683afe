import { EhmiError } from '@ehmi/errors';
import { shippedValidator } from '@ehmi/fhir';

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
 * validator (`@ehmi/fhir`: R4 DocumentReference and every profile it has; the MedCom XDS DocumentReference profile
 * itself is not published as a package, so its claim is a warning there), then what the MedCom HomeCareObservation
 * DocumentReference makes mandatory and the archive searches on: the patient by CPR (contained, `subject`), the
 * author organisation by SOR (contained, `author`), `type`, `status`, `masterIdentifier` (the document's uniqueId)
 * and one attachment with its content type. Any failure is `EHMI_VALIDATION_FAILED` naming every finding.
 */
export function readDocumentReference(value: unknown): DocumentFacts {
  const outcome = shippedValidator().validate(value);
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
