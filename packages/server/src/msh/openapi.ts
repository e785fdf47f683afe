import { TIMELINE_STEPS } from './steps.ts';

/**
 * OpenAPI 3.1 description of the MSH's EUA API, served at `GET /openapi.json`. Keep it in step with routes.ts.
 */

const outcome = { $ref: '#/components/schemas/OperationOutcome' };
const errorResponse = (description: string) => ({
  description,
  content: { 'application/fhir+json': { schema: outcome } },
});
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
const json = (schema: unknown) => ({ 'application/json': { schema } });

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'EHMI message service handler (ehmiMSH): EUA API',
    version: '1.0.0',
    description:
      'Submit MedCom FHIR messages and other payloads, follow their delivery (EDS steps of ehmi-core §1.2), read and ' +
      'acknowledge received messages. Authentication is mutual TLS when the node sets msh.clientTrustAnchors. ' +
      'Errors are FHIR OperationOutcome resources.',
  },
  security: [{ mutualTLS: [] }],
  paths: {
    '/messages': {
      post: {
        summary: 'Submit a MedCom FHIR message',
        description:
          'Validated against the MedCom profiles, addressed to MessageHeader.destination (primary) receiver, wrapped ' +
          'in ehmiSBDH, committed and queued. An identical resubmission (same Bundle.id and MessageHeader.id) answers ' +
          '200 with the earlier submission and sends nothing.',
        requestBody: {
          required: true,
          content: {
            'application/fhir+json': { schema: { type: 'object' } },
            'application/fhir+xml': { schema: { type: 'string' } },
            'application/json': { schema: { type: 'object' } },
            'application/xml': { schema: { type: 'string' } },
          },
        },
        responses: {
          '202': {
            description: 'Accepted: committed and queued',
            headers: { Location: { schema: { type: 'string' } } },
            content: json({ $ref: '#/components/schemas/Accepted' }),
          },
          '200': {
            description: 'An identical earlier submission',
            content: json({ $ref: '#/components/schemas/Accepted' }),
          },
          '400': errorResponse('Unreadable body'),
          '401': errorResponse('No client certificate under the trust anchors'),
          '403': errorResponse('MessageHeader.sender is not this organisation'),
          '409': errorResponse(
            'The MessageHeader.id was submitted before with another Bundle.id (use $resend)',
          ),
          '413': errorResponse('Body too large'),
          '415': errorResponse('Not a FHIR media type'),
          '422': errorResponse('The message fails its profile (every issue in the OperationOutcome)'),
        },
      },
      get: {
        summary: 'Sent messages',
        parameters: [
          { name: 'status', in: 'query', schema: { $ref: '#/components/schemas/Status' } },
          {
            name: 'needsAction',
            in: 'query',
            schema: { enum: ['missing-receipt', 'missing-acknowledgement'] },
          },
        ],
        responses: {
          '200': {
            description: 'Summaries, oldest first',
            content: json({ type: 'array', items: { $ref: '#/components/schemas/MessageSummary' } }),
          },
        },
      },
    },
    '/payloads': {
      post: {
        summary: 'Submit any payload with explicit metadata (OIOXML, EDIFACT, CDA, other FHIR messages)',
        parameters: [
          {
            name: 'receiver',
            in: 'query',
            required: true,
            schema: { type: 'string', pattern: '^0088:\\d{13}$' },
          },
          {
            name: 'documentType',
            in: 'query',
            required: true,
            schema: { type: 'string' },
            description: 'SBDH DOCUMENTID (SMP document type)',
          },
          {
            name: 'process',
            in: 'query',
            required: true,
            schema: { type: 'string' },
            description: 'SBDH PROCESSID',
          },
          {
            name: 'kind',
            in: 'query',
            required: true,
            schema: { enum: ['oioxml', 'edifact', 'cda', 'fhir'] },
          },
          {
            name: 'standard',
            in: 'query',
            schema: { type: 'string' },
            description: 'DocumentIdentification/Standard',
          },
          { name: 'typeVersion', in: 'query', schema: { type: 'string' } },
          {
            name: 'type',
            in: 'query',
            schema: { type: 'string' },
            description: 'DocumentIdentification/Type',
          },
          { name: 'patientId', in: 'query', schema: { type: 'string' } },
          {
            name: 'messageId',
            in: 'query',
            schema: { type: 'string' },
            description: 'MESSAGEIDENTIFIER (default a new UUID)',
          },
        ],
        requestBody: { required: true, content: { '*/*': { schema: { type: 'string', format: 'binary' } } } },
        responses: {
          '202': { description: 'Accepted', content: json({ $ref: '#/components/schemas/Accepted' }) },
          '400': errorResponse('Missing or bad metadata, unreadable body'),
          '422': errorResponse('The envelope cannot be built valid from this metadata'),
        },
      },
    },
    '/messages/{id}': {
      get: {
        summary: 'Status and timeline of a sent message',
        parameters: [idParam],
        responses: {
          '200': { description: 'The message', content: json({ $ref: '#/components/schemas/Message' }) },
          '404': errorResponse('Unknown id'),
        },
      },
    },
    '/messages/{id}/$resend': {
      post: {
        summary:
          'Resend a MedCom message: new SBDH InstanceIdentifier, new Bundle.id and timestamp, same MessageHeader.id',
        parameters: [idParam],
        responses: {
          '202': {
            description: 'Queued again',
            content: json({
              type: 'object',
              required: ['id', 'envelopeId', 'resends'],
              properties: {
                id: { type: 'string' },
                envelopeId: { type: 'string' },
                resends: { type: 'integer' },
              },
            }),
          },
          '404': errorResponse('Unknown id'),
          '409': errorResponse('Resent msh.maxResends times already, acknowledged, or not a MedCom message'),
        },
      },
    },
    '/inbox': {
      get: {
        summary: 'Received messages not yet removed, oldest first',
        responses: {
          '200': {
            description: 'Items',
            content: json({ type: 'array', items: { $ref: '#/components/schemas/InboxItem' } }),
          },
        },
      },
    },
    '/inbox/stream': {
      get: {
        summary: 'Server-sent events: `event: message` with the inbox item for each new arrival',
        responses: {
          '200': {
            description: 'Event stream',
            content: { 'text/event-stream': { schema: { type: 'string' } } },
          },
        },
      },
    },
    '/inbox/{id}': {
      get: {
        summary: 'The received message: FHIR JSON by default, FHIR XML with Accept: application/fhir+xml',
        parameters: [idParam],
        responses: {
          '200': {
            description: 'The message as received (converted when the other format is asked for)',
            content: {
              'application/fhir+json': { schema: { type: 'object' } },
              'application/fhir+xml': { schema: { type: 'string' } },
            },
          },
          '404': errorResponse('Unknown or removed'),
        },
      },
      delete: {
        summary:
          'Acknowledge to remove: the item leaves the list (kept for duplicate handling until retention)',
        parameters: [idParam],
        responses: { '204': { description: 'Removed' }, '404': errorResponse('Unknown id') },
      },
    },
    '/inbox/{id}/$acknowledge': {
      post: {
        summary: 'Send the MedCom acknowledgement of a received message (once)',
        parameters: [idParam],
        requestBody: {
          content: json({
            type: 'object',
            properties: {
              code: { enum: ['ok', 'transient-error', 'fatal-error'], default: 'ok' },
              text: { type: 'string', description: 'Issue text of a negative acknowledgement' },
              issues: {
                type: 'array',
                items: { type: 'object' },
                description: 'Acknowledgement issues (severity, code, details, text)',
              },
            },
          }),
        },
        responses: {
          '202': {
            description: "Queued; id is the acknowledgement's tracking id",
            content: json({ type: 'object', properties: { id: { type: 'string' } } }),
          },
          '404': errorResponse('Unknown id'),
          '409': errorResponse('Acknowledged already'),
        },
      },
    },
    '/openapi.json': {
      get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1' } } },
    },
    '/health': {
      get: {
        summary: 'Readiness',
        security: [],
        responses: { '200': { description: 'Ready' }, '503': { description: 'Not ready' } },
      },
    },
    '/metrics': {
      get: { summary: 'Prometheus metrics', responses: { '200': { description: 'Text format' } } },
    },
  },
  components: {
    securitySchemes: { mutualTLS: { type: 'mutualTLS' } },
    schemas: {
      Status: { enum: ['accepted', 'sent', 'receipted', 'acknowledged', 'failed'] },
      Accepted: {
        type: 'object',
        required: ['id', 'status', 'envelopeId', 'sender', 'receiver'],
        properties: {
          id: { type: 'string', format: 'uuid' },
          status: { $ref: '#/components/schemas/Status' },
          messageHeaderId: { type: ['string', 'null'] },
          bundleId: { type: ['string', 'null'] },
          envelopeId: { type: 'string' },
          sender: { type: 'string' },
          receiver: { type: 'string' },
        },
      },
      MessageSummary: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          direction: { const: 'out' },
          status: { $ref: '#/components/schemas/Status' },
          messageHeaderId: { type: ['string', 'null'] },
          bundleId: { type: ['string', 'null'] },
          envelopeId: { type: 'string' },
          type: { type: 'string' },
          sender: { type: 'string' },
          receiver: { type: 'string' },
          createdAt: { type: 'string', format: 'date-time' },
          needsAction: { enum: [null, 'missing-receipt', 'missing-acknowledgement'] },
          resends: { type: 'integer' },
          acknowledgement: {
            oneOf: [
              { type: 'null' },
              {
                type: 'object',
                properties: {
                  code: { enum: ['ok', 'transient-error', 'fatal-error'] },
                  at: { type: 'string', format: 'date-time' },
                },
              },
            ],
          },
          failure: {
            oneOf: [
              { type: 'null' },
              { type: 'object', properties: { reason: { type: 'string' }, ebmsCode: { type: 'string' } } },
            ],
          },
        },
      },
      Message: {
        allOf: [
          { $ref: '#/components/schemas/MessageSummary' },
          {
            type: 'object',
            properties: {
              events: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['code', 'station', 'time', 'outcome'],
                  properties: {
                    code: {
                      type: 'string',
                      examples: Object.keys(TIMELINE_STEPS),
                      description: Object.entries(TIMELINE_STEPS)
                        .map(([code, meaning]) => `${code} ${meaning}`)
                        .join('; '),
                    },
                    station: { enum: ['eua', 'msh', 'ap'] },
                    time: { type: 'string', format: 'date-time' },
                    outcome: { enum: ['success', 'failure'] },
                    detail: { type: 'string' },
                  },
                },
              },
            },
          },
        ],
      },
      InboxItem: {
        type: 'object',
        required: ['id', 'type', 'sender', 'receivedAt'],
        properties: {
          id: { type: 'string' },
          bundleId: { type: ['string', 'null'] },
          messageHeaderId: { type: ['string', 'null'] },
          type: { type: 'string' },
          sender: { type: 'string', description: '0088:<GLN>' },
          receivedAt: { type: 'string', format: 'date-time' },
        },
      },
      OperationOutcome: {
        type: 'object',
        required: ['resourceType', 'issue'],
        properties: {
          resourceType: { const: 'OperationOutcome' },
          issue: { type: 'array', items: { type: 'object' } },
        },
      },
    },
  },
} as const;
