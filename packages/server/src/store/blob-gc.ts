import { lstat, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
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

export interface BlobSweepOptions {
  /** A file modified more recently than this is left: the put that wrote it may not have been noted yet. */
  graceMs: number;
  now?: number;
  /** Files looked at per run, about (the fan-out folder in hand is finished). */
  limit?: number;
  /** Every column of the node that names a blob, as for {@link collectBlobGarbage}. */
  references: readonly BlobReference[];
  /** The top fan-out folder (`00`–`ff`) to start at: the `next` of the previous run. */
  from?: string;
}

export interface BlobSweepResult {
  removed: number;
  /** Where the next run goes on (the top fan-out folder after the last one looked at). */
  next: string;
}

const HEX2 = /^[0-9a-f]{2}$/;
const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Remove blob files that no `blobs` row and no column of `references` names, modified longer ago than the grace
 * period, and the blob store's temporary files as old: what a crash left between a put and the commit of the
 * transaction that would have named it (the file durable, the row never written), which {@link collectBlobGarbage}
 * (it walks rows) never sees. The work per run is bounded (`limit` files, then `next`): a large store is swept over
 * several runs.
 *
 * Each removal is one transaction that first inserts the blob's row (doing nothing when one exists: then the blob is
 * noted, and the row collector's), checks the columns again, deletes the file and then the row before it commits.
 * A writer notes a blob (`noteBlob`, `storeBlob`) by writing its row and then checking the file; on the same
 * database (two instances share one) that write waits for the sweep's row, so the writer either noted first (the
 * sweep finds the row and leaves the file) or checks after the sweep committed, finds the file gone and stores it
 * again. The age is a margin on top, not the guard.
 */
export async function sweepUnnamedBlobs(
  store: AnyStore,
  options: BlobSweepOptions,
): Promise<BlobSweepResult> {
  const now = options.now ?? Date.now();
  const cutoff = now - options.graceMs;
  const limit = options.limit ?? 5_000;
  let removed = await sweepTemporaryFiles(join(store.blobs.dir, 'tmp'), cutoff);
  const root = join(store.blobs.dir, 'sha256');
  const tops = (await readdir(root).catch(() => [] as string[])).filter((n) => HEX2.test(n)).sort();
  if (tops.length === 0) return { removed, next: '' };
  const first = Math.max(
    0,
    tops.findIndex((t) => t >= (options.from ?? '')),
  );
  let examined = 0;
  for (let k = 0; k < tops.length; k++) {
    const top = tops[(first + k) % tops.length]!;
    const old: { hash: string; size: number }[] = [];
    for (const sub of await readdir(join(root, top)).catch(() => [] as string[])) {
      if (!HEX2.test(sub)) continue;
      for (const name of await readdir(join(root, top, sub)).catch(() => [] as string[])) {
        if (!HEX64.test(name) || !name.startsWith(top + sub)) continue;
        examined++;
        const found = await lstat(join(root, top, sub, name)).catch(() => undefined);
        if (found?.isFile() && found.mtimeMs < cutoff) old.push({ hash: `sha256:${name}`, size: found.size });
      }
    }
    removed += await removeUnnamed(store, old, options.references, cutoff);
    if (examined >= limit) return { removed, next: tops[(first + k + 1) % tops.length]! };
  }
  return { removed, next: tops[first]! };
}

/** Files of the blob store's temporary folder older than `cutoff`: a put or a written blob a crash interrupted. */
async function sweepTemporaryFiles(dir: string, cutoff: number): Promise<number> {
  let removed = 0;
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (!entry.isFile()) continue;
    const path = join(dir, entry.name);
    const found = await lstat(path).catch(() => undefined);
    if (!found || found.mtimeMs >= cutoff) continue;
    await unlink(path).then(
      () => removed++,
      () => {},
    );
  }
  return removed;
}

async function removeUnnamed(
  store: AnyStore,
  files: readonly { hash: string; size: number }[],
  references: readonly BlobReference[],
  cutoff: number,
): Promise<number> {
  let removed = 0;
  for (let i = 0; i < files.length; i += 500) {
    const batch = files.slice(i, i + 500);
    const hashes = batch.map((f) => f.hash);
    const noted = new Set(
      (await coreDb(store.db).selectFrom('blobs').select('hash').where('hash', 'in', hashes).execute()).map(
        (r) => r.hash,
      ),
    );
    const inUse = await referenced(store.db, hashes, references);
    for (const file of batch) {
      if (noted.has(file.hash) || inUse.has(file.hash)) continue;
      try {
        await store.transaction(async (t) => {
          const trx = coreDb(t);
          const inserted = await trx
            .insertInto('blobs')
            .values({ hash: file.hash, size: file.size, created_at: cutoff })
            .onConflict((oc) => oc.column('hash').doNothing())
            .executeTakeFirst();
          if (!inserted.numInsertedOrUpdatedRows) throw new Kept();
          if ((await referenced(trx, [file.hash], references)).size > 0) throw new Kept();
          // Written again meanwhile (a put renamed a fresh copy into place): its writer is about to note it.
          const found = await lstat(store.blobs.path(file.hash)).catch(() => undefined);
          if (!found || found.mtimeMs >= cutoff) throw new Kept();
          await store.blobs.delete(file.hash);
          await trx.deleteFrom('blobs').where('hash', '=', file.hash).execute();
        });
        removed++;
      } catch (err) {
        if (!(err instanceof Kept)) throw err;
      }
    }
  }
  return removed;
}
