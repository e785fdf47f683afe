import { errorResponse, json, ref, UUID } from '../schema-parts.ts';
import { WEBHOOK_EVENTS } from './events.ts';

/**
 * The webhook routes' schemas (params validated by fastify, the rest documentation) and the OpenAPI components they
 * name; ../schemas.ts adds them to the EUA API's document.
 */

const webhookParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: UUID, description: 'The webhook id (a UUID)' } },
} as const;
const deliveryParams = {
  type: 'object',
  required: ['id', 'deliveryId'],
  properties: {
    id: webhookParams.properties.id,
    deliveryId: {
      type: 'string',
      pattern: '^msg_[0-9a-f]{32}$',
      description: 'The delivery id: its webhook-id header',
    },
  },
} as const;
const EVENT_TYPE = {
  enum: Object.keys(WEBHOOK_EVENTS),
  description: Object.entries(WEBHOOK_EVENTS)
    .map(([type, meaning]) => `${type}: ${meaning}`)
    .join('; '),
};
const notFound = errorResponse('No such webhook');

export const WEBHOOK_COMPONENTS = {
  WebhookEventType: EVENT_TYPE,
  Webhook: {
    type: 'object',
    required: ['id', 'url', 'events', 'createdAt'],
    properties: {
      id: { type: 'string', format: 'uuid' },
      url: { type: 'string', format: 'uri', description: 'Where the MSH POSTs the events (https)' },
      events: { type: 'array', items: ref('WebhookEventType') },
      description: { type: ['string', 'null'] },
      createdAt: { type: 'string', format: 'date-time' },
      createdBy: { type: ['string', 'null'], description: 'The client that registered it' },
      disabled: {
        description: 'Set when deliveries stopped: the receiver answered 410 Gone',
        oneOf: [
          { type: 'null' },
          {
            type: 'object',
            properties: { at: { type: 'string', format: 'date-time' }, reason: { type: 'string' } },
          },
        ],
      },
    },
  },
  WebhookPayload: {
    type: 'object',
    description:
      'The body of every webhook POST (Standard Webhooks 1.0), signed in the headers webhook-id (the same on every try: ' +
      'an idempotency key), webhook-timestamp (Unix seconds of the try) and webhook-signature ' +
      '(v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>"> with the secret). Thin: the item and ' +
      'the URL to read it with the EUA API, never the message or its patient.',
    required: ['type', 'timestamp', 'data'],
    properties: {
      type: ref('WebhookEventType'),
      timestamp: { type: 'string', format: 'date-time', description: 'When the event happened' },
      data: {
        type: 'object',
        description:
          'inbox.received: id, bundleId, messageHeaderId, type, sender, receivedAt, url (GET it for the message). ' +
          'message.acknowledged and message.failed: id, messageHeaderId, bundleId, type, receiver, status, ' +
          'acknowledgement {code, at} when one arrived, failure {ebmsCode} when failed, url (GET it for the reason).',
        required: ['id', 'url'],
        properties: { id: { type: 'string' }, url: { type: 'string', format: 'uri' } },
      },
    },
  },
  WebhookFailure: {
    type: 'object',
    required: ['id', 'type', 'attempts', 'payload'],
    properties: {
      id: { type: 'string', description: 'The delivery id: its webhook-id header' },
      type: ref('WebhookEventType'),
      createdAt: { type: 'string', format: 'date-time' },
      attempts: { type: 'integer', description: 'Tries so far' },
      lastAttemptAt: { type: ['string', 'null'], format: 'date-time' },
      lastStatus: { type: ['integer', 'null'], description: "The receiver's HTTP status; null: no answer" },
      lastError: { type: ['string', 'null'] },
      failedAt: { type: ['string', 'null'], format: 'date-time' },
      payload: ref('WebhookPayload'),
    },
  },
};

export const WEBHOOK_SCHEMAS = {
  registerWebhook: {
    summary: 'Register a webhook: the MSH POSTs the chosen events to it, signed (Standard Webhooks 1.0)',
    tags: ['webhooks'],
    requestBody: {
      required: true,
      content: json({
        type: 'object',
        required: ['url'],
        additionalProperties: false,
        properties: {
          url: {
            type: 'string',
            format: 'uri',
            description:
              'https only; a loopback, private or link-local target only where msh.webhooks.allowPrivateTargets allows it',
          },
          events: {
            type: 'array',
            minItems: 1,
            items: ref('WebhookEventType'),
            description: 'Every event type when absent',
          },
          description: { type: 'string', maxLength: 500 },
        },
      }),
    },
    responses: {
      '201': {
        description:
          'Registered. The secret (whsec_<base64>) is shown here only: keep it to verify the signatures.',
        content: json({
          allOf: [
            ref('Webhook'),
            { type: 'object', required: ['secret'], properties: { secret: { type: 'string' } } },
          ],
        }),
      },
      '400': errorResponse('The body is not a JSON object of url, events and description'),
      '403': errorResponse('A token restricted to one patient (webhooks carry every patient’s events)'),
      '409': errorResponse('As many webhooks as msh.webhooks.maxRegistrations allows'),
      '422': errorResponse('The URL is not https, carries credentials, or points at a non-public address'),
    },
  },
  listWebhooks: {
    summary: "The organisation's webhooks (without their secrets)",
    tags: ['webhooks'],
    responses: {
      '200': { description: 'The webhooks', content: json({ type: 'array', items: ref('Webhook') }) },
    },
  },
  getWebhook: {
    summary: 'One webhook (without its secret)',
    tags: ['webhooks'],
    params: webhookParams,
    responses: {
      '200': { description: 'The webhook', content: json(ref('Webhook')) },
      '400': errorResponse('The id is not a UUID'),
      '404': notFound,
    },
  },
  removeWebhook: {
    summary: 'Remove a webhook and its deliveries; nothing more is sent to it',
    tags: ['webhooks'],
    params: webhookParams,
    responses: {
      '204': { description: 'Removed' },
      '400': errorResponse('The id is not a UUID'),
      '404': notFound,
    },
  },
  webhookFailures: {
    summary: "The webhook's failure list: deliveries whose last try failed, oldest first",
    tags: ['webhooks'],
    params: webhookParams,
    responses: {
      '200': {
        description: 'The failed deliveries',
        content: json({ type: 'array', items: ref('WebhookFailure') }),
      },
      '400': errorResponse('The id is not a UUID'),
      '404': notFound,
    },
  },
  retryWebhookFailure: {
    summary: 'Try a failed delivery again (the same webhook-id and body, a new round of tries)',
    tags: ['webhooks'],
    params: deliveryParams,
    responses: {
      '202': {
        description: 'Queued',
        content: json({
          type: 'object',
          properties: { id: { type: 'string' }, status: { const: 'queued' } },
        }),
      },
      '400': errorResponse('The ids are malformed'),
      '404': errorResponse('No such webhook or delivery'),
      '409': errorResponse('Delivered, still being tried, or the webhook is disabled'),
    },
  },
};
