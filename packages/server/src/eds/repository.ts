import { createHash, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { insertRows, isUniqueViolation } from '../store/index.ts';
import type { Viewer } from './access.ts';
import { type EventShape, Varying } from './profiles.ts';
import { visibleTo } from './search.ts';
import { indexEntries } from './search-params.ts';
import type { EdsStore, EdsTables } from './tables.ts';

export type Json = Record<string, unknown>;

/** An event as EDS stores it. */
export interface StoredEvent {
  id: string;
  lastUpdated: number;
  /** The event with id, meta.versionId (always 1) and meta.lastUpdated. */
  resource: Json;
}

/** Object keys as JSON strings, kept: the events' keys are a few dozen names, quoted once each. */
const quotedKeys = new Map<string, string>();
const QUOTED_KEYS_KEPT = 4096;

function quotedKey(key: string): string {
  let quoted = quotedKeys.get(key);
  if (quoted === undefined) {
    quoted = JSON.stringify(key);
    if (quotedKeys.size < QUOTED_KEYS_KEPT) quotedKeys.set(key, quoted);
  }
  return quoted;
}

/** Objects with more keys than this are sorted by `sort`, not by insertion. */
const INSERTION_SORTED_KEYS = 32;

/**
 * JSON text with every object's keys in order: the same event gives the same text however it was written. A
 * `Varying` (a shape's mark, never in a parsed body) is written as its index between two U+0000, which JSON text
 * never holds raw (`JSON.stringify` escapes every control character): `digestTemplate` splits there.
 */
function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (value instanceof Varying) return `\0${value.index}\0`;
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      // As this digest always wrote them (stored digests must not change): undefined in an array as nothing.
      const v = value[i] as unknown;
      if (v !== undefined) out += canonical(v);
    }
    return `${out}]`;
  }
  const object = value as Json;
  // Code-unit order, as the sort of the key strings gives it; most objects come in that order already. An event's
  // objects have a few keys each: sorted in place by insertion (`sort` copies them into a work array first, the
  // largest allocation of the central node's ingest); an object with many keys by `sort`, which never takes
  // quadratic time.
  const keys = Object.keys(object);
  if (keys.length > INSERTION_SORTED_KEYS) keys.sort();
  else
    for (let i = 1; i < keys.length; i++) {
      const key = keys[i]!;
      let j = i - 1;
      if (keys[j]! <= key) continue;
      while (j >= 0 && keys[j]! > key) {
        keys[j + 1] = keys[j]!;
        j--;
      }
      keys[j + 1] = key;
    }
  let out = '{';
  let first = true;
  for (const k of keys) {
    const v = object[k];
    if (v === undefined) continue;
    if (!first) out += ',';
    first = false;
    out += `${quotedKey(k)}:${canonical(v)}`;
  }
  return `${out}}`;
}

/**
 * The identity of an event: SHA-256 of its canonical content without `id` and `meta` (what the server assigns, and
 * the profile claim, which does not change what happened). A station's retry of a POST sends the same content.
 */
export function eventDigest(event: Json, shape?: EventShape): string {
  if (shape) return shapedDigest(shape);
  const { id: _id, meta: _meta, ...content } = event;
  return createHash('sha256').update(canonical(content)).digest('hex');
}

/**
 * The canonical text of a shape's events, split at its varying values: text, a value's index, text, … Events of one
 * shape have one JSON text but for those values (`shapeOf`), so one canonical text but for them: each is a string,
 * whose canonical text is its JSON. Kept by the shape's key, at most `TEMPLATES_KEPT` (the oldest out first).
 */
const templates = new Map<string, string[]>();
const TEMPLATES_KEPT = 1_000;

function digestTemplate(shape: EventShape): string[] {
  let parts = templates.get(shape.key);
  if (parts === undefined) {
    const { id: _id, meta: _meta, ...content } = shape.marked;
    parts = canonical(content).split('\0');
    templates.set(shape.key, parts);
    if (templates.size > TEMPLATES_KEPT) {
      const oldest = templates.keys().next().value;
      if (oldest !== undefined) templates.delete(oldest);
    }
  }
  return parts;
}

/** `eventDigest` of an event of `shape`: the same text, its values written into the shape's template. */
function shapedDigest(shape: EventShape): string {
  const parts = digestTemplate(shape);
  let text = parts[0]!;
  for (let i = 1; i < parts.length; i += 2) {
    text += JSON.stringify(shape.values[Number(parts[i])]) + parts[i + 1]!;
  }
  return createHash('sha256').update(text).digest('hex');
}

/**
 * A new event's id: a UUID of version 7 (RFC 9562 §5.7), the time in milliseconds first and 74 random bits after
 * it. The ids of events stored close in time sort together, so a commit's events land on the last pages of every
 * index that holds the id (`eds_events_id`, and `eds_search`'s entries of one value, such as an organisation's SOR,
 * which follow each other by event id) instead of one random page each: SQLite writes each page a commit changed to
 * the WAL, and with random (version 4) ids that was most of the ingest's commit.
 */
export function eventId(now: number): string {
  // The random bits from a version 4 UUID (node keeps a pool of random bytes for these, where a `randomBytes` call
  // per id was a synchronous call into OpenSSL): its time fields become the time, its version 4 a 7.
  const t = Math.trunc(Number.isFinite(now) ? Math.max(0, Math.min(now, 2 ** 48 - 1)) : 0)
    .toString(16)
    .padStart(12, '0');
  return `${t.slice(0, 8)}-${t.slice(8)}-7${randomUUID().slice(15)}`;
}

/** The row and index rows of one event, ready to insert (also the bench's bulk seeding). */
export function eventRows(
  event: Json,
  now: number,
  id: string = eventId(now),
  shape?: EventShape,
): {
  event: EdsTables['eds_events'];
  search: EdsTables['eds_search'][];
  stored: StoredEvent;
} {
  const { id: _id, meta, resourceType: _rt, ...rest } = event;
  const lastUpdated = new Date(now).toISOString();
  const resource: Json = {
    resourceType: 'AuditEvent',
    id,
    meta: { ...((meta as Json | undefined) ?? {}), versionId: '1', lastUpdated },
    ...rest,
  };
  const recorded = Date.parse(String(event.recorded));
  return {
    event: {
      id,
      digest: eventDigest(event, shape),
      recorded: Number.isFinite(recorded) ? recorded : 0,
      outcome: String(event.outcome ?? ''),
      last_updated: now,
      content: JSON.stringify(resource),
    },
    search: indexEntries(event).map((e) => ({ event_id: id, ...e })),
    stored: { id, lastUpdated: now, resource },
  };
}

/**
 * Insert rows in slices of at most `slice`, each slice one statement whose SQL is written once per row count and
 * engine (the store's `insertRows`): the ingest writes about a dozen rows per event.
 */
async function insertSlices<T extends keyof EdsTables & string>(
  db: Kysely<EdsTables>,
  table: T,
  columns: readonly (keyof EdsTables[T] & string)[],
  rows: readonly EdsTables[T][],
  slice: number,
): Promise<void> {
  for (let i = 0; i < rows.length; i += slice) await insertRows(db, table, columns, rows.slice(i, i + slice));
}

const EVENT_COLUMNS = ['digest', 'id', 'recorded', 'outcome', 'last_updated', 'content'] as const;
const SEARCH_COLUMNS = ['event_id', 'param', 'value', 'raw'] as const;

/** Insert rows of eds_search (a dozen an event). */
export function insertSearchRows(db: Kysely<EdsTables>, rows: EdsTables['eds_search'][]): Promise<void> {
  return insertSlices(db, 'eds_search', SEARCH_COLUMNS, rows, 200);
}

/** Insert rows of eds_events. */
function insertEventRows(db: Kysely<EdsTables>, rows: EdsTables['eds_events'][]): Promise<void> {
  return insertSlices(db, 'eds_events', EVENT_COLUMNS, rows, 100);
}

interface Pending {
  rows: ReturnType<typeof eventRows>;
  resolve: (result: { stored: StoredEvent; created: boolean }) => void;
  reject: (err: unknown) => void;
  /** The entries of one batch Bundle share this mark and are committed in one transaction. */
  batch?: object;
}

/** The most events one commit takes (the rest wait for the next). */
const GROUP_MAX = 200;

/**
 * EDS's storage: each event once (`eds_events`, unique on its digest) and its search index (`eds_search`).
 *
 * Registrations are committed in groups: the events posted while a commit runs are written together in the next
 * transaction (group commit), and each POST is answered once the commit that holds its event is durable. Every
 * station reports every step, so the ingest rate is bounded by commits (an fsync each on SQLite), not by rows.
 */
export class EdsRepository {
  readonly #store: EdsStore;
  readonly #now: () => number;
  #pending: Pending[] = [];
  #flushing = false;

  constructor(options: { store: EdsStore; now?: () => number }) {
    this.#store = options.store;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Store a validated event. The same event again (same digest) is not stored twice: the stored one is returned
   * with `created` false, also when two posts of it race (in one group, or on two instances). `shape`, the
   * validator's shape of this very event (`ValidationResult.shape`), gives its digest without a canonical pass.
   */
  create(event: Json, shape?: EventShape): Promise<{ stored: StoredEvent; created: boolean }> {
    return this.#enqueue(event, shape, undefined);
  }

  /**
   * Store validated events of one batch: all of them in one transaction (with whatever else is waiting), each
   * answered as `create` answers it (a repeat, or two equal events in the batch, is stored once).
   */
  createMany(
    events: Json[],
    shapes: readonly (EventShape | undefined)[] = [],
  ): Promise<{ stored: StoredEvent; created: boolean }[]> {
    const batch = {};
    return Promise.all(events.map((e, i) => this.#enqueue(e, shapes[i], batch)));
  }

  #enqueue(
    event: Json,
    shape: EventShape | undefined,
    batch: object | undefined,
  ): Promise<{ stored: StoredEvent; created: boolean }> {
    const rows = eventRows(event, this.#now(), undefined, shape);
    return new Promise((resolve, reject) => {
      this.#pending.push({ rows, resolve, reject, ...(batch ? { batch } : {}) });
      if (!this.#flushing) {
        this.#flushing = true;
        setImmediate(() => void this.#flush());
      }
    });
  }

  async #flush(): Promise<void> {
    while (this.#pending.length > 0) {
      let size = Math.min(GROUP_MAX, this.#pending.length);
      // A batch is not split over two commits.
      const last = this.#pending[size - 1]?.batch;
      while (last && size < this.#pending.length && this.#pending[size]?.batch === last) size++;
      const group = this.#pending.splice(0, size);
      try {
        await this.#writeGroup(group);
      } catch (err) {
        if (!isUniqueViolation(err)) {
          for (const p of group) p.reject(err);
          continue;
        }
        // Another instance stored one of these events meanwhile: each on its own, which finds it.
        for (const p of group) await this.#writeOne(p.rows).then(p.resolve, p.reject);
      }
    }
    this.#flushing = false;
  }

  async #writeGroup(group: Pending[]): Promise<void> {
    const results = await this.#store.db.transaction().execute(async (trx) => {
      const digests = [...new Set(group.map((p) => p.rows.event.digest))];
      const known = new Map<string, StoredEvent>();
      for (let i = 0; i < digests.length; i += 100) {
        const rows = await trx
          .selectFrom('eds_events')
          .select(['id', 'last_updated', 'content', 'digest'])
          .where('digest', 'in', digests.slice(i, i + 100))
          .execute();
        for (const r of rows) known.set(r.digest, toStored(r));
      }
      const fresh: Pending['rows'][] = [];
      const created = group.map((p) => {
        if (known.has(p.rows.event.digest)) return false;
        known.set(p.rows.event.digest, p.rows.stored);
        fresh.push(p.rows);
        return true;
      });
      await insertEventRows(
        trx,
        fresh.map((r) => r.event),
      );
      await insertSearchRows(
        trx,
        fresh.flatMap((r) => r.search),
      );
      return group.map((p, i) => ({ stored: known.get(p.rows.event.digest)!, created: created[i]! }));
    });
    group.forEach((p, i) => {
      p.resolve(results[i]!);
    });
  }

  async #writeOne(rows: Pending['rows']): Promise<{ stored: StoredEvent; created: boolean }> {
    const existing = await this.byDigest(rows.event.digest);
    if (existing) return { stored: existing, created: false };
    try {
      await this.#store.db.transaction().execute(async (trx) => {
        await insertEventRows(trx, [rows.event]);
        await insertSearchRows(trx, rows.search);
      });
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      const raced = await this.byDigest(rows.event.digest);
      if (!raced) throw err;
      return { stored: raced, created: false };
    }
    return { stored: rows.stored, created: true };
  }

  async byDigest(digest: string): Promise<StoredEvent | undefined> {
    const row = await this.#store.db
      .selectFrom('eds_events')
      .select(['id', 'last_updated', 'content'])
      .where('digest', '=', digest)
      .executeTakeFirst();
    return row ? toStored(row) : undefined;
  }

  /** The event, when `viewer` may see it (an event of others is as unknown as one that does not exist). */
  async read(id: string, viewer: Viewer): Promise<StoredEvent | undefined> {
    const db = this.#store.db;
    const q = visibleTo(
      db,
      db.selectFrom('eds_events').select(['id', 'last_updated', 'content']).where('id', '=', id),
      viewer,
    );
    const row = await q.executeTakeFirst();
    return row ? toStored(row) : undefined;
  }
}

function toStored(row: { id: string; last_updated: number | string; content: string }): StoredEvent {
  return { id: row.id, lastUpdated: Number(row.last_updated), resource: JSON.parse(row.content) as Json };
}
