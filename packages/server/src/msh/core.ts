import type { MedComMessageFacts } from '@ehmi/sbdh';
import type { Kysely, Selectable } from 'kysely';
import type { Logger } from 'pino';
import type { NodeConfig } from '../config/index.ts';
import type { AccessPointGateway } from '../contract.ts';
import type { DeliveryStatusReporter } from '../delivery-status/index.ts';
import { type JobQueue, noteBlob, storeBlob } from '../store/index.ts';
import type { MshConfig } from './config.ts';
import type { JourneySource } from './journey.ts';
import type { InboxHub } from './sse.ts';
import type { MshEventsTable, MshInboxTable, MshMessagesTable, MshStore, MshTables } from './tables.ts';
import type { WebhookEmitter } from './webhooks/events.ts';

/** Everything the MSH's parts share. */
export interface MshCore {
  config: MshConfig;
  organisation: NonNullable<NodeConfig['organisation']>;
  /** `0088:<GLN>` of this organisation. */
  party: string;
  store: MshStore;
  queue: JobQueue;
  logger: Logger;
  accessPoint: AccessPointGateway;
  hub: InboxHub;
  /** EDS reporting (disabled: reports nothing). */
  eds: DeliveryStatusReporter;
  /** Push delivery: the EUA's webhooks, queued in the transaction of each event. */
  webhooks: WebhookEmitter;
  /** EDS, for the journey of a message (node `deliveryStatus`); absent when the node names no EDS. */
  journey?: JourneySource;
  /** Wake the dispatch worker after a commit that enqueued a job. */
  wake(): void;
  /**
   * An envelope's EnvelopeReceipt (10.1, ReceiptAcknowledgement) arrived this many seconds after the envelope was
   * submitted: the `ehmi_msh_receipt_seconds` histogram of the MSH's `/metrics`.
   */
  observeReceipt?(seconds: number): void;
  now(): number;
}

export type Db = Kysely<MshTables>;

/** Store a blob the MSH wrote (envelope, acknowledgement), noted for the node's blob garbage collection. */
export async function putBlob(
  core: MshCore,
  content: string | Uint8Array,
): Promise<{ hash: string; size: number }> {
  return storeBlob(core.store, content, { now: core.now() });
}

/**
 * Store a blob the MSH wrote, its file only (durable when this resolves): the transaction that names it notes it
 * first thing ({@link noteMshBlob}), one commit instead of two. A small one on PostgreSQL is only hashed here and
 * written by that transaction (`namedInTransaction`): call {@link noteMshBlob} with the same content. For a
 * transaction that may commit without naming it, use {@link putBlob}.
 */
export async function writeBlob(
  core: MshCore,
  content: string | Uint8Array,
): Promise<{ hash: string; size: number }> {
  return core.store.blobs.put(content, { namedInTransaction: true });
}

/**
 * Note a blob in the transaction that names it (see `noteBlob` in the store), before anything in it may throw: a
 * rollback then notes it on its own, for the blob collection.
 */
export async function noteMshBlob(
  core: MshCore,
  trx: Db,
  blob: { hash: string; size: number },
  content: string | Uint8Array,
): Promise<void> {
  await noteBlob(trx, core.store, blob, content, core.now());
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** `GET /messages` summary (EUA API 4). */
export function messageSummary(row: Selectable<MshMessagesTable>) {
  return {
    id: row.id,
    direction: 'out' as const,
    status: row.status,
    messageHeaderId: row.message_header_id,
    bundleId: row.bundle_id,
    envelopeId: row.envelope_id,
    type: row.type,
    sender: row.sender,
    receiver: row.receiver,
    createdAt: iso(row.created_at),
    needsAction: row.needs_action,
    resends: row.resends,
    acknowledgement: row.ack_code ? { code: row.ack_code, at: iso(row.ack_at) } : null,
    failure: row.failure_reason
      ? { reason: row.failure_reason, ...(row.failure_ebms ? { ebmsCode: row.failure_ebms } : {}) }
      : null,
  };
}

/** The 202 answer of a submission (EUA API 1, 2). */
export function acceptedAnswer(row: Selectable<MshMessagesTable>) {
  return {
    id: row.id,
    status: row.status,
    messageHeaderId: row.message_header_id,
    bundleId: row.bundle_id,
    envelopeId: row.envelope_id,
    sender: row.sender,
    receiver: row.receiver,
  };
}

export function eventJson(e: Selectable<MshEventsTable>) {
  return {
    code: e.code,
    station: e.station,
    time: new Date(e.time).toISOString(),
    outcome: e.outcome,
    ...(e.detail ? { detail: e.detail } : {}),
  };
}

/** `GET /inbox` item (EUA API 6). */
export function inboxItem(row: Selectable<MshInboxTable>) {
  return {
    id: row.id,
    bundleId: row.bundle_id,
    messageHeaderId: row.message_header_id,
    type: row.type,
    sender: row.sender,
    receivedAt: new Date(row.received_at).toISOString(),
    mimeType: row.mime_type,
    acknowledgement: row.ack_code
      ? { code: row.ack_code, at: iso(row.acknowledged_at), by: row.acknowledged_by }
      : null,
  };
}

/**
 * The CPR of the patient a MedCom message is about (PATIENTID's source: the Patient's identifier of system
 * `urn:oid:1.2.208.176.1.2`, read by `@ehmi/sbdh` `readMessageFacts`); null when it names none, or the patient only
 * by a replacement CPR (eCPR), which no token restriction names.
 */
export function patientCprOf(facts: Pick<MedComMessageFacts, 'patient'>): string | null {
  return facts.patient?.kind === 'cpr' ? facts.patient.value : null;
}

/** The access point's party value of a GLN (`0088:<GLN>`). */
export function partyOf(gln: string): string {
  return gln.includes(':') ? gln : `0088:${gln}`;
}

/** A unique-key conflict on either engine (one implementation, in the store). */
export { isUniqueViolation } from '../store/index.ts';
