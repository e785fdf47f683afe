import { EhmiError } from '@ehmi/errors';
import { SYSTEM } from '../constants.ts';
import { arr, entries, identifierValue, isObject, type Json, resolveReference, str } from './resolve.ts';

/** A patient identifier for PATIENTID: the CPR, or when the patient has none, the replacement CPR (eCPR). */
export interface PatientId {
  kind: 'cpr' | 'ecpr';
  system: string;
  value: string;
}

/** The facts of a MedCom FHIR message that the ehmiSBDH maps (ehmiSBDH IG "If the MedCom Message is of type FHIR"). */
export interface MedComMessageFacts {
  bundleId: string;
  messageHeaderId: string;
  /** `MessageHeader.eventCoding.code`, the SBDH Standard. */
  eventCode: string;
  /** Version suffix of `MessageHeader.definition`, or the default for the event when it has none. */
  version: string;
  versionSource: 'definition' | 'default';
  senderGln: string;
  receiverGln: string;
  senderSor: string;
  receiverSor: string;
  patient?: PatientId;
  /** `MessageHeader.response.identifier` of an acknowledgement: the acknowledged message's MessageHeader.id. */
  responseIdentifier?: string;
  responseCode?: string;
  timestamp?: string;
  /** `Bundle.meta.profile[0]`. */
  profile?: string;
  /** The Provenance whose target is this message's MessageHeader. */
  provenance?: Json;
  bundle: Json;
}

/**
 * Versions for events whose MessageHeader carries no `definition`: the MedCom Acknowledgement is 2.0
 * (ehmiSBDH IG DOCUMENTID example `…acknowledgement-message::2.0`; MedComAcknowledgementMessageDefinition|2.0).
 */
export const DEFAULT_EVENT_VERSIONS: Readonly<Record<string, string>> = {
  'acknowledgement-message': '2.0',
  // The IG's own HomeCareObservation sample payloads carry no definition; its envelopes for them say 1.2.
  'homecareobservation-message': '1.2',
};

/** Events that carry no patient: no PATIENTID scope. */
export const EVENTS_WITHOUT_PATIENT = new Set(['acknowledgement-message', 'empty-message']);

const ECPR_ARC = 'urn:oid:1.2.208.176.1.6.';

function fail(message: string, expression: string): never {
  throw new EhmiError('EHMI_VALIDATION_FAILED', message, { expression: [expression] });
}

/**
 * Read the mapped facts from a MedCom FHIR message (a `Bundle` of type `message` as JSON). Every missing or
 * misplaced element is an `EHMI_VALIDATION_FAILED` error naming the element as a FHIRPath expression.
 *
 * @example
 * const facts = readMessageFacts(JSON.parse(text));
 * facts.senderGln; // '5790000123117'
 */
export function readMessageFacts(bundle: unknown, defaultVersion?: string): MedComMessageFacts {
  if (!isObject(bundle) || bundle.resourceType !== 'Bundle') {
    fail('the message is not a FHIR Bundle', 'Bundle');
  }
  if (bundle.type !== 'message')
    fail(`Bundle.type is '${String(bundle.type)}', not 'message'`, 'Bundle.type');
  const bundleId = str(bundle.id) ?? fail('Bundle.id is missing', 'Bundle.id');
  const first = arr(bundle.entry)[0];
  const header = isObject(first) && isObject(first.resource) ? first.resource : undefined;
  // medcom-messaging-1: "entry[0].resource.conformsTo(…medcom-messaging-messageHeader)": the MessageHeader is first.
  if (header?.resourceType !== 'MessageHeader') {
    const found = entries(bundle).find((e) => e.resource.resourceType === 'MessageHeader');
    fail(
      found
        ? `the MessageHeader is entry ${found.index}, not the first entry (medcom-messaging-1)`
        : 'the Bundle has no MessageHeader as its first entry (medcom-messaging-1)',
      'Bundle.entry[0].resource',
    );
  }
  const messageHeaderId =
    str(header.id) ?? fail('MessageHeader.id is missing', 'Bundle.entry[0].resource.id');
  const eventCode =
    (isObject(header.eventCoding) ? str(header.eventCoding.code) : undefined) ??
    fail('MessageHeader.eventCoding.code is missing', 'MessageHeader.eventCoding.code');

  const definition = str(header.definition);
  const suffix = definition?.includes('|')
    ? str(definition.slice(definition.lastIndexOf('|') + 1))
    : undefined;
  const fallback = defaultVersion ?? DEFAULT_EVENT_VERSIONS[eventCode];
  const version =
    suffix ??
    fallback ??
    fail(
      `MessageHeader.definition has no version suffix ('…|<version>') and ${eventCode} has no default version: give the TypeVersion explicitly`,
      'MessageHeader.definition',
    );

  const sender = resolveReference(bundle, header.sender);
  if (!sender)
    fail('MessageHeader.sender does not resolve to an entry of the Bundle', 'MessageHeader.sender');
  const destination = primaryDestination(header);
  const receiver = destination ? resolveReference(bundle, destination.receiver) : undefined;
  if (!receiver) {
    fail(
      'MessageHeader.destination.receiver does not resolve to an entry of the Bundle',
      'MessageHeader.destination.receiver',
    );
  }
  const org = (o: Json, system: string, role: string, path: string): string =>
    identifierValue(o, system) ??
    fail(
      `the ${role} organisation has no identifier with system ${system}`,
      `${path}.resolve().identifier.where(system='${system}').value`,
    );

  const facts: MedComMessageFacts = {
    bundleId,
    messageHeaderId,
    eventCode,
    version,
    versionSource: suffix ? 'definition' : 'default',
    senderGln: org(sender, SYSTEM.gln, 'sender', 'MessageHeader.sender'),
    receiverGln: org(receiver, SYSTEM.gln, 'receiver', 'MessageHeader.destination.receiver'),
    senderSor: org(sender, SYSTEM.sor, 'sender', 'MessageHeader.sender'),
    receiverSor: org(receiver, SYSTEM.sor, 'receiver', 'MessageHeader.destination.receiver'),
    bundle,
  };
  const patient = readPatient(bundle, eventCode);
  if (patient) facts.patient = patient;
  if (isObject(header.response)) {
    const id = str(header.response.identifier);
    if (id) facts.responseIdentifier = id;
    const code = str(header.response.code);
    if (code) facts.responseCode = code;
  }
  const timestamp = str(bundle.timestamp);
  if (timestamp) facts.timestamp = timestamp;
  const profile = isObject(bundle.meta) ? str(arr(bundle.meta.profile)[0]) : undefined;
  if (profile) facts.profile = profile;
  const provenance = entries(bundle).find(
    (e) =>
      e.resource.resourceType === 'Provenance' &&
      arr(e.resource.target).some((t) => resolveReference(bundle, t) === header),
  );
  if (provenance) facts.provenance = provenance.resource;
  return facts;
}

/** `destination[primary]` (by the destinationUse extension), else the only destination. */
function primaryDestination(header: Json): Json | undefined {
  const all = arr(header.destination).filter(isObject);
  const primary = all.find((d) =>
    arr(d.extension).some((x) => isObject(x) && isObject(x.valueCoding) && x.valueCoding.code === 'primary'),
  );
  return primary ?? all[0];
}

/**
 * PATIENTID: "Bundle.entry.resource.ofType(Patient).identifier.where(system='urn:oid:1.2.208.176.1.2').value".
 * A patient known only by a replacement CPR (eCPR, `urn:oid:1.2.208.176.1.6.1.1`) is wrapped with the eCPR
 * (DESIGN-NOTES.md "ehmiSBDH"): EDS and the document archive still need to find the patient.
 */
function readPatient(bundle: Json, eventCode: string): PatientId | undefined {
  const patients = entries(bundle).filter((e) => e.resource.resourceType === 'Patient');
  if (patients.length === 0) {
    if (EVENTS_WITHOUT_PATIENT.has(eventCode)) return undefined;
    fail(
      `a ${eventCode} needs a Patient for PATIENTID, and the Bundle has none`,
      'Bundle.entry.resource.ofType(Patient)',
    );
  }
  for (const p of patients) {
    const cpr = identifierValue(p.resource, SYSTEM.cpr);
    if (cpr) return { kind: 'cpr', system: SYSTEM.cpr, value: cpr };
  }
  for (const p of patients) {
    const ecpr = identifierValue(p.resource, SYSTEM.ecpr);
    if (ecpr) return { kind: 'ecpr', system: SYSTEM.ecpr, value: ecpr };
  }
  // Other replacement-CPR systems under the same arc (urn:oid:1.2.208.176.1.6.*, issued per region/municipality).
  for (const p of patients) {
    for (const id of arr(p.resource.identifier)) {
      const system = isObject(id) ? str(id.system) : undefined;
      const value = isObject(id) ? str(id.value) : undefined;
      if (system?.startsWith(ECPR_ARC) && value) return { kind: 'ecpr', system, value };
    }
  }
  return fail(
    `the Patient has neither a CPR (${SYSTEM.cpr}) nor a replacement CPR (${SYSTEM.ecpr})`,
    `Bundle.entry.resource.ofType(Patient).identifier.where(system='${SYSTEM.cpr}').value`,
  );
}
