import { randomUUID } from 'node:crypto';
import { EhmiError } from '@ehmi/errors';
import {
  type PayloadKind,
  payloadEnvelope,
  readMessageFacts,
  wrapMessage,
  wrapMessageForArchive,
} from '@ehmi/sbdh';
import { isUniqueViolation, type MshCore, patientCprOf } from '../core.ts';
import { type DocumentFamily, messageDefinition } from '../document-types.ts';
import { type BuiltEnvelope, builtEnvelope } from '../envelopes.ts';
import { type FhirFormat, ProfileValidationError, profileErrors, readFhir } from '../fhir-body.ts';
import { findBySubmitKey, findSubmitted, type PatientRestriction } from '../repository.ts';
import type { MshMessagesTable } from '../tables.ts';
import { checkEnvelope, commitMessage, newMessage } from './message.ts';
import { checkReceiver } from './receiver-check.ts';

export interface SubmitResult {
  /** true: an identical earlier submission (answered 200, nothing sent again). */
  existing: boolean;
  row: MshMessagesTable;
}

const PATIENT_CPR =
  "Bundle.entry.resource.ofType(Patient).identifier.where(system='urn:oid:1.2.208.176.1.2')";

/** A token restricted to one patient submits only messages about that patient (nothing is stored otherwise). */
function checkPatient(patientCpr: string | null, patient: string): void {
  if (patientCpr !== patient) {
    throw new EhmiError(
      'EHMI_FORBIDDEN',
      patientCpr === null
        ? 'the access token is restricted to one patient, and this message names no patient by CPR'
        : 'the access token is restricted to one patient, and this message is about another patient',
      { expression: [PATIENT_CPR] },
    );
  }
}

/**
 * EUA API 1: a MedCom FHIR message. Read → (restricted to one patient: about that patient?) → (identical
 * resubmission?) → profile validation → receiver from MessageHeader.destination → ehmiSBDH → envelope blob → one
 * transaction (message, events 01.1/02.1, dispatch job, held archive copy) → 202.
 */
export async function submitFhir(
  core: MshCore,
  body: Buffer,
  format: FhirFormat,
  patient?: PatientRestriction,
): Promise<SubmitResult> {
  const resource = readFhir(body, format);
  if (resource.resourceType !== 'Bundle' || resource.type !== 'message') {
    throw new EhmiError(
      'EHMI_VALIDATION_FAILED',
      'the body is not a FHIR message (a Bundle of type message)',
      {
        expression: ['Bundle.type'],
      },
    );
  }
  if (patient !== undefined) checkPatient(patientCprOf(readMessageFacts(resource)), patient);
  const header = (resource.entry as { resource?: Record<string, unknown> }[] | undefined)?.[0]?.resource;
  const key = `${String(resource.id)}|${String(header?.id)}`;
  const db = core.store.db;
  // "An identical resubmission → 200 with the earlier object": nothing is validated or sent again. The same
  // statement finds a message sent with this MessageHeader.id (another Bundle.id), refused below once the message
  // is known valid and this MSH's to send, as before. Without both ids the message is refused by `wrapMessage`.
  const submitted =
    typeof resource.id === 'string' && typeof header?.id === 'string'
      ? await findSubmitted(db, key, header.id)
      : undefined;
  const earlier = submitted?.bySubmitKey;
  if (earlier) {
    // The earlier one is answered only to a token that may see it.
    if (patient !== undefined) checkPatient(earlier.patient_cpr, patient);
    return { existing: true, row: earlier };
  }

  if (core.config.validateProfiles) {
    const outcome = profileErrors(resource);
    if (outcome) throw new ProfileValidationError(outcome);
  }
  // The exact submitted bytes are the BinaryContent (ehmiSBDH IG: base64 of the message).
  const wrapped = await wrapMessage(body, { resource });
  const facts = wrapped.facts;
  if (facts.eventCode === 'acknowledgement-message') {
    throw new EhmiError(
      'EHMI_NOT_SUPPORTED',
      'acknowledgements are sent with POST /inbox/{id}/$acknowledge, so the MSH can answer duplicates with them',
      { expression: ['MessageHeader.eventCoding'] },
    );
  }
  if (facts.senderGln !== core.organisation.gln) {
    throw new EhmiError(
      'EHMI_FORBIDDEN',
      `MessageHeader.sender is GLN ${facts.senderGln}; this MSH sends for ${core.organisation.gln} only`,
      { expression: ['MessageHeader.sender'] },
    );
  }
  // `facts.messageHeaderId` is the `header.id` looked up above (the same entry's id; `wrapMessage` read it).
  const sameHeader = submitted?.byHeader;
  if (sameHeader) {
    // MR8.R: the receiver would drop it as a duplicate. Resending is explicit (EUA API 5).
    throw new EhmiError(
      'EHMI_CONFLICT',
      `MessageHeader.id ${facts.messageHeaderId} was submitted before as ${sameHeader.id} with another Bundle.id; resend it with POST /messages/${sameHeader.id}/$resend`,
      { expression: ['MessageHeader.id'], details: { id: sameHeader.id } },
    );
  }
  await checkEnvelope(wrapped);
  await checkReceiver(core, wrapped.envelope, 'MessageHeader.destination.receiver');

  let archive: BuiltEnvelope | undefined;
  const arch = core.config.archive;
  if (arch.participant && arch.messageTypes.includes(facts.eventCode)) {
    // ehmi-core §1.3: a second envelope with XDS-METADATA, to the archive's participant.
    const copy = await wrapMessageForArchive(body, {
      archiveReceiver: arch.participant,
      ...(arch.sor ? { archiveReceiverSor: arch.sor } : {}),
    });
    archive = { xml: copy.xml, envelope: copy.envelope };
  }

  const built = { xml: wrapped.xml, envelope: wrapped.envelope };
  const row = newMessage(core, {
    kind: 'fhir',
    built,
    messageHeaderId: facts.messageHeaderId,
    bundleId: facts.bundleId,
    type: facts.eventCode,
    patientCpr: patientCprOf(facts),
    submitKey: key,
    expectsAcknowledgement: true,
  });
  try {
    await commitMessage(core, row, built, {
      submitted: `submitted as ${format === 'xml' ? 'FHIR XML' : 'FHIR JSON'}`,
      ...(archive ? { archive } : {}),
    });
  } catch (err) {
    // Two identical submissions at once (several instances): the unique submit_key lets one win.
    if (isUniqueViolation(err)) {
      const first = await findBySubmitKey(db, key);
      if (first) {
        if (patient !== undefined) checkPatient(first.patient_cpr, patient);
        return { existing: true, row: first };
      }
    }
    throw err;
  }
  return { existing: false, row };
}

export interface PayloadQuery {
  receiver?: string;
  documentType?: string;
  process?: string;
  kind?: string;
  standard?: string;
  typeVersion?: string;
  type?: string;
  patientId?: string;
  messageId?: string;
  receiverSor?: string;
}

const PAYLOAD_KINDS = ['oioxml', 'edifact', 'cda', 'fhir'] as const;

/** The payload kinds a document type's family may carry: CDA is XML, and the code system names no CDA family. */
const KINDS_OF: Readonly<Record<DocumentFamily, readonly string[]>> = {
  fhir: ['fhir'],
  edifact: ['edifact'],
  oioxml: ['oioxml', 'cda'],
  ehmi: [],
};

/**
 * EUA API 2: any payload with explicit metadata (OIOXML, EDIFACT, CDA, other FHIR messages). The document type must
 * be a message definition of EHMI's code system (`document-types.ts`); the kind defaults to its family's.
 */
export async function submitPayload(
  core: MshCore,
  body: Buffer,
  contentType: string | undefined,
  q: PayloadQuery,
): Promise<SubmitResult> {
  const need = (name: keyof PayloadQuery): string => {
    const v = q[name];
    if (!v)
      throw new EhmiError('EHMI_USAGE', `the query parameter ${name} is required`, { expression: [name] });
    return v;
  };
  const receiver = need('receiver');
  if (!/^0088:\d{13}$/.test(receiver)) {
    throw new EhmiError('EHMI_USAGE', `receiver must be 0088:<GLN>, not '${receiver}'`, {
      expression: ['receiver'],
    });
  }
  const process = need('process');
  const definition = messageDefinition(need('documentType'));
  const documentType = definition.code;
  if (definition.family === 'ehmi') {
    throw new EhmiError(
      'EHMI_VALIDATION_FAILED',
      `documentType ${documentType} is the ehmiSBDH EnvelopeReceipt, which the MSH writes itself`,
      { expression: ['documentType'] },
    );
  }
  const kindParam = q.kind ?? KINDS_OF[definition.family][0]!;
  if (!(PAYLOAD_KINDS as readonly string[]).includes(kindParam)) {
    throw new EhmiError('EHMI_USAGE', `kind must be one of ${PAYLOAD_KINDS.join(', ')}`, {
      expression: ['kind'],
    });
  }
  if (!KINDS_OF[definition.family].includes(kindParam)) {
    throw new EhmiError(
      'EHMI_VALIDATION_FAILED',
      `a ${kindParam} payload cannot travel as ${documentType} (${definition.display}): that document type is ${definition.family.toUpperCase()}, which carries ${KINDS_OF[definition.family].join(' or ')} payloads`,
      { expression: ['kind', 'documentType'] },
    );
  }
  if (body.length === 0) throw new EhmiError('EHMI_INPUT_UNREADABLE', 'the body is empty');
  let kind: PayloadKind;
  let standard = q.standard;
  let typeVersion = q.typeVersion;
  let messageHeaderId: string | undefined = q.messageId;
  let bundleId: string | undefined;
  if (kindParam === 'fhir') {
    const format = (contentType ?? '').includes('xml') ? 'xml' : 'json';
    kind = format === 'xml' ? 'fhir-xml' : 'fhir-json';
    const resource = readFhir(body, format);
    const header = (resource.entry as { resource?: Record<string, unknown> }[] | undefined)?.[0]?.resource;
    bundleId = typeof resource.id === 'string' ? resource.id : undefined;
    messageHeaderId ??= typeof header?.id === 'string' ? header.id : undefined;
  } else {
    kind = kindParam as PayloadKind;
  }
  // Standard/TypeVersion: explicit, or those the message definition implies.
  standard ??= definition.standard;
  typeVersion ??= definition.typeVersion;
  messageHeaderId ??= randomUUID();
  const mime = (contentType ?? '').split(';')[0]!.trim();
  const envelope = payloadEnvelope(body, {
    kind,
    sender: core.organisation.gln,
    receiver,
    standard,
    typeVersion,
    documentId: documentType,
    processId: process,
    senderSor: core.organisation.sor,
    ...(q.receiverSor ? { receiverSor: q.receiverSor } : {}),
    messageIdentifier: messageHeaderId,
    ...(bundleId ? { messageEnvelopeIdentifier: bundleId } : {}),
    ...(q.type ? { type: q.type } : {}),
    ...(q.patientId ? { patientId: q.patientId } : {}),
    ...(mime && kindParam !== 'fhir' && mime !== 'application/octet-stream' ? { mimeType: mime } : {}),
  });
  const built = builtEnvelope(envelope);
  await checkEnvelope(built);
  await checkReceiver(core, envelope, 'receiver');
  const row = newMessage(core, {
    kind: 'payload',
    built,
    messageHeaderId,
    bundleId: bundleId ?? null,
    type: standard,
    // The payload's patient is the client's word (the patientId parameter), not read from the payload: none.
    patientCpr: null,
    expectsAcknowledgement: false,
  });
  await commitMessage(core, row, built, { submitted: `submitted a ${kindParam} payload` });
  return { existing: false, row };
}
