import { createHash, type X509Certificate } from 'node:crypto';
import { oneLineName } from '@ehmi/pki';
import type { Kysely, Transaction } from 'kysely';
import { columnsOf, fixedStatement } from '../store/fixed.ts';
import type { ApEvidenceTable, ApStore, ApTables } from './tables.ts';

/**
 * Non-repudiation evidence of origin and of receipt (AS4 Profile §5.1.8 NRR receipts; eDelivery AS4 1.15
 * `SendReceipt.NonRepudiation=true`): the receiver keeps the signed SOAP part of each UserMessage it accepted, the
 * sender the signed receipt of each message it sent, exactly as received, with the signer's certificate chain.
 * The bytes are in the row, written in the transaction that accepts the message or records it `sent`, so evidence
 * exists exactly when that did. A duplicate
 * adds no row (the key is MessageId + kind).
 */
export type EvidenceKind = ApEvidenceTable['kind'];

/** The kinds of evidence an access point keeps. */
export const EVIDENCE_KINDS: readonly EvidenceKind[] = ['user-message', 'receipt'];

/** The certificates as one PEM chain, signer first. */
export function pemChain(chain: readonly X509Certificate[]): string {
  return `${chain.map((c) => c.toString().trim()).join('\n')}\n`;
}

export interface EvidenceItem {
  messageId: string;
  kind: EvidenceKind;
  direction: ApEvidenceTable['direction'];
  counterpart: string;
  /** Signer first, the chain as received. */
  chain: readonly X509Certificate[];
  /** The signed octets exactly as received. */
  bytes: Uint8Array;
  at: number;
}

/** Adds the evidence row in the caller's transaction; an existing one for the same MessageId and kind stays. */
export async function recordEvidence(trx: Transaction<ApTables>, item: EvidenceItem): Promise<void> {
  const signer = item.chain[0]!;
  await RECORD_EVIDENCE.run(trx, {
    message_id: item.messageId,
    kind: item.kind,
    direction: item.direction,
    counterpart: item.counterpart,
    signer_subject: oneLineName(signer.subject),
    signer_serial: signer.serialNumber,
    certificate_chain: pemChain(item.chain),
    content: Buffer.from(item.bytes).toString('base64'),
    size: item.bytes.byteLength,
    sha256: createHash('sha256').update(item.bytes).digest('hex'),
    received_at: item.at,
  });
}

const EVIDENCE_COLUMNS = columnsOf<ApEvidenceTable>()([
  'message_id',
  'kind',
  'direction',
  'counterpart',
  'signer_subject',
  'signer_serial',
  'certificate_chain',
  'content',
  'size',
  'sha256',
  'received_at',
]);

/** The evidence row's INSERT, built once (store/fixed.ts). */
const RECORD_EVIDENCE = fixedStatement(EVIDENCE_COLUMNS, (db, p) =>
  (db as Kysely<ApTables>)
    .insertInto('ap_evidence')
    .values(p)
    .onConflict((oc) => oc.columns(['message_id', 'kind']).doNothing()),
);

/** The evidence rows of one AS4 MessageId, in kind order. */
export async function listEvidence(db: ApStore['db'], messageId: string) {
  return db
    .selectFrom('ap_evidence')
    .selectAll()
    .where('message_id', '=', messageId)
    .orderBy('kind')
    .execute();
}

/** One evidence row, or undefined. */
export async function findEvidence(db: ApStore['db'], messageId: string, kind: EvidenceKind) {
  return db
    .selectFrom('ap_evidence')
    .selectAll()
    .where('message_id', '=', messageId)
    .where('kind', '=', kind)
    .executeTakeFirst();
}
