import { sql } from 'kysely';
import type { AnyStore } from './db.ts';
import { type AnyDb, coreDb } from './types.ts';

/** A column that names blobs (`sha256:<hex>`): `[table, column]`. */
export type BlobReference = readonly [table: string, column: string];

export interface BlobGcOptions {
  /** A blob written (or written again) more recently than this is kept: its row may not be committed yet. */
  graceMs: number;
  now?: number;
  /** Blobs looked at per run. */
  limit?: number;
  /**
   * Every column of the node that names a blob. Each role declares its own (as it declares its migrations); the
   * blob store is the node's, shared and content-addressed (the MSH's envelope is also the AP's payload), so a blob
   * may go only when no column of any role names it.
   */
  references: readonly BlobReference[];
}

class Kept extends Error {}

async function referenced(
  db: AnyDb,
  hashes: readonly string[],
  references: readonly BlobReference[],
): Promise<Set<string>> {
  const found = new Set<string>();
  if (hashes.length === 0) return found;
  for (const [table, column] of references) {
    const rows = await sql<{ hash: string }>`select distinct ${sql.ref(column)} as hash from ${sql.table(
      table,
    )} where ${sql.ref(column)} in (${sql.join(hashes)})`.execute(db);
    for (const r of rows.rows) found.add(r.hash);
  }
  return found;
}

/**
 * Remove blobs no row names: those whose latest write (`blobs.created_at`, see `storeBlob`) is older than the grace
 * period and that no column of `references` names, including blobs written for a transaction that rolled
 * back. Each removal is one transaction that locks the blob's row, checks again, deletes the row and then the file
 * before it commits, so a concurrent `storeBlob` of the same content either refreshes the row first (and the blob
 * stays) or waits and finds the file gone (and writes it again). Returns the number of blobs removed.
 */
export async function collectBlobGarbage(store: AnyStore, options: BlobGcOptions): Promise<number> {
  const now = options.now ?? Date.now();
  const cutoff = now - options.graceMs;
  const references = options.references;
  const candidates = await coreDb(store.db)
    .selectFrom('blobs')
    .select('hash')
    .where('created_at', '<', cutoff)
    .orderBy('created_at')
    .limit(options.limit ?? 500)
    .execute();
  const inUse = await referenced(
    store.db,
    candidates.map((c) => c.hash),
    references,
  );
  let removed = 0;
  for (const { hash } of candidates) {
    if (inUse.has(hash)) continue;
    try {
      await store.transaction(async (t) => {
        const trx = coreDb(t);
        let query = trx.selectFrom('blobs').select('created_at').where('hash', '=', hash);
        if (store.engine === 'postgres') query = query.forUpdate();
        const row = await query.executeTakeFirst();
        if (!row || row.created_at >= cutoff) throw new Kept();
        if ((await referenced(trx, [hash], references)).size > 0) throw new Kept();
        await trx.deleteFrom('blobs').where('hash', '=', hash).execute();
        await store.blobs.delete(hash);
      });
      removed++;
    } catch (err) {
      if (!(err instanceof Kept)) throw err;
    }
  }
  return removed;
}
