import { randomBytes, randomUUID } from 'node:crypto';
import { EhmiError } from '@ehmi/errors';
import type { Selectable } from 'kysely';
import { QUEUES } from '../../path.ts';
import type { MshCore } from '../core.ts';
import type { MshWebhookDeliveriesTable, MshWebhooksTable } from '../tables.ts';
import type { WebhookEventType, WebhookJob } from './events.ts';

/**
 * A new signing secret (Standard Webhooks "Signature scheme", symmetric): 32 random octets, base64, prefixed
 * `whsec_` (the spec asks for 24 to 64).
 */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** A registration as the API shows it (never its secret, which only the answer of its creation carries). */
export function webhookJson(row: Selectable<MshWebhooksTable>) {
  return {
    id: row.id,
    url: row.url,
    events: JSON.parse(row.events) as WebhookEventType[],
    description: row.description,
    createdAt: new Date(row.created_at).toISOString(),
    createdBy: row.created_by,
    disabled:
      row.disabled_at === null
        ? null
        : { at: new Date(row.disabled_at).toISOString(), reason: row.disabled_reason },
  };
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** A delivery on the failure list, with its payload (thin: no patient data), so the EUA can act on it. */
export function failureJson(row: Selectable<MshWebhookDeliveriesTable>) {
  return {
    id: row.id,
    type: row.event_type,
    createdAt: iso(row.created_at),
    attempts: row.attempts,
    lastAttemptAt: iso(row.last_attempt_at),
    lastStatus: row.last_status,
    lastError: row.last_error,
    failedAt: iso(row.failed_at),
    payload: JSON.parse(row.body) as unknown,
  };
}

export async function registerWebhook(
  core: MshCore,
  input: {
    url: string;
    events: WebhookEventType[];
    description?: string | undefined;
    createdBy: string | null;
  },
): Promise<Selectable<MshWebhooksTable>> {
  const max = core.config.webhooks.maxRegistrations;
  const row: Selectable<MshWebhooksTable> = {
    id: randomUUID(),
    url: input.url,
    events: JSON.stringify(input.events),
    description: input.description ?? null,
    secret: newWebhookSecret(),
    created_by: input.createdBy,
    created_at: core.now(),
    disabled_at: null,
    disabled_reason: null,
  };
  await core.store.transaction(async (trx) => {
    const { n } = await trx
      .selectFrom('msh_webhooks')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    if (Number(n) >= max) {
      throw new EhmiError(
        'EHMI_CONFLICT',
        `this MSH keeps at most ${max} webhooks (msh.webhooks.maxRegistrations): remove one first`,
      );
    }
    await trx.insertInto('msh_webhooks').values(row).execute();
  });
  return row;
}

export async function listWebhooks(core: MshCore): Promise<Selectable<MshWebhooksTable>[]> {
  return core.store.db.selectFrom('msh_webhooks').selectAll().orderBy('created_at').orderBy('id').execute();
}

export async function findWebhook(core: MshCore, id: string): Promise<Selectable<MshWebhooksTable>> {
  const row = await core.store.db
    .selectFrom('msh_webhooks')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirst();
  if (!row) throw new EhmiError('EHMI_NOT_FOUND', `no webhook ${id}`);
  return row;
}

/** Remove a webhook and its deliveries in one commit: jobs still queued for it find nothing and end. */
export async function removeWebhook(core: MshCore, id: string): Promise<void> {
  await core.store.transaction(async (trx) => {
    const gone = await trx.deleteFrom('msh_webhooks').where('id', '=', id).executeTakeFirst();
    if (Number(gone.numDeletedRows) === 0) throw new EhmiError('EHMI_NOT_FOUND', `no webhook ${id}`);
    await trx.deleteFrom('msh_webhook_deliveries').where('webhook_id', '=', id).execute();
  });
}

/**
 * The webhook's failure list (Standard Webhooks "Visibility into failures and manual retries"): its deliveries
 * that are not delivered and will not be tried again: their last try failed (`failed_at`), or their job is no longer
 * live (dead-lettered when the worker that held its last try stopped). Oldest first, at most `limit`.
 */
export async function webhookFailures(
  core: MshCore,
  webhookId: string,
  limit = 1000,
): Promise<Selectable<MshWebhookDeliveriesTable>[]> {
  await findWebhook(core, webhookId);
  const undelivered = await core.store.db
    .selectFrom('msh_webhook_deliveries')
    .selectAll()
    .where('webhook_id', '=', webhookId)
    .where('delivered_at', 'is', null)
    .orderBy('created_at')
    .orderBy('id')
    .limit(limit * 4)
    .execute();
  const live = await core.queue.live(undelivered.filter((d) => d.failed_at === null).map((d) => d.job_id));
  return undelivered.filter((d) => d.failed_at !== null || !live.has(d.job_id)).slice(0, limit);
}

/**
 * Try a delivery of the failure list again: a new round of tries (a new `msh.webhook` job), the same `webhook-id`
 * and body. 409 when it was delivered, is still being tried, or its webhook is disabled.
 */
export async function retryFailure(core: MshCore, webhookId: string, deliveryId: string): Promise<void> {
  const hook = await findWebhook(core, webhookId);
  if (hook.disabled_at !== null) {
    throw new EhmiError(
      'EHMI_CONFLICT',
      `webhook ${webhookId} is disabled (${hook.disabled_reason ?? 'no reason given'}): register its URL anew`,
    );
  }
  const failures = await webhookFailures(core, webhookId);
  const failed = failures.find((d) => d.id === deliveryId);
  if (!failed) {
    const known = await core.store.db
      .selectFrom('msh_webhook_deliveries')
      .select(['delivered_at'])
      .where('id', '=', deliveryId)
      .where('webhook_id', '=', webhookId)
      .executeTakeFirst();
    if (!known) throw new EhmiError('EHMI_NOT_FOUND', `no delivery ${deliveryId} of webhook ${webhookId}`);
    throw new EhmiError(
      'EHMI_CONFLICT',
      known.delivered_at !== null
        ? `delivery ${deliveryId} was delivered`
        : `delivery ${deliveryId} is still being tried`,
    );
  }
  const jobId = randomUUID();
  await core.store.transaction(async (trx) => {
    const moved = await trx
      .updateTable('msh_webhook_deliveries')
      .set({ job_id: jobId, failed_at: null })
      .where('id', '=', deliveryId)
      .where('job_id', '=', failed.job_id)
      .where('delivered_at', 'is', null)
      .executeTakeFirst();
    if (Number(moved.numUpdatedRows) !== 1) {
      throw new EhmiError('EHMI_CONFLICT', `delivery ${deliveryId} changed meanwhile; look again`);
    }
    await core.queue.enqueue(trx, {
      queue: QUEUES.webhook,
      id: jobId,
      payload: { deliveryId } satisfies WebhookJob,
      maxAttempts: core.config.webhooks.maxAttempts,
    });
  });
}
