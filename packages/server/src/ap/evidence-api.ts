import { EhmiError } from '@ehmi/errors';
import type { FastifyInstance } from 'fastify';
import { StaticBearerToken } from '../http/index.ts';
import { EVIDENCE_KINDS, type EvidenceKind, findEvidence, listEvidence } from './evidence.ts';
import type { ApStore } from './tables.ts';

const outcome = (description: string) => ({
  description,
  content: { 'application/fhir+json': { schema: { $ref: '#/components/schemas/OperationOutcome' } } },
});
const security = [{ bearer: [] }];
const unauthorized = outcome(
  'No or a wrong Authorization: Bearer <ap.adminToken>, or ap.adminToken is not set',
);
const messageIdParam = {
  type: 'string',
  minLength: 1,
  maxLength: 1024,
  description: 'The AS4 MessageId (eb:MessageId), percent-encoded',
};
const kindParam = {
  type: 'string',
  enum: EVIDENCE_KINDS,
  description:
    '`user-message`: the signed SOAP part of a UserMessage this AP received; `receipt`: the signed receipt of one it sent',
};
const itemParams = {
  type: 'object',
  required: ['messageId', 'kind'],
  properties: { messageId: messageIdParam, kind: kindParam },
};

/** The OpenAPI `components` the evidence routes refer to. */
export const EVIDENCE_OPENAPI_COMPONENTS = {
  securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
};

const ITEM_SCHEMA = {
  type: 'object',
  required: ['kind', 'direction', 'counterpart', 'signer', 'size', 'hash', 'receivedAt'],
  properties: {
    kind: kindParam,
    direction: { type: 'string', enum: ['inbound', 'outbound'] },
    counterpart: {
      type: 'string',
      description: 'The other side: the sender (inbound) or the receiver (outbound)',
    },
    signer: {
      type: 'object',
      properties: { subject: { type: 'string' }, serialNumber: { type: 'string' } },
    },
    size: { type: 'integer', description: 'Octets of the signed message as kept' },
    hash: { type: 'string', description: '`sha256:<hex>` of the octets' },
    receivedAt: { type: 'string', format: 'date-time' },
    href: { type: 'string', description: 'The octets (relative to this listing)' },
    certificate: { type: 'string', description: "The signer's certificate chain (relative)" },
  },
};

/**
 * The evidence API of the access point (for its operator): what `evidence.ts` keeps, by AS4 MessageId.
 * Every route needs `Authorization: Bearer <ap.adminToken>`; without the token configured every request is refused
 * (401). On the AP's HTTPS server, so it also asks for the TLS client certificate when `ap.requireClientCertificate`.
 */
export async function registerEvidenceRoutes(
  app: FastifyInstance,
  options: { store: ApStore; adminToken: string | undefined },
): Promise<void> {
  const { store } = options;
  const adminToken = options.adminToken === undefined ? undefined : new StaticBearerToken(options.adminToken);
  await app.register(async (scope) => {
    scope.addHook('onRequest', async (request, reply) => {
      if (adminToken?.matches(request.headers.authorization)) return;
      reply.header('www-authenticate', 'Bearer');
      throw new EhmiError(
        'EHMI_UNAUTHORIZED',
        adminToken
          ? 'the evidence API needs Authorization: Bearer <ap.adminToken>'
          : 'the evidence API of this access point is off (ap.adminToken is not set)',
      );
    });

    scope.get<{ Params: { messageId: string } }>(
      '/evidence/:messageId',
      {
        schema: {
          summary:
            'The non-repudiation evidence kept for an AS4 message: one item per kind, with its metadata',
          security,
          params: { type: 'object', required: ['messageId'], properties: { messageId: messageIdParam } },
          responses: {
            '200': {
              description: '{messageId, items}',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: {
                      messageId: { type: 'string' },
                      items: { type: 'array', items: ITEM_SCHEMA },
                    },
                  },
                },
              },
            },
            '401': unauthorized,
            '404': outcome('No evidence is kept for this MessageId'),
          },
        },
      },
      async (request, reply) => {
        const { messageId } = request.params;
        const rows = await listEvidence(store.db, messageId);
        if (rows.length === 0) throw notFound(messageId);
        const base = encodeURIComponent(messageId);
        return reply.send({
          messageId,
          items: rows.map((r) => ({
            kind: r.kind,
            direction: r.direction,
            counterpart: r.counterpart,
            signer: { subject: r.signer_subject, serialNumber: r.signer_serial },
            size: Number(r.size),
            hash: `sha256:${r.sha256}`,
            receivedAt: new Date(Number(r.received_at)).toISOString(),
            href: `${base}/${r.kind}`,
            certificate: `${base}/${r.kind}/certificate`,
          })),
        });
      },
    );

    scope.get<{ Params: { messageId: string; kind: EvidenceKind } }>(
      '/evidence/:messageId/:kind',
      {
        schema: {
          summary: 'The signed message exactly as received (a UserMessage SOAP part or a receipt)',
          description:
            'The octets as they arrived: verify them with `ehmi as4 verify FILE` (a UserMessage SOAP part verifies ' +
            'without its attachments, whose signed digests it lists).',
          security,
          params: itemParams,
          responses: {
            '200': {
              description: 'The signed SOAP envelope',
              content: { 'application/soap+xml': { schema: { type: 'string' } } },
            },
            '401': unauthorized,
            '404': outcome('No evidence of this kind is kept for this MessageId'),
          },
        },
      },
      async (request, reply) => {
        const { messageId, kind } = request.params;
        const row = await findEvidence(store.db, messageId, kind);
        if (!row) throw notFound(messageId, kind);
        return reply.type('application/soap+xml').send(Buffer.from(row.content, 'base64'));
      },
    );

    scope.get<{ Params: { messageId: string; kind: EvidenceKind } }>(
      '/evidence/:messageId/:kind/certificate',
      {
        schema: {
          summary: "The signer's certificate chain as received with the message (PEM, signer first)",
          security,
          params: itemParams,
          responses: {
            '200': {
              description: 'PEM certificates',
              content: { 'application/pem-certificate-chain': { schema: { type: 'string' } } },
            },
            '401': unauthorized,
            '404': outcome('No evidence of this kind is kept for this MessageId'),
          },
        },
      },
      async (request, reply) => {
        const { messageId, kind } = request.params;
        const row = await findEvidence(store.db, messageId, kind);
        if (!row) throw notFound(messageId, kind);
        return reply.type('application/pem-certificate-chain').send(row.certificate_chain);
      },
    );
  });
}

function notFound(messageId: string, kind?: string): EhmiError {
  return new EhmiError(
    'EHMI_NOT_FOUND',
    `no ${kind ? `${kind} ` : ''}evidence is kept for AS4 message ${messageId}`,
    { details: { messageId, ...(kind ? { kind } : {}) } },
  );
}
