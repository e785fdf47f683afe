import { EhmiError } from '@ehmi/errors';
import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import { Webhook } from 'standardwebhooks';
import { type Agent, request } from 'undici';
import { backoffDelay, type Job, type JobContext } from '../../store/index.ts';
import type { MshStore } from '../tables.ts';
import type { WebhookJob } from './events.ts';
import { addressRefusal } from './target.ts';

/** What the `msh.webhook` worker needs. */
export interface WebhookSender {
  store: MshStore;
  /** The node's HTTP client (`nodeAgent()`) with the receivers' trust and the timeouts of `msh.webhooks`. */
  agent: Agent;
  allowPrivateTargets: boolean;
  /** The longest one try takes: `msh.webhooks.connectTimeoutMs` + `responseTimeoutMs` (a body that trickles in). */
  tryTimeoutMs: number;
  logger: Logger;
  now(): number;
  /** Deliveries by result: `delivered`, `retried`, `failed`. */
  counter?: Counter<'result'>;
}

/**
 * A try that did not deliver: the receiver's status (none when it never answered), when it asked to be called
 * again (Retry-After), and whether no later try may succeed (410 Gone, a disabled or refused webhook).
 */
export class WebhookAttemptFailed extends Error {
  override readonly name = 'WebhookAttemptFailed';
  constructor(
    message: string,
    readonly status: number | null,
    readonly permanent = false,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** The most of a refusing receiver's answer kept with the delivery (its `last_error`). */
const ERROR_TEXT_BYTES = 300;

/**
 * The `msh.webhook` job: POST one event to its webhook (Standard Webhooks 1.0 "Webhook headers"): the stored body
 * as it was built, `webhook-id` the delivery's id (the same on every try: the receiver's idempotency key),
 * `webhook-timestamp` this try's time in seconds, `webhook-signature` `v1,<base64 HMAC-SHA256 of id.timestamp.body>`
 * with the webhook's secret (the `standardwebhooks` library signs). A 2xx delivers it, in one commit with the job's
 * completion; any other answer, a redirect included, or none, is a failed try, recorded on the delivery, and the
 * worker tries again after {@link webhookRetryDelay}; after the last try the delivery is on the webhook's failure
 * list. 410 Gone disables the webhook (its pending deliveries fail at their next try).
 */
export async function sendWebhook(
  sender: WebhookSender,
  job: Job<WebhookJob>,
  context: Pick<JobContext, 'complete' | 'signal'>,
): Promise<void> {
  const db = sender.store.db;
  const delivery = await db
    .selectFrom('msh_webhook_deliveries')
    .innerJoin('msh_webhooks', 'msh_webhooks.id', 'msh_webhook_deliveries.webhook_id')
    .select([
      'msh_webhook_deliveries.id',
      'msh_webhook_deliveries.body',
      'msh_webhook_deliveries.job_id',
      'msh_webhook_deliveries.delivered_at',
      'msh_webhooks.id as webhook_id',
      'msh_webhooks.url',
      'msh_webhooks.secret',
      'msh_webhooks.disabled_at',
      'msh_webhooks.disabled_reason',
    ])
    .where('msh_webhook_deliveries.id', '=', job.payload.deliveryId)
    .executeTakeFirst();
  // The webhook was removed (with its deliveries), or this job was replaced by a retry from the failure list.
  if (!delivery || delivery.job_id !== job.id || delivery.delivered_at !== null) return;
  const last = job.attempt >= job.maxAttempts;
  const failed = async (err: WebhookAttemptFailed): Promise<never> => {
    const now = sender.now();
    await db
      .updateTable('msh_webhook_deliveries')
      .set((eb) => ({
        attempts: eb('attempts', '+', 1),
        last_attempt_at: now,
        last_status: err.status,
        last_error: err.message.slice(0, 1000),
        failed_at: last || err.permanent ? now : null,
      }))
      .where('id', '=', delivery.id)
      .where('job_id', '=', job.id)
      .execute();
    sender.counter?.inc({ result: last || err.permanent ? 'failed' : 'retried' });
    throw err;
  };
  if (delivery.disabled_at !== null) {
    return failed(
      new WebhookAttemptFailed(
        `the webhook is disabled: ${delivery.disabled_reason ?? 'no reason given'}`,
        null,
        true,
      ),
    );
  }
  let status: number;
  let retryAfter: string | undefined;
  let text = '';
  try {
    // A host given as an address is checked here; a name, as each connection resolves it (publicOnlyLookup).
    const refused = sender.allowPrivateTargets ? undefined : addressRefusal(new URL(delivery.url));
    if (refused) throw new EhmiError('EHMI_VALIDATION_FAILED', refused);
    const timestamp = new Date(sender.now());
    const signature = new Webhook(delivery.secret).sign(delivery.id, timestamp, delivery.body);
    const res = await request(delivery.url, {
      method: 'POST',
      dispatcher: sender.agent,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'ehmi-msh-webhooks',
        'webhook-id': delivery.id,
        'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
        'webhook-signature': signature,
      },
      body: delivery.body,
      signal: AbortSignal.any([context.signal, AbortSignal.timeout(sender.tryTimeoutMs)]),
    });
    status = res.statusCode;
    const header = res.headers['retry-after'];
    retryAfter = Array.isArray(header) ? header[0] : header;
    if (status >= 200 && status < 300) {
      await res.body.dump({ limit: 64 * 1024 });
    } else {
      text = await firstBytes(res.body, ERROR_TEXT_BYTES);
    }
  } catch (err) {
    return failed(
      new WebhookAttemptFailed(
        `no answer from ${delivery.url}: ${describe(err)}`,
        null,
        err instanceof EhmiError && err.code === 'EHMI_VALIDATION_FAILED',
      ),
    );
  }
  if (status >= 200 && status < 300) {
    await sender.store.transaction(async (trx) => {
      const now = sender.now();
      await trx
        .updateTable('msh_webhook_deliveries')
        .set((eb) => ({
          attempts: eb('attempts', '+', 1),
          last_attempt_at: now,
          last_status: status,
          last_error: null,
          delivered_at: now,
          failed_at: null,
        }))
        .where('id', '=', delivery.id)
        .execute();
      await context.complete(trx);
    });
    sender.counter?.inc({ result: 'delivered' });
    return;
  }
  const said = text.trim() ? `: ${text.trim().replace(/\s+/g, ' ')}` : '';
  if (status === 410) {
    // Standard Webhooks: 410 Gone means the receiver wants no more; the webhook stops until it is registered anew.
    const now = sender.now();
    await db
      .updateTable('msh_webhooks')
      .set({ disabled_at: now, disabled_reason: `the receiver answered 410 Gone${said}`.slice(0, 1000) })
      .where('id', '=', delivery.webhook_id)
      .where('disabled_at', 'is', null)
      .execute();
    sender.logger.warn(
      { webhookId: delivery.webhook_id },
      'webhook disabled: its receiver answered 410 Gone',
    );
    return failed(new WebhookAttemptFailed(`HTTP 410 Gone${said}`, 410, true));
  }
  const retryAfterMs = retryAfter === undefined ? undefined : parseRetryAfter(retryAfter, sender.now());
  return failed(
    new WebhookAttemptFailed(
      `HTTP ${status}${status >= 300 && status < 400 ? ' (redirects are not followed: register the new URL)' : ''}${said}`,
      status,
      false,
      retryAfterMs,
    ),
  );
}

/**
 * The delay before the next try of a delivery: the webhook back-off (`msh.webhooks.backoffBaseMs` doubling per try,
 * ±10% jitter, at most `backoffMaxMs`), or the receiver's Retry-After when that is later (RFC 9110 §10.2.3; bounded
 * by `backoffMaxMs` too, so a receiver cannot park a delivery for ever).
 */
export function webhookRetryDelay(
  attempt: number,
  error: unknown,
  options: { backoffBaseMs: number; backoffMaxMs: number },
): number {
  const backoff = backoffDelay(attempt, {
    baseMs: options.backoffBaseMs,
    maxMs: options.backoffMaxMs,
    jitter: 0.1,
  });
  const asked = error instanceof WebhookAttemptFailed ? error.retryAfterMs : undefined;
  return asked === undefined ? backoff : Math.min(options.backoffMaxMs, Math.max(backoff, asked));
}

/** Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date; undefined when it is neither. */
export function parseRetryAfter(value: string, now: number): number | undefined {
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

async function firstBytes(body: AsyncIterable<Uint8Array> & { destroy(): unknown }, limit: number) {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      chunks.push(Buffer.from(chunk));
      size += chunk.byteLength;
      if (size >= limit) break;
    }
  } catch {
    // What arrived is enough to say why.
  } finally {
    body.destroy();
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as Error & { cause?: unknown }).cause;
  const code = (err as NodeJS.ErrnoException).code;
  const base = `${code ? `${code}: ` : ''}${err.message}`;
  return cause instanceof Error && !base.includes(cause.message) ? `${base} (${cause.message})` : base;
}
