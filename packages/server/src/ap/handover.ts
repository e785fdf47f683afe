import type { Kysely, Selectable } from 'kysely';
import type { Logger } from 'pino';
import { alongside, type MshBackend } from '../contract.ts';
import type { DeliveryStatusReporter } from '../delivery-status/index.ts';
import { fixedStatement, type Job, type JobContext } from '../store/index.ts';
import type { HeldEnvelopes } from './held.ts';
import { OUTBOUND_ROW } from './send.ts';
import type { ApReceivedTable, ApStore, ApTables } from './tables.ts';

/**
 * The `ap.deliver` job: hand a committed envelope to the MSH (ehmi-core §1.2 step 4: the receiving AP forwards the
 * SBD to its MSH). At-least-once call, exactly-once effect: `deliver` is idempotent on the AS4 MessageId, and the
 * row is marked delivered only after it resolved. While the MSH is unavailable the job is retried (ap.handover).
 */
export function deliverHandler(
  store: ApStore,
  backend: MshBackend,
  logger: Logger,
  now: () => number,
  eds?: DeliveryStatusReporter,
  held?: HeldEnvelopes,
) {
  return async (job: Job<{ messageId: string }>, { complete }: JobContext): Promise<void> => {
    // The row the reception just wrote, handed with the job (its first try, in this process), or read.
    const row =
      (job.local as Selectable<ApReceivedTable> | undefined) ??
      (await store.db
        .selectFrom('ap_received')
        .selectAll()
        .where('message_id', '=', job.payload.messageId)
        .executeTakeFirst());
    if (row?.status !== 'received' || row.blob_hash === null) return;
    const blob = { hash: row.blob_hash, size: row.blob_size ?? 0 };
    const facts = eds?.enabled && row.eds_facts ? JSON.parse(row.eds_facts) : undefined;
    // Delivered, and the job done: committed with the MSH's own record when both share the store, else on its own.
    const delivered = async (trx: Parameters<typeof complete>[0]): Promise<void> => {
      const at = now();
      const marked = await HAND_OVER.affected(trx, { at, messageId: row.message_id });
      await complete(trx);
      // 04.2 (09.2, 14.2, 19.2): handed to the MSH, which committed it.
      if (facts && marked === 1) {
        await eds!.report(trx, { station: 'AP', side: 'destination', subtype: 'msg-sent', facts, at });
      }
    };
    const part = alongside(store.db, delivered);
    await backend.deliver(
      {
        as4MessageId: row.message_id,
        sender: row.sender,
        receiver: row.receiver,
        process: row.process,
        documentType: row.document_type,
        receivedAt: row.received_at,
        envelope: { size: blob.size, hash: blob.hash, open: () => store.blobs.open(blob) },
        // Read and parsed at the commit, in this process: the MSH takes it as it is (`held.ts`).
        read: held?.take(row.message_id, blob.hash),
      },
      part,
    );
    if (!part.committed()) await store.transaction(delivered);
    if (facts) eds!.wake();
    logger.info({ messageId: row.message_id }, 'AS4 message delivered to the MSH');
  };
}

/** The `ap.outcome` job: tell the MSH what became of a submission (`sent` / `failed`), once it is final. */
export function outcomeHandler(store: ApStore, backend: MshBackend, now: () => number) {
  return async (job: Job<{ submissionId: string }>, { complete }: JobContext): Promise<void> => {
    const row = await OUTBOUND_ROW.first(store.db, { submission: job.payload.submissionId });
    if (!row || row.status === 'pending' || row.outcome_at !== null) return;
    // Told, and the job done: committed with the MSH's own record when both share the store, else on its own.
    const told = async (trx: Parameters<typeof complete>[0]): Promise<void> => {
      await trx
        .updateTable('ap_outbound')
        .set({ outcome_at: now() })
        .where('submission_id', '=', row.submission_id)
        .execute();
      await complete(trx);
    };
    const part = alongside(store.db, told);
    await backend.outcome(
      {
        submissionId: row.submission_id,
        as4MessageId: row.as4_message_id,
        status: row.status,
        at: row.finished_at ?? row.updated_at,
        ...(row.ebms_code ? { ebmsCode: row.ebms_code } : {}),
        ...(row.reason ? { reason: row.reason } : {}),
        ...(row.endpoint_url ? { endpointUrl: row.endpoint_url } : {}),
      },
      part,
    );
    if (!part.committed()) await store.transaction(told);
  };
}

/** A received message marked handed over, unless it was already, built once (store/fixed.ts). */
const HAND_OVER = fixedStatement(['at', 'messageId'], (db, p) =>
  (db as Kysely<ApTables>)
    .updateTable('ap_received')
    .set({ status: 'delivered', delivered_at: p.at })
    .where('message_id', '=', p.messageId)
    .where('status', '=', 'received'),
);
