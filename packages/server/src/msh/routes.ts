import { EhmiError } from '@ehmi/errors';
import { jsonToXml, stringifyFhirJson } from '@ehmi/fhir';
import type { RevocationChecker } from '@ehmi/pki';
import { parse, payloadOf } from '@ehmi/sbdh';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FHIR_JSON, noteAudit } from '../http/index.ts';
import { SMART_CONFIGURATION_PATH } from '../smart-configuration.ts';
import { requireClientCertificate } from '../trust.ts';
import { refusePayloadForPatient, restrictedPatient } from './access.ts';
import { acceptedAnswer, eventJson, inboxItem, type MshCore, messageSummary, partyOf } from './core.ts';
import { deadLettersOf, retryDeadLetters } from './dead-letters.ts';
import { takeAcknowledgement, takeInboxItem } from './delivery-status.ts';
import { fhirFormatOf, fhirText, formatOfMime, ProfileValidationError, readFhir } from './fhir-body.ts';
import { journeySource, messageJourney } from './journey.ts';
import { acknowledgeInbox } from './outbound/acknowledge.ts';
import { resend } from './outbound/resend.ts';
import { type PayloadQuery, submitFhir, submitPayload } from './outbound/submit.ts';
import { type PagingQuery, page, pagingOf } from './paging.ts';
import {
  findInboxItem,
  findMessage,
  listInbox,
  listMessages,
  messageEvents,
  removeInboxItem,
} from './repository.ts';
import { schemas } from './schemas.ts';
import type { MessageStatus, NeedsAction } from './tables.ts';
import { registerWebhookRoutes } from './webhooks/routes.ts';

type IdParams = { Params: { id: string } };

/** Paths a client may call without a certificate: load balancers and probes, and the SMART configuration. */
const OPEN_PATHS = new Set(['/health', SMART_CONFIGURATION_PATH]);

/**
 * Paths this hook lets through without an access token: the probes, the OpenAPI document, the SMART configuration
 * (a client reads it before it has a token), and the metrics, which have their own check (the operator's token of
 * scope `ehmi/metrics.read`, `metrics-access.ts`).
 */
export const TOKEN_OPEN_PATHS: ReadonlySet<string> = new Set([
  '/health',
  '/openapi.json',
  SMART_CONFIGURATION_PATH,
  '/metrics',
]);

/**
 * The EUA API (specs of the MSH helper brief; route schemas and OpenAPI in ./schemas.ts). Every error is a FHIR OperationOutcome
 * with the status of its EhmiError code.
 */
export function registerRoutes(
  app: FastifyInstance,
  core: MshCore,
  options: {
    clientCertificates?: RevocationChecker;
    /** The access token check (`access.ts` `requireMshAccess`), when the node has `authorization`. */
    accessTokens?: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
  },
): void {
  if (options.clientCertificates) {
    // mTLS: the server asks for a certificate and refuses, with 401, a request whose client presented none that
    // chains to msh.clientTrustAnchors (node verifies the chain; `authorized` is its verdict), one not meant for TLS
    // clients, or a revoked one.
    app.addHook(
      'onRequest',
      requireClientCertificate({
        revocation: options.clientCertificates,
        anchorsKey: 'msh.clientTrustAnchors',
        open: OPEN_PATHS,
        // With access tokens, a refusal names the Bearer scheme (RFC 9110 §15.5.2).
        bearer: options.accessTokens !== undefined,
      }),
    );
  }
  // Then the access token (FAPI 2.0 §5.3.3): bound to that certificate, for this MSH, with the route's scope, and
  // for this MSH's organisation (or the operator, reading).
  if (options.accessTokens) app.addHook('onRequest', options.accessTokens);

  // Bodies are read as bytes: a submitted message is wrapped exactly as it was sent (ehmiSBDH BinaryContent).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.register(async (api) => {
    api.setErrorHandler((error, _request, reply) => {
      if (error instanceof ProfileValidationError) {
        return reply.status(422).type(FHIR_JSON).send(error.outcome);
      }
      throw error;
    });

    // A client restricted to one patient asks about that patient, whatever the call (its audit record says so);
    // a route that reads a message or an inbox item notes that one's patient.
    api.addHook('preHandler', async (request) => {
      const patient = restrictedPatient(request);
      if (patient) noteAudit(request, { patient });
    });

    api.post('/messages', { schema: schemas.submitMessage }, async (request, reply) => {
      const format = fhirFormatOf(request.headers['content-type']);
      if (!format) {
        throw new EhmiError(
          'EHMI_UNSUPPORTED_MEDIA_TYPE',
          `send a MedCom FHIR message as application/fhir+json or application/fhir+xml, not ${request.headers['content-type'] ?? 'no Content-Type'}`,
        );
      }
      const result = await submitFhir(core, bodyOf(request), format, restrictedPatient(request));
      aboutPatient(request, result.row.patient_cpr);
      return reply
        .status(result.existing ? 200 : 202)
        .header('location', `/messages/${result.row.id}`)
        .send(acceptedAnswer(result.row));
    });

    api.post<{ Querystring: PayloadQuery }>(
      '/payloads',
      { schema: schemas.submitPayload },
      async (request, reply) => {
        refusePayloadForPatient(request);
        const result = await submitPayload(
          core,
          bodyOf(request),
          request.headers['content-type'],
          request.query,
        );
        return reply
          .status(202)
          .header('location', `/messages/${result.row.id}`)
          .send(acceptedAnswer(result.row));
      },
    );

    // status and needsAction are checked against their enums by the route schema (400 otherwise).
    api.get<{
      Querystring: {
        status?: MessageStatus;
        needsAction?: NeedsAction;
        patient?: string;
        receiver?: string;
        type?: string;
        from?: string;
        to?: string;
      } & PagingQuery;
    }>('/messages', { schema: schemas.listMessages }, async (request, reply) => {
      const { patient: asked, limit, after, order, from, to, receiver, ...filter } = request.query;
      const restricted = restrictedPatient(request);
      // A search by patient is about that patient (its audit record says so); a token restricted to another
      // patient finds nothing.
      if (asked) aboutPatient(request, asked);
      if (asked && restricted && asked !== restricted) return [];
      const patient = restricted ?? asked;
      const paging = { limit, after, order };
      const rows = await listMessages(
        core.store.db,
        {
          ...filter,
          ...(patient ? { patient } : {}),
          ...(receiver ? { receiver: partyOf(receiver) } : {}),
          ...(from ? { from: Date.parse(from) } : {}),
          ...(to ? { to: Date.parse(to) } : {}),
        },
        pagingOf(paging),
      );
      return page(request, reply, paging, rows, (r) => ({ at: r.created_at, id: r.id })).map(messageSummary);
    });

    api.get<IdParams>('/messages/:id', { schema: schemas.getMessage }, async (request) => {
      const { id } = request.params;
      const row = await findMessage(core.store.db, id, restrictedPatient(request));
      if (!row) throw new EhmiError('EHMI_NOT_FOUND', `no sent message ${id}`);
      aboutPatient(request, row.patient_cpr);
      // The EUA sees the acknowledgement here: its first read after it arrived is EDS step 16.1.
      if (isEua(request)) await takeAcknowledgement(core, row);
      const events = await messageEvents(core.store.db, id);
      return { ...messageSummary(row), events: events.map(eventJson) };
    });

    // The message's journey across the network, from EDS (docs/architecture.md "Track'n'trace").
    api.get<IdParams>('/messages/:id/journey', { schema: schemas.getJourney }, async (request) => {
      const { id } = request.params;
      journeySource(core);
      const row = await findMessage(core.store.db, id, restrictedPatient(request));
      if (!row) throw new EhmiError('EHMI_NOT_FOUND', `no sent message ${id}`);
      return messageJourney(core, row);
    });

    api.post<IdParams>('/messages/:id/$resend', { schema: schemas.resend }, async (request, reply) => {
      const { id } = request.params;
      const row = await resend(core, id, restrictedPatient(request));
      aboutPatient(request, row.patient_cpr);
      return reply.status(202).send({ id: row.id, envelopeId: row.envelope_id, resends: row.resends });
    });

    // The connectivity test (eDelivery AS4 1.15 §2.2.3.2), through this node's AP; it names no patient.
    api.post<{ Querystring: { receiver: string } }>('/ping', { schema: schemas.ping }, async (request) => {
      const ping = core.accessPoint.ping;
      if (!ping) throw new EhmiError('EHMI_NOT_SUPPORTED', "this node's access point offers no test service");
      const receiver = partyOf(request.query.receiver);
      const r = await ping(receiver);
      return { ...r, sentAt: new Date(r.sentAt).toISOString() };
    });

    api.get('/pings', { schema: schemas.pings }, async () => {
      const pings = core.accessPoint.pings;
      if (!pings) return [];
      return (await pings()).map((p) => ({
        receiver: p.receiver,
        ...(p.lastOk
          ? {
              lastOk: {
                at: new Date(p.lastOk.at).toISOString(),
                roundTripMs: p.lastOk.roundTripMs,
                receiptTime: new Date(p.lastOk.receiptAt).toISOString(),
                as4MessageId: p.lastOk.as4MessageId,
              },
            }
          : {}),
        lastAttemptAt: new Date(p.lastAttemptAt).toISOString(),
        ...(p.lastError ? { lastError: p.lastError } : {}),
      }));
    });

    // The message's dead-lettered jobs on this node, and their retry (dead-letters.ts): the organisation's EUA, or
    // the network's operator (support desk) for any organisation.
    api.get<IdParams>('/messages/:id/dead-letters', { schema: schemas.deadLetters }, async (request) => {
      const { id } = request.params;
      const row = await findMessage(core.store.db, id, restrictedPatient(request));
      if (!row) throw new EhmiError('EHMI_NOT_FOUND', `no sent message ${id}`);
      return deadLettersOf(core, row);
    });

    api.post<IdParams & { Querystring: { job?: string } }>(
      '/messages/:id/$retry',
      { schema: schemas.retry },
      async (request, reply) => {
        const { id } = request.params;
        const row = await findMessage(core.store.db, id, restrictedPatient(request));
        if (!row) throw new EhmiError('EHMI_NOT_FOUND', `no sent message ${id}`);
        aboutPatient(request, row.patient_cpr);
        const retried = await retryDeadLetters(core, row, request.query.job);
        // The audit record names the jobs put back (who did it is the record's caller).
        noteAudit(request, {
          resource: `Message/${id}`,
          detail: `retried ${retried.map((j) => `${j.queue} ${j.id}`).join(', ')}`.slice(0, 500),
        });
        return reply.status(202).send({ id, retried });
      },
    );

    api.get<{ Querystring: PagingQuery }>('/inbox', { schema: schemas.inbox }, async (request, reply) => {
      const rows = await listInbox(core.store.db, restrictedPatient(request), pagingOf(request.query));
      return page(request, reply, request.query, rows, (r) => ({ at: r.received_at, id: r.id })).map(
        inboxItem,
      );
    });

    api.get('/inbox/stream', { schema: schemas.inboxStream }, async (request, reply) => {
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write(': inbox events\n\n');
      core.hub.add(res, restrictedPatient(request));
      request.raw.on('close', () => res.end());
    });

    api.get<IdParams>('/inbox/:id', { schema: schemas.inboxItem }, async (request, reply) => {
      const { id } = request.params;
      const item = await findInboxItem(core.store.db, id, restrictedPatient(request));
      if (!item || item.removed_at !== null) throw new EhmiError('EHMI_NOT_FOUND', `no inbox item ${id}`);
      aboutPatient(request, item.patient_cpr);
      const payload = payloadOf(parse(await core.store.blobs.read(item.envelope_hash)));
      // The EUA's first read of the content is EDS step 06.1.
      if (isEua(request)) await takeInboxItem(core, item);
      const stored = formatOfMime(item.mime_type);
      if (!stored) return reply.type(item.mime_type).send(payload);
      const wanted = preferredFormat(request);
      if (wanted === stored) {
        const charset =
          stored === 'xml' && /^\s*<\?xml[^>]*iso-?8859-?1/i.test(payload.subarray(0, 200).toString('latin1'))
            ? 'iso-8859-1'
            : 'utf-8';
        return reply.type(`application/fhir+${stored}; charset=${charset}`).send(payload);
      }
      const resource = readFhir(payload, stored);
      if (wanted === 'xml') {
        return reply
          .type('application/fhir+xml; charset=utf-8')
          .send(`<?xml version="1.0" encoding="UTF-8"?>${jsonToXml(resource)}`);
      }
      return reply.type(FHIR_JSON).send(stringifyFhirJson(resource));
    });

    api.delete<IdParams>('/inbox/:id', { schema: schemas.removeInboxItem }, async (request, reply) => {
      const { id } = request.params;
      const item = await findInboxItem(core.store.db, id, restrictedPatient(request));
      if (!item) throw new EhmiError('EHMI_NOT_FOUND', `no inbox item ${id}`);
      aboutPatient(request, item.patient_cpr);
      // Acknowledge-to-remove (as MESH's acknowledge): the item leaves the list, and stays for duplicate handling.
      await removeInboxItem(core.store.db, id, core.now());
      return reply.status(204).send();
    });

    api.post<IdParams>('/inbox/:id/$acknowledge', { schema: schemas.acknowledge }, async (request, reply) => {
      const { id } = request.params;
      const raw = bodyOf(request, true);
      let body: Record<string, unknown> = {};
      if (raw.length > 0) {
        try {
          body = JSON.parse(fhirText(raw, 'json')) as Record<string, unknown>;
        } catch (err) {
          throw new EhmiError('EHMI_INPUT_UNREADABLE', `the body is not JSON: ${(err as Error).message}`);
        }
        if (typeof body !== 'object' || body === null || Array.isArray(body)) {
          throw new EhmiError('EHMI_INPUT_UNREADABLE', 'the body must be a JSON object {"code": …}');
        }
      }
      const ackId = await acknowledgeInbox(core, id, body, restrictedPatient(request), actorOf(request));
      aboutPatient(request, (await findInboxItem(core.store.db, id))?.patient_cpr);
      return reply.status(202).header('location', `/messages/${ackId}`).send({ id: ackId });
    });

    registerWebhookRoutes(api, core);
  });
}

/** The patient a call concerned, for its audit record: the message's or the inbox item's CPR. */
function aboutPatient(request: FastifyRequest, cpr: string | null | undefined): void {
  if (cpr) noteAudit(request, { patient: cpr });
}

/**
 * Whether the caller is the organisation's EUA (its system's token names the organisation, or the node has no
 * tokens): only the EUA's reads are EDS steps (06.1 "read by clinician", 16.1). Not the network's operator reading
 * across organisations, and not a person reading in the console, even of the organisation: the console is a tool to
 * follow messages, not the clinical system where the message is taken into the patient's record, and a 06.1 from it
 * would tell the sender the message was finalized when the clinical system had not had it (DESIGN-NOTES.md "The
 * operator's actions").
 */
function isEua(request: FastifyRequest): boolean {
  const access = request.access;
  return access === undefined || ((access.organisation?.contexts ?? []).length > 0 && !access.user);
}

/** Who calls, for what the MSH keeps of an act: `person:<account>` for a person's token, else `client:<id>`. */
function actorOf(request: FastifyRequest): string | undefined {
  const access = request.access;
  if (!access) return undefined;
  return access.user ? `person:${access.user.subject}` : `client:${access.clientId}`;
}

function bodyOf(request: FastifyRequest, optional = false): Buffer {
  const body = request.body;
  if (Buffer.isBuffer(body)) return body;
  if (optional && (body === undefined || body === null)) return Buffer.alloc(0);
  if (body === undefined || body === null) throw new EhmiError('EHMI_INPUT_UNREADABLE', 'the body is empty');
  return Buffer.from(String(body));
}

/** `Accept`: FHIR XML when the client asks for it (and not for JSON first); JSON by default (FHIR R4 http.html). */
function preferredFormat(request: FastifyRequest): 'json' | 'xml' {
  const accept = String(request.headers.accept ?? '').toLowerCase();
  const q = (new URLSearchParams(request.url.split('?')[1] ?? '').get('_format') ?? '').toLowerCase();
  if (q.includes('xml')) return 'xml';
  if (q.includes('json')) return 'json';
  const xml = accept.search(/application\/(fhir\+)?xml|text\/xml/);
  const json = accept.search(/application\/(fhir\+)?json/);
  return xml >= 0 && (json < 0 || xml < json) ? 'xml' : 'json';
}
