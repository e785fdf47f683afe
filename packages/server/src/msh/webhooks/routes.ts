import { EhmiError } from '@ehmi/errors';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { restrictedPatient } from '../access.ts';
import type { MshCore } from '../core.ts';
import { WEBHOOK_EVENT_TYPES } from './events.ts';
import {
  failureJson,
  findWebhook,
  listWebhooks,
  registerWebhook,
  removeWebhook,
  retryFailure,
  webhookFailures,
  webhookJson,
} from './registry.ts';
import { WEBHOOK_SCHEMAS } from './schemas.ts';
import { checkWebhookUrl } from './target.ts';

type IdParams = { Params: { id: string } };

const registration = z
  .object({
    url: z.string().min(1).max(2000),
    events: z.array(z.enum(WEBHOOK_EVENT_TYPES)).min(1).optional(),
    description: z.string().max(500).optional(),
  })
  .strict();

/**
 * The EUA API's webhooks (docs/architecture.md "Push delivery"): `POST /webhooks` registers one for this MSH's
 * organisation (the MSH serves one; its access check names it) and answers its secret once; `GET` lists them, one,
 * and its failure list; `DELETE` removes one; `POST …/failures/{deliveryId}/$retry` tries a failed delivery again.
 * The scopes are `msh/webhooks.write` and `msh/webhooks.read` (`access.ts`).
 */
export function registerWebhookRoutes(api: FastifyInstance, core: MshCore): void {
  // Webhooks carry every patient's events: a token restricted to one patient manages none of them.
  api.addHook('preHandler', async (request) => {
    if (request.routeOptions.url?.startsWith('/webhooks') && restrictedPatient(request) !== undefined) {
      throw new EhmiError(
        'EHMI_FORBIDDEN',
        "the access token is restricted to one patient, and webhooks carry the events of every patient's messages",
      );
    }
  });

  api.post('/webhooks', { schema: WEBHOOK_SCHEMAS.registerWebhook }, async (request, reply) => {
    const body = readRegistration(request);
    const url = await checkWebhookUrl(body.url, {
      allowPrivateTargets: core.config.webhooks.allowPrivateTargets,
    });
    const row = await registerWebhook(core, {
      url: url.href,
      events: body.events ? [...new Set(body.events)] : WEBHOOK_EVENT_TYPES,
      description: body.description,
      createdBy: request.access?.clientId ?? null,
    });
    core.logger.info({ webhookId: row.id, url: row.url, events: row.events }, 'webhook registered');
    return reply
      .status(201)
      .header('location', `/webhooks/${row.id}`)
      .send({ ...webhookJson(row), secret: row.secret });
  });

  api.get('/webhooks', { schema: WEBHOOK_SCHEMAS.listWebhooks }, async () =>
    (await listWebhooks(core)).map(webhookJson),
  );

  api.get<IdParams>('/webhooks/:id', { schema: WEBHOOK_SCHEMAS.getWebhook }, async (request) =>
    webhookJson(await findWebhook(core, request.params.id)),
  );

  api.delete<IdParams>('/webhooks/:id', { schema: WEBHOOK_SCHEMAS.removeWebhook }, async (request, reply) => {
    await removeWebhook(core, request.params.id);
    core.logger.info({ webhookId: request.params.id }, 'webhook removed');
    return reply.status(204).send();
  });

  api.get<IdParams>('/webhooks/:id/failures', { schema: WEBHOOK_SCHEMAS.webhookFailures }, async (request) =>
    (await webhookFailures(core, request.params.id)).map(failureJson),
  );

  api.post<{ Params: { id: string; deliveryId: string } }>(
    '/webhooks/:id/failures/:deliveryId/$retry',
    { schema: WEBHOOK_SCHEMAS.retryWebhookFailure },
    async (request, reply) => {
      const { id, deliveryId } = request.params;
      await retryFailure(core, id, deliveryId);
      return reply.status(202).send({ id: deliveryId, status: 'queued' });
    },
  );
}

function readRegistration(request: FastifyRequest): z.infer<typeof registration> {
  const raw = request.body;
  const text = Buffer.isBuffer(raw) ? raw.toString('utf8') : typeof raw === 'string' ? raw : '';
  if (!text.trim()) {
    throw new EhmiError(
      'EHMI_INPUT_UNREADABLE',
      'the body is empty: send a JSON object {"url": "https://…", "events": [...]}',
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new EhmiError('EHMI_INPUT_UNREADABLE', `the body is not JSON: ${(err as Error).message}`);
  }
  const result = registration.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const where = issue.path.length > 0 ? issue.path.join('.') : 'the body';
    throw new EhmiError('EHMI_USAGE', `${where}: ${issue.message}`);
  }
  return result.data;
}
