import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AuditRecord } from './record.ts';
import type { AuditEventsTable, AuditStore } from './tables.ts';

const DAY_MS = 86_400_000;

export interface AuditLogOptions {
  logger: Logger;
  /** Buffered records are written at least this often. Default 200 ms. */
  flushIntervalMs?: number;
  /** Records per insert; a buffer this full is flushed at once. Default 500. */
  batchSize?: number;
  /** Records waiting in memory at most; beyond, the oldest are dropped (counted, logged). Default 50,000. */
  bufferLimit?: number;
  /** Records older than this many days are deleted by {@link AuditLog.sweep}. Default 400. */
  retentionDays?: number;
  /** How often the retention sweep runs once started. Default 1 hour. */
  sweepIntervalMs?: number;
  now?: () => number;
}

/** A search of the audit log (the operator's FHIR search, `search.ts`). */
export interface AuditQuery {
  /** Epoch-ms bounds on `recorded`. */
  after?: { at: number; inclusive: boolean }[];
  before?: { at: number; inclusive: boolean }[];
  patient?: string;
  clientId?: string;
  outcome?: string[];
  subtype?: string[];
  /** A request id or a resource (`Type/id`). */
  entity?: string;
  requestId?: string;
  service?: string;
  minlog?: boolean;
  newestFirst?: boolean;
  limit: number;
  offset?: number;
}

function rowOf(r: AuditRecord): AuditEventsTable {
  return {
    id: r.id,
    recorded: r.recorded,
    service: r.service,
    client_id: r.caller.clientId ?? null,
    patient: r.patient ?? null,
    outcome: r.outcome,
    status: r.status,
    request_id: r.requestId,
    operation: r.subtype,
    resource: r.resource ?? null,
    minlog: r.minlog ? 1 : 0,
    record: JSON.stringify(r),
  };
}

/**
 * The node's audit log: one record per call to any of its servers (`http.ts` makes them), kept in `audit_events`.
 *
 * Cheap on the hot path: {@link add} puts a record in a buffer, written in batches (one multi-row insert per
 * `batchSize` records, at least every `flushIntervalMs`) and on {@link close}. A crash loses what the buffer holds
 * (at most `flushIntervalMs` of calls when the database keeps up). Person-specific lookups (MinLog) are never left to
 * the buffer: {@link write} commits them before the answer leaves (`http.ts`), and the call fails when it cannot.
 *
 * Bounded: when the database is slow or down the buffer keeps at most `bufferLimit` records; the oldest beyond it
 * are dropped, counted in `ehmi_audit_records_dropped_total` and logged (ATNA's local buffering, never a silent loss).
 */
export class AuditLog {
  readonly #store: AuditStore;
  readonly #logger: Logger;
  readonly #flushIntervalMs: number;
  readonly #batchSize: number;
  readonly #bufferLimit: number;
  readonly #retentionMs: number;
  readonly #sweepIntervalMs: number;
  readonly #now: () => number;
  #buffer: AuditRecord[] = [];
  #flushing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;
  #sweeping: Promise<unknown> | undefined;
  #closed = false;
  #started = false;
  #dropped = 0;
  #lastDropLog = 0;
  #failing = false;
  readonly #metrics = {
    written: undefined as Counter | undefined,
    dropped: undefined as Counter | undefined,
    failures: undefined as Counter | undefined,
  };

  constructor(store: AuditStore, options: AuditLogOptions) {
    this.#store = store;
    this.#logger = options.logger;
    this.#flushIntervalMs = options.flushIntervalMs ?? 200;
    this.#batchSize = options.batchSize ?? 500;
    this.#bufferLimit = options.bufferLimit ?? 50_000;
    this.#retentionMs = (options.retentionDays ?? 400) * DAY_MS;
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 3_600_000;
    this.#now = options.now ?? Date.now;
  }

  /** The clock records are stamped with. */
  now(): number {
    return this.#now();
  }

  /** Records dropped since start because the buffer was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Records waiting to be written. */
  get buffered(): number {
    return this.#buffer.length;
  }

  /** The log's metrics on a server's registry (the node's own server: one log per node). */
  registerMetrics(registry: Registry): void {
    const registers = [registry];
    this.#metrics.written = new Counter({
      name: 'ehmi_audit_records_written_total',
      help: 'Audit records written to the database',
      registers,
    });
    this.#metrics.dropped = new Counter({
      name: 'ehmi_audit_records_dropped_total',
      help: 'Audit records lost because the buffer was full (the database was slow or down)',
      registers,
    });
    this.#metrics.failures = new Counter({
      name: 'ehmi_audit_write_failures_total',
      help: 'Failed writes of audit records (retried while they stay in the buffer)',
      registers,
    });
    const log = this;
    new Gauge({
      name: 'ehmi_audit_records_buffered',
      help: 'Audit records waiting in memory to be written',
      registers,
      collect() {
        this.set(log.buffered);
      },
    });
  }

  /**
   * Start the retention timer. The flush timer runs only while records wait: it is set when a record comes to an
   * empty buffer and fires once (an idle node does not wake to flush nothing).
   */
  start(): void {
    this.#started = true;
    this.#schedule();
    this.#sweepTimer ??= setInterval(() => {
      if (this.#sweeping) return;
      this.#sweeping = this.sweep()
        .then(
          (n) => n > 0 && this.#logger.info({ removed: n }, 'audit records past audit.retentionDays removed'),
        )
        .catch((err) => this.#logger.warn({ err }, 'audit retention sweep failed'))
        .finally(() => {
          this.#sweeping = undefined;
        });
    }, this.#sweepIntervalMs);
    this.#sweepTimer.unref();
  }

  /** Buffer a record; it is written with the next flush. */
  add(record: AuditRecord): void {
    if (this.#closed) {
      // After close (a late response of a closing server): write it on its own, best effort.
      this.write(record).catch((err) => this.#lost(1, err));
      return;
    }
    this.#buffer.push(record);
    if (this.#buffer.length > this.#bufferLimit) this.#lost(this.#buffer.length - this.#bufferLimit);
    if (this.#buffer.length >= this.#batchSize && !this.#failing) void this.flush();
    else this.#schedule();
  }

  /** A flush within `flushIntervalMs` while records wait (one timer at a time; none while the buffer is empty). */
  #schedule(): void {
    if (!this.#started || this.#closed || this.#timer || this.#buffer.length === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, this.#flushIntervalMs);
    this.#timer.unref();
  }

  /** Write one record now (a person-specific lookup: never left to the buffer). Rejects when it cannot. */
  async write(record: AuditRecord): Promise<void> {
    await this.#store.db.insertInto('audit_events').values(rowOf(record)).execute();
    this.#metrics.written?.inc();
  }

  /** Write what the buffer holds, in batches; on failure the records stay buffered (bounded) for the next flush. */
  flush(): Promise<void> {
    this.#flushing ??= this.#flushAll().finally(() => {
      this.#flushing = undefined;
      // What came meanwhile, or what a failed write left (tried again an interval later).
      this.#schedule();
    });
    return this.#flushing;
  }

  async #flushAll(): Promise<void> {
    while (this.#buffer.length > 0) {
      const batch = this.#buffer.splice(0, this.#batchSize);
      try {
        await this.#store.db.insertInto('audit_events').values(batch.map(rowOf)).execute();
        this.#metrics.written?.inc(batch.length);
        if (this.#failing) this.#logger.info('audit log: writing again');
        this.#failing = false;
      } catch (err) {
        this.#metrics.failures?.inc();
        // Back in front, in order; what no longer fits is lost, and counted.
        this.#buffer = batch.concat(this.#buffer);
        if (this.#buffer.length > this.#bufferLimit) this.#lost(this.#buffer.length - this.#bufferLimit);
        if (!this.#failing) {
          this.#logger.error(
            { err, buffered: this.#buffer.length },
            'audit log: cannot write records, keeping them buffered',
          );
        }
        this.#failing = true;
        return;
      }
    }
  }

  /** Drop the `n` oldest buffered records (or count `n` lost elsewhere), counted and logged. */
  #lost(n: number, err?: unknown): void {
    if (n <= 0) return;
    if (!err) this.#buffer.splice(0, n);
    this.#dropped += n;
    this.#metrics.dropped?.inc(n);
    const at = Date.now();
    if (at - this.#lastDropLog >= 10_000 || err) {
      this.#lastDropLog = at;
      this.#logger.error(
        { err, dropped: n, droppedTotal: this.#dropped, bufferLimit: this.#bufferLimit },
        'audit log: records lost (the buffer is full or the database cannot take them)',
      );
    }
  }

  /** Delete records older than the retention period (as of `now`); resolves to the number deleted. */
  async sweep(now = this.#now()): Promise<number> {
    const result = await this.#store.db
      .deleteFrom('audit_events')
      .where('recorded', '<', now - this.#retentionMs)
      .executeTakeFirst();
    return Number(result.numDeletedRows ?? 0);
  }

  /** The records a query selects (one more than `limit` tells the caller there is a next page). */
  async search(q: AuditQuery): Promise<AuditRecord[]> {
    let s = this.#store.db.selectFrom('audit_events').select('record');
    for (const b of q.after ?? []) s = s.where('recorded', b.inclusive ? '>=' : '>', b.at);
    for (const b of q.before ?? []) s = s.where('recorded', b.inclusive ? '<=' : '<', b.at);
    if (q.patient !== undefined) s = s.where('patient', '=', q.patient);
    if (q.clientId !== undefined) s = s.where('client_id', '=', q.clientId);
    if (q.outcome?.length) s = s.where('outcome', 'in', q.outcome);
    if (q.subtype?.length) s = s.where('operation', 'in', q.subtype);
    if (q.requestId !== undefined) s = s.where('request_id', '=', q.requestId);
    if (q.service !== undefined) s = s.where('service', '=', q.service);
    if (q.minlog !== undefined) s = s.where('minlog', '=', q.minlog ? 1 : 0);
    if (q.entity !== undefined) {
      const e = q.entity;
      s = s.where((eb) => eb.or([eb('request_id', '=', e), eb('resource', '=', e), eb('id', '=', e)]));
    }
    const order = q.newestFirst === false ? 'asc' : 'desc';
    const rows = await s
      .orderBy('recorded', order)
      .orderBy('id', order)
      .limit(q.limit)
      .offset(q.offset ?? 0)
      .execute();
    return rows.map((r) => JSON.parse(r.record) as AuditRecord);
  }

  /** Stop the timers and write what is buffered (the node closes its servers first, its store after). */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    clearInterval(this.#sweepTimer);
    await this.#sweeping;
    await this.flush();
    if (this.#buffer.length > 0) {
      const n = this.#buffer.length;
      this.#lost(n);
    }
  }
}
