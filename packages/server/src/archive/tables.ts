import type { Store } from '../store/index.ts';

/** Tables of the archive role (times in epoch milliseconds, as in store/types.ts). Migrations: ./migrations.ts. */

/**
 * One archived document: the copy of a message (its FHIR Bundle, the BinaryContent of the copy's ehmiSBDH) with the
 * DocumentReference its XDS-METADATA carried, and the columns the FHIR search reads.
 */
export interface ArchiveDocumentsTable {
  /** DocumentReference.id as the archive serves it (the id the copy's DocumentReference had). */
  id: string;
  /** The AS4 MessageId the copy arrived with: the idempotency key of a delivery (the AP may deliver again). */
  as4_message_id: string;
  /** The copy's SBDH InstanceIdentifier. */
  envelope_id: string;
  /** MESSAGEIDENTIFIER of the copy: the MessageHeader.id of the message it copies. */
  message_id: string;
  /** `0088:<GLN>` of the sending participant. */
  sender: string;
  /** The patient's CPR (`patient:identifier`). */
  patient_cpr: string;
  /** `type.coding[0]` as `system|code` (`type`). */
  type_token: string;
  /** `type.coding[0].code` alone (`type=code`). */
  type_code: string;
  /** DocumentReference.date, else the attachment's creation: epoch ms (`date`). */
  date: number;
  /** The author organisation's SOR code (`author:identifier`). */
  author_sor: string;
  /** DocumentReference.status (`status`). */
  status: string;
  /** The document's content type (the attachment's; the BinaryContent's mimeType). */
  content_type: string;
  /** Blob of the document (the message's octets). */
  document_hash: string;
  document_size: number;
  /** The DocumentReference as served (JSON text). */
  content: string;
  created_at: number;
}

export type ArchiveTables = {
  archive_documents: ArchiveDocumentsTable;
};

/** The columns that name a blob, for the node's blob collector. */
export const ARCHIVE_BLOB_REFERENCES = [
  ['archive_documents', 'document_hash'],
] as const satisfies readonly (readonly [string, string])[];

export type ArchiveStore = Store<ArchiveTables>;
