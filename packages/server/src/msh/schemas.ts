import { errorResponse, json, ref, UUID } from './schema-parts.ts';
import { TIMELINE_STEPS } from './steps.ts';
import { WEBHOOK_COMPONENTS, WEBHOOK_SCHEMAS } from './webhooks/schemas.ts';

/**
 * The EUA API's route schemas (params and query validated by fastify, the rest documentation) and the OpenAPI
 * components they refer to; `GET /openapi.json` is generated from them (http/openapi.ts).
 */

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: UUID, description: 'The tracking id (a UUID)' } },
} as const;
const unauthorized = errorResponse('No client certificate under the trust anchors (mutual TLS)');

/** The paging parameters of the lists (`msh/paging.ts`): keyset pages in a stable order, a cursor, a Link header. */
const PAGING = {
  limit: {
    type: 'integer',
    minimum: 1,
    maximum: 1000,
    description:
      'At most this many items; when more follow, the answer has a Link header with rel="next" (RFC 8288): the same request with after set. Without limit, the list is answered whole (up to 10,000)',
  },
  after: {
    type: 'string',
    minLength: 1,
    maxLength: 300,
    description:
      'Where the page starts: the cursor in the previous page’s Link rel="next"; the cursor after an item is base64url of `<createdAt (messages) or receivedAt (inbox) in epoch milliseconds>.<id>`',
  },
  order: {
    type: 'string',
    enum: ['asc', 'desc'],
    default: 'asc',
    description: 'asc: oldest first (the default); desc: newest first',
  },
} as const;
const NEXT_LINK = {
  Link: {
    description: 'rel="next": the next page, when there is one (only with limit)',
    schema: { type: 'string' },
  },
};

export const STATUSES = ['accepted', 'sent', 'receipted', 'acknowledged', 'failed'] as const;
export const NEEDS_ACTION = ['missing-receipt', 'missing-acknowledgement'] as const;

const COMPONENTS = {
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
    Journey: {
      type: 'object',
      description:
        "A message's journey across the network from EHMI Delivery Status (EDS): every step recorded, and the steps the table expects that are late (missing) or still to come (pending)",
      required: ['id', 'messageId', 'status', 'events', 'missing', 'pending'],
      properties: {
        id: { type: 'string', description: 'The tracking id' },
        messageId: { type: 'string', description: 'MessageHeader.id: what EDS knows the message by' },
        status: { $ref: '#/components/schemas/Status' },
        events: {
          type: 'array',
          items: {
            type: 'object',
            required: ['code', 'station', 'time', 'outcome', 'meaning'],
            properties: {
              code: {
                type: ['string', 'null'],
                description: 'EDS step (ehmi-core §1.2); null for an event no step places (another vendor’s)',
              },
              flow: { enum: ['message', 'receipt', 'acknowledgement', 'ack-receipt'] },
              station: { type: 'string', description: '<organisation>/<EUA|MSH|AP>' },
              time: { type: 'string', format: 'date-time' },
              outcome: { enum: ['success', 'failure'] },
              meaning: { type: 'string' },
              subtype: { type: 'string' },
              messageId: { type: 'string' },
            },
          },
        },
        missing: { type: 'array', items: { $ref: '#/components/schemas/JourneyGap' } },
        pending: { type: 'array', items: { $ref: '#/components/schemas/JourneyGap' } },
      },
    },
    JourneyGap: {
      type: 'object',
      required: ['code', 'station', 'meaning'],
      properties: {
        code: { type: 'string' },
        station: { type: 'string', description: '<organisation>/<EUA|MSH|AP>' },
        meaning: { type: 'string' },
        dueBy: { type: 'string', format: 'date-time', description: 'Absent for a step without a deadline' },
      },
    },
    DeadLetter: {
      type: 'object',
      required: ['id', 'queue', 'attempts'],
      description:
        'A job of the message on this node that the queue gave up on (dead-lettered), until it is retried',
      properties: {
        id: { type: 'string' },
        queue: { type: 'string', examples: ['msh.dispatch', 'ap.send', 'ap.outcome', 'eds.report'] },
        attempts: { type: 'integer' },
        error: { type: ['string', 'null'], description: 'Why its last try failed' },
        at: { type: ['string', 'null'], format: 'date-time', description: 'When it was dead-lettered' },
      },
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
        mimeType: {
          type: 'string',
          description: "the payload's media type (BinaryContent@mimeType): what GET /inbox/{id} answers with",
        },
        acknowledgement: {
          oneOf: [
            { type: 'null' },
            {
              type: 'object',
              properties: {
                code: { enum: ['ok', 'transient-error', 'fatal-error'] },
                at: { type: 'string', format: 'date-time' },
                by: {
                  type: ['string', 'null'],
                  description:
                    'client:<client_id> (the organisation’s system) or person:<account> (someone acting as the organisation’s EUA in the console)',
                },
              },
            },
          ],
        },
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
    ...WEBHOOK_COMPONENTS,
  },
};

export const mshOpenApi = {
  title: 'EHMI message service handler (ehmiMSH): EUA API',
  version: '1.0.0',
  description:
    'Submit MedCom FHIR messages and other payloads, follow their delivery (EDS steps of ehmi-core §1.2), read and ' +
    'acknowledge received messages, and register webhooks to which the MSH pushes its events (Standard Webhooks 1.0). ' +
    'Authentication is mutual TLS when the node sets msh.clientTrustAnchors. ' +
    'Errors are FHIR OperationOutcome resources; a bad path or query parameter is a 400.',
  security: [{ mutualTLS: [] }],
  components: COMPONENTS,
};

export const schemas = {
  submitMessage: {
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
        content: json(ref('Accepted')),
      },
      '200': { description: 'An identical earlier submission', content: json(ref('Accepted')) },
      '400': errorResponse('Unreadable body'),
      '401': unauthorized,
      '403': errorResponse(
        'MessageHeader.sender is not this organisation; or the access token is restricted to one patient and the message is about another',
      ),
      '409': errorResponse('The MessageHeader.id was submitted before with another Bundle.id (use $resend)'),
      '413': errorResponse('Body too large'),
      '415': errorResponse('Not a FHIR media type'),
      '422': errorResponse('The message fails its profile (every issue in the OperationOutcome)'),
    },
  },
  listMessages: {
    summary: 'Sent messages',
    querystring: {
      type: 'object',
      properties: {
        status: { type: 'string', enum: [...STATUSES] },
        needsAction: { type: 'string', enum: [...NEEDS_ACTION] },
        patient: {
          type: 'string',
          pattern: '^[0-9]{10}$',
          description:
            "Only the messages about this patient (CPR); the search is recorded with the patient in the node's audit log",
        },
        receiver: {
          type: 'string',
          maxLength: 64,
          description: 'Only those to this receiver (GLN or 0088:GLN)',
        },
        type: {
          type: 'string',
          maxLength: 128,
          description: 'Only those of this type (MessageHeader.eventCoding)',
        },
        from: { type: 'string', format: 'date-time', description: 'Created at or after' },
        to: { type: 'string', format: 'date-time', description: 'Created at or before' },
        ...PAGING,
      },
    },
    responses: {
      '200': {
        description: 'Summaries, oldest first (or newest first: order=desc), one page with limit',
        headers: NEXT_LINK,
        content: json({ type: 'array', items: ref('MessageSummary') }),
      },
      '400': errorResponse(
        'A status or needsAction that is not one of the listed values, a bad limit, or an after that is no cursor',
      ),
    },
  },
  submitPayload: {
    summary: 'Submit any payload with explicit metadata (OIOXML, EDIFACT, CDA, other FHIR messages)',
    querystring: {
      type: 'object',
      properties: {
        receiver: { type: 'string', description: '0088:<GLN> of the receiving organisation' },
        documentType: {
          type: 'string',
          description:
            'SBDH DOCUMENTID (SMP document type): a code of CodeSystem ehmi-message-definition-uri, e.g. urn:dk:healthcare:medcom:messaging:edifact:medrpt:rpt01:r0131k',
        },
        process: { type: 'string', description: 'SBDH PROCESSID, e.g. urn:ehmi:sdn-emergence' },
        kind: {
          type: 'string',
          description:
            "oioxml, edifact, cda or fhir; default the document type's family (an OIOXML document type also carries cda)",
        },
        standard: {
          type: 'string',
          description: 'DocumentIdentification/Standard (default from the document type, e.g. rpt01)',
        },
        typeVersion: {
          type: 'string',
          description: 'DocumentIdentification/TypeVersion (default from the document type, e.g. r0131k)',
        },
        type: { type: 'string', description: 'DocumentIdentification/Type' },
        patientId: { type: 'string' },
        messageId: { type: 'string', description: 'MESSAGEIDENTIFIER (default a new UUID)' },
        receiverSor: {
          type: 'string',
          pattern: '^\\d{1,18}$',
          description:
            "RECEIVERID: the receiving organisation's SOR code. EHMI Delivery Status names both parties by SOR: without it the sending side's steps of the payload are not reported",
        },
      },
    },
    requestBody: { required: true, content: { '*/*': { schema: { type: 'string', format: 'binary' } } } },
    responses: {
      '202': { description: 'Accepted', content: json(ref('Accepted')) },
      '400': errorResponse('Missing or bad metadata, unreadable body'),
      '401': unauthorized,
      '403': errorResponse(
        'The access token is restricted to one patient (the MSH cannot read a payload’s patient)',
      ),
      '422': errorResponse(
        'A document type outside ehmi-message-definition-uri, a kind its family does not carry, or an envelope that cannot be built valid from this metadata',
      ),
    },
  },
  getMessage: {
    summary: 'Status and timeline of a sent message',
    description: `Timeline steps (EDS steps of ehmi-core §1.2): ${Object.entries(TIMELINE_STEPS)
      .map(([code, meaning]) => `${code} ${meaning}`)
      .join('; ')}.`,
    params: idParams,
    responses: {
      '200': { description: 'The message', content: json(ref('Message')) },
      '400': errorResponse('The id is not a UUID'),
      '404': errorResponse('Unknown id, or about another patient than the access token is restricted to'),
    },
  },
  getJourney: {
    summary: "A sent message's journey across the network, from EHMI Delivery Status (EDS)",
    description:
      'Asks EDS with the node’s own token (deliveryStatus) for the events of the message, its EnvelopeReceipts, its acknowledgement and that one’s receipts; a step is missing when it is not recorded by its due time (deliveryStatus.due).',
    params: idParams,
    responses: {
      '200': { description: 'The journey', content: json(ref('Journey')) },
      '400': errorResponse('The id is not a UUID'),
      '404': errorResponse('Unknown id, or about another patient than the access token is restricted to'),
      '503': errorResponse('EDS cannot be reached, or the node names no EDS'),
    },
  },
  resend: {
    summary:
      'Resend a MedCom message: new SBDH InstanceIdentifier, new Bundle.id and timestamp, same MessageHeader.id',
    params: idParams,
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
      '400': errorResponse('The id is not a UUID'),
      '404': errorResponse('Unknown id, or about another patient than the access token is restricted to'),
      '409': errorResponse('Resent msh.maxResends times already, acknowledged, or not a MedCom message'),
    },
  },
  ping: {
    summary:
      "Connectivity test: the AP sends the receiver's AP one ebMS 3.0 test-service message and waits for its signed receipt",
    description:
      'eDelivery AS4 1.15 §2.2.3.2 (Service …/200704/service, Action …/200704/test): the receiving AP verifies and receipts it as any message and delivers it to no one. The answer gives the round trip and the receipt’s own time; each partner’s last ping is kept (GET /pings).',
    querystring: {
      type: 'object',
      required: ['receiver'],
      additionalProperties: false,
      properties: {
        receiver: {
          type: 'string',
          pattern: '^(0088:)?\\d{13}$',
          description: '0088:<GLN> (or the GLN) of the organisation whose AP is pinged',
        },
      },
    },
    responses: {
      '200': {
        description: 'The receipt came and verified',
        content: json({
          type: 'object',
          properties: {
            receiver: { type: 'string' },
            as4MessageId: { type: 'string' },
            endpointUrl: { type: 'string' },
            sentAt: { type: 'string', format: 'date-time' },
            roundTripMs: { type: 'integer' },
            receiptTime: { type: 'string', description: "the receipt's eb:Timestamp" },
          },
        }),
      },
      '400': errorResponse('No receiver, or not a GLN; or this node’s access point offers no test service'),
      '401': unauthorized,
      '404': errorResponse('The register publishes no access point for the receiver'),
      '502': errorResponse('The receiver’s AP could not be reached, or its receipt did not verify'),
      '504': errorResponse('No receipt: the receiver’s AP answered with an ebMS error or none'),
    },
  },
  pings: {
    summary: "Each partner's last ping by this organisation's AP: its last success and its last attempt",
    responses: {
      '200': {
        description: 'One entry per partner pinged',
        content: json({
          type: 'array',
          items: {
            type: 'object',
            properties: {
              receiver: { type: 'string' },
              lastOk: {
                type: 'object',
                properties: {
                  at: { type: 'string', format: 'date-time' },
                  roundTripMs: { type: 'integer' },
                  receiptTime: { type: 'string', format: 'date-time' },
                  as4MessageId: { type: 'string' },
                },
              },
              lastAttemptAt: { type: 'string', format: 'date-time' },
              lastError: { type: 'string' },
            },
          },
        }),
      },
      '401': unauthorized,
    },
  },
  deadLetters: {
    summary:
      "The message's dead-lettered jobs on this node (hand-over to the AP, AS4 send, outcome, EDS reports)",
    params: idParams,
    responses: {
      '200': { description: 'Newest first', content: json({ type: 'array', items: ref('DeadLetter') }) },
      '400': errorResponse('The id is not a UUID'),
      '404': errorResponse('Unknown id, or about another patient than the access token is restricted to'),
    },
  },
  retry: {
    summary:
      "Retry the message's dead-lettered jobs (or one, with job): each runs again now, its tries afresh",
    description:
      'For the organisation (scope msh/messages.write) and the network operator’s support desk (msh/messages.resend). Recorded in the node’s audit log with the jobs retried.',
    params: idParams,
    querystring: {
      type: 'object',
      additionalProperties: false,
      properties: {
        job: { type: 'string', minLength: 1, maxLength: 200, description: 'Only this dead job' },
      },
    },
    responses: {
      '202': {
        description: 'Back in their queues',
        content: json({
          type: 'object',
          required: ['id', 'retried'],
          properties: { id: { type: 'string' }, retried: { type: 'array', items: ref('DeadLetter') } },
        }),
      },
      '400': errorResponse('The id is not a UUID'),
      '403': errorResponse('Neither this organisation nor the network operator'),
      '404': errorResponse('Unknown message, or no dead job of that id for it'),
      '409': errorResponse('The message has no dead-lettered job (retried already, or none failed)'),
    },
  },
  inbox: {
    summary:
      'Received messages not yet removed, oldest first (newest first: order=desc), one page with limit',
    querystring: { type: 'object', properties: { ...PAGING } },
    responses: {
      '200': {
        description: 'Items',
        headers: NEXT_LINK,
        content: json({ type: 'array', items: ref('InboxItem') }),
      },
      '400': errorResponse('A bad limit, or an after that is no cursor'),
    },
  },
  inboxStream: {
    summary: 'Server-sent events: `event: message` with the inbox item for each new arrival',
    responses: {
      '200': {
        description: 'Event stream',
        content: { 'text/event-stream': { schema: { type: 'string' } } },
      },
    },
  },
  inboxItem: {
    summary:
      'The received message: FHIR JSON by default, FHIR XML with Accept: application/fhir+xml; any other payload (OIOXML, EDIFACT, CDA) exactly as sent, with its media type',
    params: idParams,
    querystring: {
      type: 'object',
      properties: { _format: { type: 'string', description: 'json or xml; wins over Accept' } },
    },
    responses: {
      '200': {
        description: 'The message as received (converted when the other format is asked for)',
        content: {
          'application/fhir+json': { schema: { type: 'object' } },
          'application/fhir+xml': { schema: { type: 'string' } },
          '*/*': { schema: { type: 'string', format: 'binary' } },
        },
      },
      '400': errorResponse('The id is not a UUID'),
      '404': errorResponse(
        'Unknown, removed, or about another patient than the access token is restricted to',
      ),
    },
  },
  removeInboxItem: {
    summary: 'Acknowledge to remove: the item leaves the list (kept for duplicate handling until retention)',
    params: idParams,
    responses: {
      '204': { description: 'Removed' },
      '400': errorResponse('The id is not a UUID'),
      '404': errorResponse('Unknown id, or about another patient than the access token is restricted to'),
    },
  },
  acknowledge: {
    summary: 'Send the MedCom acknowledgement of a received message (once)',
    params: idParams,
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
      '400': errorResponse('The id is not a UUID, or the body is not a JSON object'),
      '404': errorResponse('Unknown id, or about another patient than the access token is restricted to'),
      '409': errorResponse('Acknowledged already'),
    },
  },
  ...WEBHOOK_SCHEMAS,
};
