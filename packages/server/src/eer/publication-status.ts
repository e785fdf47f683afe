import { isEhmiError } from '@ehmi/errors';
import type { Kysely } from 'kysely';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { EerType } from './profiles.ts';
import { affectedOrganizations, type PropagationTarget } from './propagate.ts';
import type { EerRepository, Json } from './repository.ts';
import type { EerPublicationTable, EerStore, EerTables, PublicationStatus } from './tables.ts';

/**
 * Where each organisation's publication to the SMP and to EAS stands (table `eer_publication`), so that a failed
 * propagation is visible on the register (`GET /{type}/{id}/$publication-status`), in `/metrics` and in the CLI,
 * not only in the log: `pending` from the write that asks for it, then `published` or `failed` with the reason.
 */
export class PublicationLedger {
  readonly #now: () => number;

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  now(): number {
    return this.#now();
  }

  /** In the write's transaction, beside the job it enqueues: a publication is asked for. */
  async requested(trx: Kysely<EerTables>, organizationId: string, target: PropagationTarget): Promise<void> {
    const at = this.#now();
    await trx
      .insertInto('eer_publication')
      .values({
        organization_id: organizationId,
        target,
        status: 'pending',
        requested_at: at,
        attempted_at: null,
        published_at: null,
        failures: 0,
        gave_up: 0,
        reason: null,
      })
      .onConflict((oc) =>
        oc
          .columns(['organization_id', 'target'])
          .doUpdateSet({ status: 'pending', requested_at: at, gave_up: 0 }),
      )
      .execute();
  }

  /**
   * A propagation job's result. `startedAt` is when the job read the organisation: a write asked for after it
   * (`requested_at` later) is not covered by this attempt, so the row stays pending for the job that write queued.
   */
  async attempted(
    db: Kysely<EerTables>,
    organizationId: string,
    target: PropagationTarget,
    startedAt: number,
    result: { ok: true; notes?: readonly string[] } | { ok: false; error: unknown; final: boolean },
  ): Promise<void> {
    const at = this.#now();
    const update = result.ok
      ? {
          status: 'published' as const,
          attempted_at: at,
          published_at: at,
          failures: 0,
          gave_up: 0,
          reason: null,
          notes: result.notes && result.notes.length > 0 ? JSON.stringify(result.notes) : null,
        }
      : {
          status: 'failed' as const,
          attempted_at: at,
          gave_up: result.final ? 1 : 0,
          reason: failureReason(result.error),
        };
    await db
      .insertInto('eer_publication')
      .values({
        organization_id: organizationId,
        target,
        requested_at: startedAt,
        published_at: null,
        notes: null,
        failures: result.ok ? 0 : 1,
        ...update,
      })
      .onConflict((oc) =>
        oc
          .columns(['organization_id', 'target'])
          .doUpdateSet((eb) => ({
            ...update,
            ...(result.ok ? {} : { failures: eb('eer_publication.failures', '+', 1) }),
          }))
          .where('eer_publication.requested_at', '<=', startedAt),
      )
      .execute();
  }
}

/** What a reader of the register is told about a failure: an EhmiError's message; anything else stays in the log. */
function failureReason(error: unknown): string {
  if (isEhmiError(error) && error.code !== 'EHMI_INTERNAL') return error.message;
  return 'internal error (see the EER log)';
}

export interface PublicationState {
  organizationId: string;
  target: string;
  status: PublicationStatus;
  requestedAt: number;
  attemptedAt: number | null;
  publishedAt: number | null;
  failures: number;
  /** No retry follows until the next write (the job was dead-lettered). */
  gaveUp: boolean;
  reason: string | null;
  /** What the last successful publication left out, and why (an endpoint without GLN or AP certificate). */
  notes: string[];
}

function stateOf(row: EerPublicationTable): PublicationState {
  return {
    organizationId: row.organization_id,
    target: row.target,
    status: row.status,
    requestedAt: Number(row.requested_at),
    attemptedAt: row.attempted_at === null ? null : Number(row.attempted_at),
    publishedAt: row.published_at === null ? null : Number(row.published_at),
    failures: Number(row.failures),
    gaveUp: Number(row.gave_up) === 1,
    reason: row.reason,
    notes: row.notes ? (JSON.parse(row.notes) as string[]) : [],
  };
}

/** The publication states of some organisations, by organisation and target. */
export async function publicationStates(
  db: Kysely<EerTables>,
  organizationIds: readonly string[],
): Promise<PublicationState[]> {
  if (organizationIds.length === 0) return [];
  const rows = await db
    .selectFrom('eer_publication')
    .selectAll()
    .where('organization_id', 'in', organizationIds)
    .orderBy('organization_id')
    .orderBy('target')
    .execute();
  return rows.map(stateOf);
}

/**
 * The publication states that concern a resource: an Organization's own; an Endpoint's or Device's through the
 * organisations that list it (for a deleted one, as its last version listed them). Undefined: no such resource.
 */
export async function publicationStatesOf(
  repository: EerRepository,
  db: Kysely<EerTables>,
  type: EerType,
  id: string,
  base: string | undefined,
): Promise<PublicationState[] | undefined> {
  const versions = await repository.history(type, id);
  if (versions.length === 0) return undefined;
  const last = versions.find((v) => v.resource)?.resource;
  const organizations = await affectedOrganizations(db, { type, id, before: last, after: undefined }, base);
  return publicationStates(db, organizations);
}

const instant = (ms: number | null) => (ms === null ? [] : [new Date(ms).toISOString()]);

/**
 * The answer of `$publication-status`: a FHIR Parameters resource with one `publication` per organisation and
 * target (an Endpoint or Device is published through the organisations that list it).
 */
export function publicationParameters(states: readonly PublicationState[]): Json {
  const parameter = states.map((s) => ({
    name: 'publication',
    part: [
      { name: 'organization', valueReference: { reference: `Organization/${s.organizationId}` } },
      { name: 'target', valueCode: s.target },
      { name: 'status', valueCode: s.status },
      { name: 'requested', valueInstant: new Date(s.requestedAt).toISOString() },
      ...instant(s.attemptedAt).map((v) => ({ name: 'attempted', valueInstant: v })),
      ...instant(s.publishedAt).map((v) => ({ name: 'published', valueInstant: v })),
      { name: 'failures', valueInteger: s.failures },
      { name: 'retrying', valueBoolean: s.status === 'failed' && !s.gaveUp },
      ...(s.reason ? [{ name: 'reason', valueString: s.reason }] : []),
      ...s.notes.map((n) => ({ name: 'note', valueString: n })),
    ],
  }));
  return { resourceType: 'Parameters', ...(parameter.length > 0 ? { parameter } : {}) };
}

/**
 * The register's publication metrics on its `/metrics`: `ehmi_eer_publications{target,status}` (organisations by
 * the state of their last publication, read from the table at each scrape, so every instance reports the same) and
 * `ehmi_eer_publication_failures_total{target}` (failed attempts of this instance). Returns the failure counter.
 */
export function publicationMetrics(
  registry: Registry,
  store: EerStore,
  targets: readonly PropagationTarget[],
): Counter<'target'> {
  new Gauge({
    name: 'ehmi_eer_publications',
    help: 'Organisations by the state of their last publication to a target (smp, eas): pending, published, failed',
    labelNames: ['target', 'status'] as const,
    registers: [registry],
    async collect() {
      const rows = await store.db
        .selectFrom('eer_publication')
        .select(['target', 'status', (eb) => eb.fn.countAll<number>().as('n')])
        .groupBy(['target', 'status'])
        .execute();
      this.reset();
      // Every target and state is a series, 0 included, so an alert on `failed > 0` has a series to watch.
      for (const target of targets)
        for (const status of ['pending', 'published', 'failed']) this.set({ target, status }, 0);
      for (const r of rows) this.set({ target: r.target, status: r.status }, Number(r.n));
    },
  });
  const failures = new Counter({
    name: 'ehmi_eer_publication_failures_total',
    help: 'Failed attempts to publish an organisation to a target (smp, eas)',
    labelNames: ['target'] as const,
    registers: [registry],
  });
  for (const target of targets) failures.inc({ target }, 0);
  return failures;
}
