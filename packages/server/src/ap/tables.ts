import type { Store } from '../store/index.ts';
/** Tables of the ap role (times in epoch milliseconds, as in store/types.ts). Migrations: ./migrations.ts. */

/**
 * One received AS4 UserMessage: the persisted duplicate-detection record (eDelivery AS4 1.15 §3.3
 * DuplicateDetection) keyed on the AS4 MessageId, the signed receipt returned for it (again for every duplicate),
 * and the hand-over state to the MSH.
 */
export interface ApReceivedTable {
  /** eb:MessageId: unique, so concurrent receptions on several instances insert it once. */
  message_id: string;
  /** `received` (committed, waiting for the MSH), `delivered` (the MSH committed it), `test` (AS4 test service). */
  status: 'received' | 'delivered' | 'test';
  /** AS4 `originalSender` / `finalRecipient` (`0088:<GLN>`), eb:Service (process) and eb:Action (document type). */
  sender: string;
  receiver: string;
  process: string;
  document_type: string;
  conversation_id: string;
  /** The payload (the ehmiSBDH envelope) in the blob store; null for the test service. */
  blob_hash: string | null;
  blob_size: number | null;
  /** The signed receipt exactly as sent (UTF-8 XML of the application/soap+xml response). */
  receipt: string;
  received_at: number;
  delivered_at: number | null;
  /** The SBDH's facts for EDS (`EdsMessageFacts` JSON), read from its header once, for 04.2; null without EDS. */
  eds_facts: string | null;
}

/** One envelope the MSH submitted for sending (reception awareness: one MessageId for every attempt). */
export interface ApOutboundTable {
  /** The MSH's idempotency key. */
  submission_id: string;
  /** eb:MessageId, fixed at submission (unique). */
  as4_message_id: string;
  /** `pending` (queued or being retried), `sent` (a valid receipt arrived), `failed` (final). */
  status: 'pending' | 'sent' | 'failed';
  sender: string;
  receiver: string;
  document_type: string;
  process: string;
  tracking_identifier: string | null;
  blob_hash: string;
  blob_size: number;
  /** Sends tried so far. */
  attempts: number;
  /**
   * JSON: the signed references of each attempt (`MessagePartReference[][]`). A duplicate's receipt carries the
   * NonRepudiationInformation of the attempt the receiver committed first, so a receipt may match any of them.
   */
  sent_references: string;
  endpoint_url: string | null;
  /** The verified receipt (NRR evidence), as received. */
  receipt: string | null;
  ebms_code: string | null;
  reason: string | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
  /** When the MSH took the outcome (`MshBackend.outcome` resolved); retention waits for it. */
  outcome_at: number | null;
  /** The envelope's facts for EDS as the MSH handed them (`EdsMessageFacts` JSON), for 03.2; null without EDS. */
  eds_facts: string | null;
}

/**
 * Non-repudiation evidence, one row per AS4 MessageId and kind: the receiver keeps the UserMessage's signed SOAP part
 * (`user-message`), the sender the signed receipt it got (`receipt`), each exactly as received, in the blob store.
 * Written in the transaction that accepts the message (receive) or records it `sent` (send).
 */
export interface ApEvidenceTable {
  /** eb:MessageId of the UserMessage (for a receipt: the message it receipts, its eb:RefToMessageId). */
  message_id: string;
  kind: 'user-message' | 'receipt';
  /** `inbound`: a message we received (we keep its SOAP part); `outbound`: one we sent (we keep its receipt). */
  direction: 'inbound' | 'outbound';
  /** The other side's participant (`0088:<GLN>`): the sender of an inbound message, the receiver of an outbound. */
  counterpart: string;
  /** The signing certificate's subject (one line) and serial number (hex). */
  signer_subject: string;
  signer_serial: string;
  /** The signer's certificate chain as received (PEM, signer first). */
  certificate_chain: string;
  /**
   * The signed octets as received (application/soap+xml), base64: a SOAP part or a receipt is a few kilobytes, so it
   * is kept in the row the accepting transaction writes, not as a file of its own (one more fsync per message).
   */
  content: string;
  size: number;
  /** SHA-256 of the octets, hex. */
  sha256: string;
  received_at: number;
}

/**
 * The last ebMS test-service exchange with each partner (`ping.ts`): its last success (when, the round trip, the
 * receipt's own time) and its last attempt, which may have failed. One row per receiving participant.
 */
export interface ApPingsTable {
  /** `0088:<GLN>` of the partner pinged. */
  receiver: string;
  last_ok_at: number | null;
  round_trip_ms: number | null;
  /** The receipt's eb:Timestamp (epoch ms): the receiving AP's clock. */
  receipt_at: number | null;
  as4_message_id: string | null;
  endpoint_url: string | null;
  last_attempt_at: number;
  /** Why the last attempt failed; null when it succeeded. */
  last_error: string | null;
}

export type ApTables = {
  ap_received: ApReceivedTable;
  ap_outbound: ApOutboundTable;
  ap_evidence: ApEvidenceTable;
  ap_pings: ApPingsTable;
};

/** Columns of this role that name blobs (the node's blob garbage collection keeps what they name). */
export const AP_BLOB_REFERENCES = [
  ['ap_received', 'blob_hash'],
  ['ap_outbound', 'blob_hash'],
] as const satisfies readonly (readonly [string, string])[];

/** The node's store as this role sees it: its own tables (the queue and blob APIs reach the store's). */
export type ApStore = Store<ApTables>;
