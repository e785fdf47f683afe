import type { ApStore } from './tables.ts';

/**
 * Retention of the AP's tables. Received rows (the duplicate cache and the receipt returned for duplicates) are
 * removed `duplicateRetentionMs` after reception, and only once delivered (or test messages): a row that still
 * guards an undelivered message is never purged. Finished outbound rows go after `outboundRetentionMs`, once the
 * MSH has taken their outcome. Payload blobs are content-addressed and shared with the MSH, so the AP never deletes
 * them; the node-wide blob sweep does (DESIGN-NOTES, Foundation: blobs).
 */
export async function sweepRetention(
  store: ApStore,
  options: { now: number; duplicateRetentionMs: number; outboundRetentionMs: number },
): Promise<{ received: number; outbound: number }> {
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
  return { received: Number(received.numDeletedRows), outbound: Number(outbound.numDeletedRows) };
}
