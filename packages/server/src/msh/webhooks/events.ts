import { randomUUID } from 'node:crypto';
import type { Selectable } from 'kysely';
import { QUEUES } from '../../path.ts';
import { fixedStatement, type JobQueue } from '../../store/index.ts';
import type { Db } from '../core.ts';
import type { MshInboxTable, MshMessagesTable } from '../tables.ts';

/**
 * The events an EUA may subscribe a webhook to (Standard Webhooks "Event types": full-stop delimited, the same
 * schema for every event of a type). Each one is thin: what happened, to which item, and the URL where the EUA reads
 * it with its own token; never the message or its patient (docs/architecture.md "Push delivery").
 */
export const WEBHOOK_EVENTS = {
  /** A new item in the inbox (its delivery's commit): `data` is the `GET /inbox` summary and the item's URL. */
  'inbox.received': 'A received message is in the inbox',
  /** A MedCom acknowledgement of a sent message arrived (any code; fatal-error also fails the message). */
  'message.acknowledged': 'An acknowledgement arrived for a sent message',
  /** A sent message failed: refused by the access point, not delivered over AS4, a ReceiptException, fatal-error. */
  'message.failed': 'A sent message failed',
} as const;

export type WebhookEventType = keyof typeof WEBHOOK_EVENTS;
export const WEBHOOK_EVENT_TYPES = Object.keys(WEBHOOK_EVENTS) as WebhookEventType[];

/** The payload of an event (Standard Webhooks "Payload structure"). */
export interface WebhookPayload {
  type: WebhookEventType;
  /** When the event happened (ISO 8601); each try's own time is the `webhook-timestamp` header. */
  timestamp: string;
  data: Record<string, unknown>;
}

/** The `msh.webhook` job's payload. */
export interface WebhookJob {
  deliveryId: string;
}

/** The webhooks that are not disabled, with the events each wants; built once (store/fixed.ts). */
const ACTIVE_HOOKS = fixedStatement<never, { id: string; events: string }>([], (db) =>
  (db as Db).selectFrom('msh_webhooks').select(['id', 'events']).where('disabled_at', 'is', null),
);

/**
 * Turns the MSH's events into webhook deliveries, in the transaction of the event: one delivery row and one
 * `msh.webhook` job per webhook that wants the event, so that the event and its deliveries commit together (and a
 * rollback takes both back).
 */
export interface WebhookEmitter {
  /** The MSH's URL, as its EUAs reach it (`msh.publicUrl`, else where it listens): the events' links start with it. */
  base(): string;
  /**
   * `data` is built only when some webhook wants the event (a transaction with no subscriber pays one read of the
   * small registration table). Returns how many deliveries were queued.
   */
  emit(
    trx: Db,
    type: WebhookEventType,
    at: number,
    data: () => Promise<Record<string, unknown>> | Record<string, unknown>,
  ): Promise<number>;
}

export function webhookEmitter(deps: {
  queue: JobQueue;
  maxAttempts: number;
  now: () => number;
  base: () => string;
}): WebhookEmitter {
  return {
    base: deps.base,
    async emit(trx, type, at, data) {
      const hooks = (await ACTIVE_HOOKS.run(trx, {})).rows.filter((h) =>
        (JSON.parse(h.events) as string[]).includes(type),
      );
      if (hooks.length === 0) return 0;
      const payload: WebhookPayload = { type, timestamp: new Date(at).toISOString(), data: await data() };
      const body = JSON.stringify(payload);
      const now = deps.now();
      for (const hook of hooks) {
        const id = `msg_${randomUUID().replaceAll('-', '')}`;
        const jobId = randomUUID();
        await trx
          .insertInto('msh_webhook_deliveries')
          .values({
            id,
            webhook_id: hook.id,
            event_type: type,
            body,
            job_id: jobId,
            created_at: now,
            attempts: 0,
            last_attempt_at: null,
            last_status: null,
            last_error: null,
            delivered_at: null,
            failed_at: null,
          })
          .execute();
        await deps.queue.enqueue(trx, {
          queue: QUEUES.webhook,
          id: jobId,
          payload: { deliveryId: id } satisfies WebhookJob,
          maxAttempts: deps.maxAttempts,
        });
      }
      return hooks.length;
    },
  };
}

/** `inbox.received`: the item's summary (as `GET /inbox` lists it) and where to read it. */
export function inboxReceivedData(base: string, row: Selectable<MshInboxTable>): Record<string, unknown> {
  return {
    id: row.id,
    bundleId: row.bundle_id,
    messageHeaderId: row.message_header_id,
    type: row.type,
    sender: row.sender,
    receivedAt: new Date(row.received_at).toISOString(),
    url: `${base}/inbox/${row.id}`,
  };
}

/** `message.acknowledged` and `message.failed`: the sent message's state and where to read it. */
export function messageData(base: string, row: Selectable<MshMessagesTable>): Record<string, unknown> {
  return {
    id: row.id,
    messageHeaderId: row.message_header_id,
    bundleId: row.bundle_id,
    type: row.type,
    receiver: row.receiver,
    status: row.status,
    ...(row.ack_code
      ? {
          acknowledgement: { code: row.ack_code, at: row.ack_at ? new Date(row.ack_at).toISOString() : null },
        }
      : {}),
    // The failure's code only: its reason is the receiver's text (an OperationOutcome may speak of the patient).
    ...(row.status === 'failed' ? { failure: { ebmsCode: row.failure_ebms } } : {}),
    url: `${base}/messages/${row.id}`,
  };
}
