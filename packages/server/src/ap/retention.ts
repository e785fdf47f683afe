import type { ApStore } from './tables.ts';

/**
 * Retention of the AP's tables. Received rows (the duplicate cache and the receipt returned for duplicates) are
 * removed `duplicateRetentionMs` after reception, and only once delivered (or test messages): a row that still
 * guards an undelivered message is never purged. Finished outbound rows go after `outboundRetentionMs`, once the
 * MSH has taken their outcome. Payload blobs are content-addressed and shared with the MSH, so the AP never deletes
 * them; the node-wide blob sweep does (DESIGN-NOTES, Foundation: blobs). Evidence rows (`evidence.ts`) go
 * `evidenceRetentionMs` after they were written; their blobs then go with the node's blob collector.
 */
export async function sweepRetention(
  store: ApStore,
  options: {
    now: number;
    duplicateRetentionMs: number;
    outboundRetentionMs: number;
    evidenceRetentionMs: number;
  },
): Promise<{ received: number; outbound: number; evidence: number }> {
  const received = await store.db
    .deleteFrom('ap_received')
    .where('status', 'in', ['delivered', 'test'])
    .where('received_at', '<', options.now - options.duplicateRetentionMs)
    .executeTakeFirst();
  const outbound = await store.db
    .deleteFrom('ap_outbound')
    .where('status', 'in', ['sent', 'failed'])
    .where('outcome_at', 'is not', null)
    .where('finished_at', '<', options.now - options.outboundRetentionMs)
    .executeTakeFirst();
  const evidence = await store.db
    .deleteFrom('ap_evidence')
    .where('received_at', '<', options.now - options.evidenceRetentionMs)
    .executeTakeFirst();
  return {
    received: Number(received.numDeletedRows),
    outbound: Number(outbound.numDeletedRows),
    evidence: Number(evidence.numDeletedRows),
  };
}
