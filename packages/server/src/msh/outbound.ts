import { randomUUID } from 'node:crypto';
import { EhmiError } from '@ehmi/errors';
import {
  type AcknowledgementCode,
  type AcknowledgementIssue,
  buildAcknowledgement,
  jsonToXml,
  resendMessage,
  stringifyFhirJson,
} from '@ehmi/fhir';
import {
  type EhmiEnvelope,
  type PayloadKind,
  parse,
  parseFhirDocumentId,
  payloadEnvelope,
  payloadOf,
  scopeValue,
  serializeEnvelope,
  wrapMessage,
  wrapMessageForArchive,
} from '@ehmi/sbdh';
import type { Selectable } from 'kysely';

/** FHIR Bundle as the @ehmi/fhir builders type it. */
type Bundle = Parameters<typeof buildAcknowledgement>[0];

import { QUEUES } from '../path.ts';
import { addEvents, type Db, type EventInput, isUniqueViolation, type MshCore, putBlob } from './core.ts';
import { validateEnvelope } from './envelope-check.ts';
import {
  type FhirFormat,
  fhirText,
  formatOfMime,
  ProfileValidationError,
  profileErrors,
  readFhir,
} from './fhir-body.ts';
import type { MshMessagesTable, MshSubmissionsTable } from './tables.ts';

/** A built envelope, ready to be stored and queued. */
export interface BuiltEnvelope {
  xml: string;
  envelope: EhmiEnvelope;
}

/** The AP's view of an envelope: who to, and the SMP document type and process (its DOCUMENTID/PROCESSID). */
function routing(envelope: EhmiEnvelope) {
  return {
    sender: envelope.sender.value,
    receiver: envelope.receiver.value,
    document_type: scopeValue(envelope, 'DOCUMENTID') ?? '',
    process: scopeValue(envelope, 'PROCESSID') ?? '',
  };
}

/**
 * Add a submission (one envelope for the AP, its id the SBDH InstanceIdentifier) and, unless it is held, its
 * dispatch job, in the caller's transaction.
 */
export async function addSubmission(
  core: MshCore,
  trx: Db,
  built: BuiltEnvelope,
  blob: { hash: string; size: number },
  purpose: MshSubmissionsTable['purpose'],
  messageId: string | null,
  held = false,
): Promise<string> {
  const now = core.now();
  const id = built.envelope.documentIdentification.instanceIdentifier;
  await trx
    .insertInto('msh_submissions')
    .values({
      id,
      message_id: messageId,
      purpose,
      status: held ? 'held' : 'queued',
      ...routing(built.envelope),
      envelope_hash: blob.hash,
      envelope_size: blob.size,
      as4_message_id: null,
      ebms_code: null,
      reason: null,
      created_at: now,
      updated_at: now,
    })
    .execute();
  if (!held) await core.queue.enqueue(trx, { queue: QUEUES.dispatch, payload: { submissionId: id } });
  return id;
}

/** ehmiSBDH XSD + IG rules on an envelope we built; a failure is the submitted content's fault (422). */
async function checkEnvelope(xml: string): Promise<void> {
  const result = await validateEnvelope(xml, 'the ehmiSBDH envelope');
  if (!result.valid) {
    const first = result.errors[0]!;
    throw new EhmiError(
      'EHMI_VALIDATION_FAILED',
      `the ehmiSBDH envelope is invalid: ${first.element}: ${first.message}`,
      {
        expression: [first.element],
        details: { errors: result.errors },
      },
    );
  }
}

export interface SubmitResult {
  /** true: an identical earlier submission (answered 200, nothing sent again). */
  existing: boolean;
  row: Selectable<MshMessagesTable>;
}

async function findBySubmitKey(core: MshCore, key: string) {
  return core.store.db
    .selectFrom('msh_messages')
    .selectAll()
    .where('submit_key', '=', key)
    .executeTakeFirst();
}

/**
 * EUA API 1: a MedCom FHIR message. Read → (identical resubmission?) → profile validation → receiver from
 * MessageHeader.destination → ehmiSBDH → envelope blob → one transaction (message, events 01.1/02.1, dispatch job,
 * held archive copy) → 202.
 */
export async function submitFhir(core: MshCore, body: Buffer, format: FhirFormat): Promise<SubmitResult> {
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
  const header = (resource.entry as { resource?: Record<string, unknown> }[] | undefined)?.[0]?.resource;
  const key = `${String(resource.id)}|${String(header?.id)}`;
  // "An identical resubmission → 200 with the earlier object": nothing is validated or sent again.
  const earlier =
    typeof resource.id === 'string' && typeof header?.id === 'string' && (await findBySubmitKey(core, key));
  if (earlier) return { existing: true, row: earlier };

  if (core.config.validateProfiles) {
    const outcome = profileErrors(resource);
    if (outcome) throw new ProfileValidationError(outcome);
  }
  // The exact submitted bytes are the BinaryContent (ehmiSBDH IG: base64 of the message).
  const wrapped = await wrapMessage(body);
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
  const sameHeader = await core.store.db
    .selectFrom('msh_messages')
    .select(['id'])
    .where('message_header_id', '=', facts.messageHeaderId)
    .where('kind', '=', 'fhir')
    .executeTakeFirst();
  if (sameHeader) {
    // MR8.R: the receiver would drop it as a duplicate. Resending is explicit (EUA API 5).
    throw new EhmiError(
      'EHMI_CONFLICT',
      `MessageHeader.id ${facts.messageHeaderId} was submitted before as ${sameHeader.id} with another Bundle.id; resend it with POST /messages/${sameHeader.id}/$resend`,
      { expression: ['MessageHeader.id'], details: { id: sameHeader.id } },
    );
  }
  await checkEnvelope(wrapped.xml);

  let archive: BuiltEnvelope | undefined;
  const arch = core.config.archive;
  if (arch.participant && arch.messageTypes.includes(facts.eventCode)) {
    // ehmi-core §1.3: a second envelope with XDS-METADATA, to the archive's participant.
    const copy = await wrapMessageForArchive(body, { archiveReceiver: arch.participant });
    archive = { xml: copy.xml, envelope: copy.envelope };
  }

  const now = core.now();
  const id = randomUUID();
  const row: Selectable<MshMessagesTable> = {
    id,
    kind: 'fhir',
    status: 'accepted',
    needs_action: null,
    message_header_id: facts.messageHeaderId,
    bundle_id: facts.bundleId,
    submit_key: key,
    envelope_id: wrapped.envelope.documentIdentification.instanceIdentifier,
    envelope_hash: '',
    envelope_size: 0,
    type: facts.eventCode,
    ...routingOf(wrapped.envelope),
    resends: 0,
    ack_code: null,
    ack_at: null,
    failure_reason: null,
    failure_ebms: null,
    receipt_due: now + core.config.receiptTimeoutMs,
    ack_due: now + core.config.acknowledgementTimeoutMs,
    inbox_id: null,
    created_at: now,
    updated_at: now,
  };
  try {
    await commitMessage(core, row, { xml: wrapped.xml, envelope: wrapped.envelope }, archive, [
      {
        code: '01.1',
        station: 'eua',
        time: now,
        detail: `submitted as ${format === 'xml' ? 'FHIR XML' : 'FHIR JSON'}`,
      },
      { code: '02.1', station: 'msh', time: now, detail: `envelope ${row.envelope_id}` },
    ]);
  } catch (err) {
    // Two identical submissions at once (several instances): the unique submit_key lets one win.
    if (isUniqueViolation(err)) {
      const first = await findBySubmitKey(core, key);
      if (first) return { existing: true, row: first };
    }
    throw err;
  }
  return { existing: false, row };
}

function routingOf(envelope: EhmiEnvelope) {
  const r = routing(envelope);
  return { sender: r.sender, receiver: r.receiver, document_type: r.document_type, process: r.process };
}

/** Store the envelope(s), then commit the message row, its events and its submission(s) in one transaction. */
async function commitMessage(
  core: MshCore,
  row: Selectable<MshMessagesTable>,
  built: BuiltEnvelope,
  archive: BuiltEnvelope | undefined,
  events: EventInput[],
): Promise<void> {
  const blob = await putBlob(core, built.xml);
  row.envelope_hash = blob.hash;
  row.envelope_size = blob.size;
  const archiveBlob = archive ? await putBlob(core, archive.xml) : undefined;
  await core.store.transaction(async (trx) => {
    await trx.insertInto('msh_messages').values(row).execute();
    await addEvents(trx, row.id, events);
    await addSubmission(core, trx, built, blob, 'message', row.id);
    // Governance (ehmi-core §1.1): the archive copy goes after the message was sent; held until then.
    if (archive && archiveBlob) await addSubmission(core, trx, archive, archiveBlob, 'archive', row.id, true);
  });
  core.wake();
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
}

const PAYLOAD_KINDS = ['oioxml', 'edifact', 'cda', 'fhir'] as const;

/** EUA API 2: any payload with explicit metadata (OIOXML, EDIFACT, CDA, other FHIR messages). */
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
  const documentType = need('documentType');
  const process = need('process');
  const kindParam = need('kind');
  if (!(PAYLOAD_KINDS as readonly string[]).includes(kindParam)) {
    throw new EhmiError('EHMI_USAGE', `kind must be one of ${PAYLOAD_KINDS.join(', ')}`, {
      expression: ['kind'],
    });
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
    const parsed = parseFhirDocumentId(documentType);
    standard ??= parsed?.code;
    typeVersion ??= parsed?.version;
  } else {
    kind = kindParam as PayloadKind;
  }
  // Standard/TypeVersion: explicit, or read from a MedCom DOCUMENTID, or the document type's last segment.
  standard ??= documentType.split(/[:#]+/).filter(Boolean).pop() ?? documentType;
  typeVersion ??= '1.0';
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
    messageIdentifier: messageHeaderId,
    ...(bundleId ? { messageEnvelopeIdentifier: bundleId } : {}),
    ...(q.type ? { type: q.type } : {}),
    ...(q.patientId ? { patientId: q.patientId } : {}),
    ...(mime && kindParam !== 'fhir' && mime !== 'application/octet-stream' ? { mimeType: mime } : {}),
  });
  const built = { xml: serializeEnvelope(envelope), envelope };
  await checkEnvelope(built.xml);
  const now = core.now();
  const row: Selectable<MshMessagesTable> = {
    id: randomUUID(),
    kind: 'payload',
    status: 'accepted',
    needs_action: null,
    message_header_id: messageHeaderId,
    bundle_id: bundleId ?? null,
    submit_key: null,
    envelope_id: envelope.documentIdentification.instanceIdentifier,
    envelope_hash: '',
    envelope_size: 0,
    type: standard,
    ...routingOf(envelope),
    resends: 0,
    ack_code: null,
    ack_at: null,
    failure_reason: null,
    failure_ebms: null,
    receipt_due: now + core.config.receiptTimeoutMs,
    ack_due: null,
    inbox_id: null,
    created_at: now,
    updated_at: now,
  };
  await commitMessage(core, row, built, undefined, [
    { code: '01.1', station: 'eua', time: now, detail: `submitted a ${kindParam} payload` },
    { code: '02.1', station: 'msh', time: now, detail: `envelope ${row.envelope_id}` },
  ]);
  return { existing: false, row };
}

/** A MedCom message's Bundle from its envelope, and the format it travels in. */
export function bundleOfEnvelope(envelope: EhmiEnvelope): {
  bundle: Record<string, unknown>;
  format: FhirFormat;
} {
  const format = formatOfMime(envelope.binaryContent.mimeType);
  if (!format) {
    throw new EhmiError(
      'EHMI_NOT_SUPPORTED',
      `the payload is ${envelope.binaryContent.mimeType}, not a FHIR message`,
    );
  }
  return { bundle: readFhir(payloadOf(envelope), format), format };
}

function fhirBytes(resource: Record<string, unknown> | Bundle, format: FhirFormat): string {
  return format === 'xml'
    ? `<?xml version="1.0" encoding="UTF-8"?>${jsonToXml(resource as Record<string, unknown>)}`
    : stringifyFhirJson(resource);
}

/**
 * EUA API 5: resend a MedCom message (020 §1.1, MR7.R): a new SBDH InstanceIdentifier, a new Bundle.id and
 * timestamp, the same MessageHeader.id; at most `maxResends` times. Resending is always explicit (043 §1.1:
 * "Re-dispatches are always done manually").
 */
export async function resend(core: MshCore, id: string): Promise<Selectable<MshMessagesTable>> {
  const row = await core.store.db
    .selectFrom('msh_messages')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirst();
  if (!row) throw new EhmiError('EHMI_NOT_FOUND', `no sent message ${id}`);
  if (row.kind !== 'fhir') {
    throw new EhmiError(
      'EHMI_CONFLICT',
      `message ${id} is ${row.kind === 'payload' ? 'a payload' : 'an acknowledgement'}; only MedCom messages are resent`,
    );
  }
  if (row.status === 'acknowledged') {
    throw new EhmiError('EHMI_CONFLICT', `message ${id} is acknowledged (${row.ack_code}); it is not resent`);
  }
  if (row.resends >= core.config.maxResends) {
    // MedCom 020 §1.1: "The sender SHALL NOT resend more than 2 times".
    throw new EhmiError(
      'EHMI_CONFLICT',
      `message ${id} was resent ${row.resends} times, the most allowed (msh.maxResends)`,
      {
        details: { resends: row.resends },
      },
    );
  }
  const previous = parse(await core.store.blobs.read(row.envelope_hash));
  const { bundle, format } = bundleOfEnvelope(previous);
  const again = resendMessage(bundle as unknown as Bundle) as unknown as Record<string, unknown>;
  const wrapped = await wrapMessage(fhirBytes(again, format));
  const blob = await putBlob(core, wrapped.xml);
  const now = core.now();
  const envelopeId = wrapped.envelope.documentIdentification.instanceIdentifier;
  const n = row.resends + 1;
  await core.store.transaction(async (trx) => {
    const updated = await trx
      .updateTable('msh_messages')
      .set({
        status: 'accepted',
        needs_action: null,
        failure_reason: null,
        failure_ebms: null,
        bundle_id: wrapped.facts.bundleId,
        envelope_id: envelopeId,
        envelope_hash: blob.hash,
        envelope_size: blob.size,
        resends: n,
        receipt_due: now + core.config.receiptTimeoutMs,
        ack_due: row.ack_code ? null : now + core.config.acknowledgementTimeoutMs,
        updated_at: now,
      })
      .where('id', '=', id)
      .where('resends', '=', row.resends)
      .where('status', '<>', 'acknowledged')
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) !== 1) {
      throw new EhmiError('EHMI_CONFLICT', `message ${id} changed while it was being resent; try again`);
    }
    await addEvents(trx, id, [
      {
        code: '02.1',
        station: 'msh',
        time: now,
        detail: `resend ${n}: envelope ${envelopeId}, Bundle.id ${wrapped.facts.bundleId}`,
      },
    ]);
    await addSubmission(core, trx, { xml: wrapped.xml, envelope: wrapped.envelope }, blob, 'message', id);
  });
  core.wake();
  return await core.store.db
    .selectFrom('msh_messages')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
}

export interface AcknowledgeBody {
  code?: unknown;
  issues?: unknown;
  text?: unknown;
}

const ACK_CODES: readonly AcknowledgementCode[] = ['ok', 'transient-error', 'fatal-error'];

/**
 * EUA API 9: the MedCom acknowledgement of a received message, built by the MSH for the EUA (Acknowledgement IG
 * 2.0.3), stored (a duplicate of the message gets it again, MedCom 020 §1.2 #2) and sent once.
 */
export async function acknowledgeInbox(
  core: MshCore,
  inboxId: string,
  body: AcknowledgeBody,
): Promise<string> {
  const code = body.code ?? 'ok';
  if (typeof code !== 'string' || !(ACK_CODES as readonly string[]).includes(code)) {
    throw new EhmiError('EHMI_USAGE', `code must be one of ${ACK_CODES.join(', ')}`, {
      expression: ['code'],
    });
  }
  const item = await core.store.db
    .selectFrom('msh_inbox')
    .selectAll()
    .where('id', '=', inboxId)
    .executeTakeFirst();
  if (!item) throw new EhmiError('EHMI_NOT_FOUND', `no inbox item ${inboxId}`);
  if (item.ack_message_id) {
    throw new EhmiError(
      'EHMI_CONFLICT',
      `inbox item ${inboxId} was acknowledged already (${item.ack_code}); an acknowledgement is sent once`,
      {
        details: { id: item.ack_message_id },
      },
    );
  }
  const received = parse(await core.store.blobs.read(item.envelope_hash));
  const { bundle } = bundleOfEnvelope(received);
  let issues = Array.isArray(body.issues) ? (body.issues as AcknowledgementIssue[]) : undefined;
  if (!issues && code !== 'ok') {
    // medcom-acknowledgement-1: a negative acknowledgement carries an OperationOutcome.
    const text =
      typeof body.text === 'string'
        ? body.text
        : code === 'fatal-error'
          ? 'The message was rejected by the receiving system'
          : 'The receiving system could not process the message now';
    issues = [{ severity: 'error', code: code === 'fatal-error' ? 'processing' : 'transient', text }];
  }
  const ack = buildAcknowledgement(bundle as unknown as Bundle, {
    code: code as AcknowledgementCode,
    ...(issues ? { issues } : {}),
  });
  const ackText = stringifyFhirJson(ack);
  const wrapped = await wrapMessage(ackText, { original: received });
  const ackBlob = await putBlob(core, ackText);
  const blob = await putBlob(core, wrapped.xml);
  const now = core.now();
  const id = randomUUID();
  const built = { xml: wrapped.xml, envelope: wrapped.envelope };
  await core.store.transaction(async (trx) => {
    const updated = await trx
      .updateTable('msh_inbox')
      .set({ ack_message_id: id, ack_hash: ackBlob.hash, ack_code: code, acknowledged_at: now })
      .where('id', '=', inboxId)
      .where('ack_message_id', 'is', null)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) !== 1) {
      throw new EhmiError(
        'EHMI_CONFLICT',
        `inbox item ${inboxId} was acknowledged already; an acknowledgement is sent once`,
      );
    }
    await trx
      .insertInto('msh_messages')
      .values({
        id,
        kind: 'acknowledgement',
        status: 'accepted',
        needs_action: null,
        message_header_id: wrapped.facts.messageHeaderId,
        bundle_id: wrapped.facts.bundleId,
        submit_key: null,
        envelope_id: built.envelope.documentIdentification.instanceIdentifier,
        envelope_hash: blob.hash,
        envelope_size: blob.size,
        type: wrapped.facts.eventCode,
        ...routingOf(built.envelope),
        resends: 0,
        ack_code: null,
        ack_at: null,
        failure_reason: null,
        failure_ebms: null,
        receipt_due: now + core.config.receiptTimeoutMs,
        // KR2.R: an acknowledgement is never acknowledged.
        ack_due: null,
        inbox_id: inboxId,
        created_at: now,
        updated_at: now,
      })
      .execute();
    await addEvents(trx, id, [
      {
        code: '01.1',
        station: 'eua',
        time: now,
        detail: `acknowledgement ${code} of MessageHeader ${item.message_header_id}`,
      },
      {
        code: '02.1',
        station: 'msh',
        time: now,
        detail: `envelope ${built.envelope.documentIdentification.instanceIdentifier}`,
      },
    ]);
    await addSubmission(core, trx, built, blob, 'message', id);
  });
  core.wake();
  return id;
}

/** The stored acknowledgement sent again for a duplicate (MedCom 020 §1.1: same content, new Bundle.id/timestamp). */
export async function acknowledgementAgain(
  core: MshCore,
  ackHash: string,
  received: Record<string, unknown>,
  receivedEnvelope: EhmiEnvelope,
): Promise<{ built: BuiltEnvelope; blob: { hash: string; size: number } }> {
  const previous = JSON.parse(fhirText(await core.store.blobs.read(ackHash), 'json')) as Bundle;
  const again = buildAcknowledgement(received as unknown as Bundle, { code: 'ok', previous });
  const wrapped = await wrapMessage(stringifyFhirJson(again), { original: receivedEnvelope });
  const blob = await putBlob(core, wrapped.xml);
  return { built: { xml: wrapped.xml, envelope: wrapped.envelope }, blob };
}
