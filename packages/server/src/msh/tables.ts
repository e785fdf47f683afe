import type { Store } from '../store/index.ts';
/** Tables of the msh role (times in epoch milliseconds, as in store/types.ts). Migrations: ./migrations.ts. */

/** Status of a sent message (EUA API 3): one of these, in this order, or `failed`. */
export type MessageStatus = 'accepted' | 'sent' | 'receipted' | 'acknowledged' | 'failed';
export type NeedsAction = 'missing-receipt' | 'missing-acknowledgement';

/** A message an EUA submitted (or an acknowledgement the MSH sent for it): what `GET /messages/{id}` shows. */
export interface MshMessagesTable {
  /** Tracking id (UUID). */
  id: string;
  /** `fhir` (a MedCom message), `payload` (explicit metadata), `acknowledgement` (sent by `$acknowledge`). */
  kind: 'fhir' | 'payload' | 'acknowledgement';
  status: MessageStatus;
  needs_action: NeedsAction | null;
  message_header_id: string | null;
  /** Bundle.id of the latest envelope (a resend changes it). */
  bundle_id: string | null;
  /** `<Bundle.id>|<MessageHeader.id>` as first submitted: an identical resubmission finds the earlier one. */
  submit_key: string | null;
  /** SBDH InstanceIdentifier of the latest envelope; also its AP submissionId. */
  envelope_id: string;
  envelope_hash: string;
  envelope_size: number;
  /** MessageHeader.eventCoding.code, or the SBDH Standard. */
  type: string;
  /** `0088:<GLN>`. */
  sender: string;
  receiver: string;
  document_type: string;
  process: string;
  resends: number;
  ack_code: string | null;
  ack_at: number | null;
  failure_reason: string | null;
  failure_ebms: string | null;
  /** ExpectedResponseDateTime of the latest envelope; null once receipted. */
  receipt_due: number | null;
  /** When a missing MedCom acknowledgement marks the message for resending; null when none is expected. */
  ack_due: number | null;
  /** For an acknowledgement: the inbox item it acknowledges. */
  inbox_id: string | null;
  /**
   * The CPR of the patient the message is about (its MedCom Patient's `urn:oid:1.2.208.176.1.2`; an acknowledgement
   * takes its inbox item's); null when it names none: a payload, or a patient known only by a replacement CPR.
   */
  patient_cpr: string | null;
  created_at: number;
  updated_at: number;
  /** The acknowledgement's facts for EDS (`EdsMessageFacts` JSON), once one arrived, for step 16.1. */
  ack_eds_facts: string | null;
  /** When the EUA first read the message after its acknowledgement arrived: EDS step 16.1, reported once. */
  ack_taken_at: number | null;
}

/** One envelope handed (or to be handed) to the access point; its id is the SBDH InstanceIdentifier. */
export interface MshSubmissionsTable {
  id: string;
  message_id: string | null;
  /** `message` (a tracked message's envelope), `receipt` (EnvelopeReceipt), `archive` (copy with XDS-METADATA). */
  purpose: 'message' | 'receipt' | 'archive';
  /** `held` (waits for its message to be sent: archive copies), `queued`, `submitted`, `sent`, `failed`. */
  status: 'held' | 'queued' | 'submitted' | 'sent' | 'failed';
  sender: string;
  receiver: string;
  document_type: string;
  process: string;
  envelope_hash: string;
  envelope_size: number;
  as4_message_id: string | null;
  ebms_code: string | null;
  reason: string | null;
  created_at: number;
  updated_at: number;
  /**
   * The envelope's facts for EHMI Delivery Status (`EdsMessageFacts` JSON): the MSH's later steps of this envelope
   * and its AP report them without reading the envelope again. Null when the node reports to no EDS.
   */
  eds_facts: string | null;
  /**
   * What its EnvelopeReceipt is compared with (`receiptKeysOf`'s Standard, TypeVersion, MESSAGEIDENTIFIER and
   * MESSAGEENVELOPEIDENTIFIER as JSON; the id and parties are the row's). Null on a row from before it was kept: the
   * envelope is read again.
   */
  receipt_keys: string | null;
}

/** The timeline of a sent message: EDS steps (ehmi-core §1.2). */
export interface MshEventsTable {
  id: string;
  message_id: string;
  /** One of `TIMELINE_STEPS` (steps.ts). */
  code: string;
  station: 'eua' | 'msh' | 'ap';
  outcome: 'success' | 'failure';
  detail: string | null;
  time: number;
}

/** A received clinical message (the EUA's inbox). */
export interface MshInboxTable {
  id: string;
  as4_message_id: string;
  /** SBDH InstanceIdentifier of the envelope it came in. */
  envelope_id: string;
  message_header_id: string | null;
  bundle_id: string | null;
  type: string;
  sender: string;
  receiver: string;
  /** BinaryContent mimeType: the payload's format. */
  mime_type: string;
  /** The CPR of the patient a MedCom FHIR message is about; null for other payloads and when it names none. */
  patient_cpr: string | null;
  envelope_hash: string;
  envelope_size: number;
  received_at: number;
  /** Acknowledge-to-remove (EUA API 8). */
  removed_at: number | null;
  /** MESSAGEIDENTIFIER of the EnvelopeReceipt sent for it: duplicates get the same receipt content. */
  receipt_message_id: string;
  /** The MedCom acknowledgement sent for it (tracking id, stored Bundle JSON, code), once the EUA acknowledged. */
  ack_message_id: string | null;
  ack_hash: string | null;
  ack_code: string | null;
  acknowledged_at: number | null;
  /**
   * Who acknowledged it: `client:<client_id>` (the organisation's system), `person:<account>` (someone acting as the
   * organisation's EUA in the console), null before, or on a node without access tokens.
   */
  acknowledged_by: string | null;
  /** The envelope's facts for EDS (`EdsMessageFacts` JSON), for step 06.1; null when the node reports to no EDS. */
  eds_facts: string | null;
  /** When the EUA first took the message (read its content, or acknowledged it): EDS step 06.1, reported once. */
  eua_taken_at: number | null;
}

/**
 * Duplicate cache of received messages (ehmi-core §6.1, MedCom 043, MR8.R): `env:`, `mh:` and `bundle:` keys,
 * each unique, so two instances on one PostgreSQL cannot both deliver the same message.
 */
export interface MshDedupTable {
  key: string;
  inbox_id: string;
  created_at: number;
}

/** Every envelope the AP delivered, by AS4 MessageId: `deliver` is idempotent on it. */
export interface MshReceivedTable {
  as4_message_id: string;
  /** `inbox`, `duplicate`, `receipt`, `acknowledgement`, `exception`, `ignored`. */
  outcome: string;
  inbox_id: string | null;
  detail: string | null;
  received_at: number;
}

/** A webhook an EUA registered (Standard Webhooks 1.0): where this MSH POSTs the events it chose. */
export interface MshWebhooksTable {
  /** UUID. */
  id: string;
  /** `https://…`, checked at registration (msh/webhooks/target.ts). */
  url: string;
  /** The event types it receives, as a JSON array (`inbox.received`, …). */
  events: string;
  description: string | null;
  /** `whsec_<base64>`: the HMAC-SHA256 key of its signatures, shown to the EUA once, at registration. */
  secret: string;
  /** The client that registered it (its token's client id; the certificate's subject without tokens). */
  created_by: string | null;
  created_at: number;
  /** When deliveries stopped: the receiver answered 410 Gone (Standard Webhooks). */
  disabled_at: number | null;
  disabled_reason: string | null;
}

/**
 * One event for one webhook: its `webhook-id`, the body every try sends (the same octets, signed anew with the
 * try's timestamp), and the outcome of its tries. The `msh.webhook` job (`job_id`) carries the tries.
 */
export interface MshWebhookDeliveriesTable {
  /** `msg_<uuid>`: the `webhook-id` header, the same on every try (the receiver's idempotency key). */
  id: string;
  webhook_id: string;
  event_type: string;
  /** The JSON body, as sent. */
  body: string;
  /** The queue job of the current round of tries (a retry from the failure list starts a new one). */
  job_id: string;
  created_at: number;
  /** Tries so far, over every round. */
  attempts: number;
  last_attempt_at: number | null;
  /** The receiver's HTTP status of the last try; null when there was no answer. */
  last_status: number | null;
  last_error: string | null;
  delivered_at: number | null;
  /** When its last try failed: it is on the failure list until it is retried. */
  failed_at: number | null;
}

/**
 * Blobs the MSH wrote, written down outside the business transaction (before it): retention finds the ones a
 * rolled-back transaction left unreferenced.
 */
export type MshTables = {
  msh_messages: MshMessagesTable;
  msh_submissions: MshSubmissionsTable;
  msh_events: MshEventsTable;
  msh_inbox: MshInboxTable;
  msh_dedup: MshDedupTable;
  msh_received: MshReceivedTable;
  msh_webhooks: MshWebhooksTable;
  msh_webhook_deliveries: MshWebhookDeliveriesTable;
};

/** Columns of this role that name blobs (the node's blob garbage collection keeps what they name). */
export const MSH_BLOB_REFERENCES = [
  ['msh_messages', 'envelope_hash'],
  ['msh_submissions', 'envelope_hash'],
  ['msh_inbox', 'envelope_hash'],
  ['msh_inbox', 'ack_hash'],
] as const satisfies readonly (readonly [string, string])[];

/** The node's store as this role sees it: its own tables (the queue and blob APIs reach the store's). */
export type MshStore = Store<MshTables>;
