import { isEhmiError, toOperationOutcome } from '@ehmi/errors';
import { jsonToXml, xmlToJson } from '@ehmi/fhir';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteGenericInterface } from 'fastify';
import { FHIR_JSON } from './server.ts';

/**
 * The plumbing the node's FHIR REST servers (EER, EDS) share: the FHIR media types they read, JSON or XML answers
 * by `_format` and Accept, errors as the OperationOutcome they carry, and FHIR search's value lists.
 */

type Json = Record<string, unknown>;

export const FHIR_XML = 'application/fhir+xml; charset=utf-8';
export const FHIR_JSON_TYPES = ['application/fhir+json', 'application/json+fhir'];
export const FHIR_XML_TYPES = ['application/fhir+xml', 'application/xml+fhir', 'application/xml', 'text/xml'];

/** Bodies in FHIR JSON and FHIR XML (R4 http.html §3.1.0.1.6), both read into the JSON form. */
export function addFhirContentTypes(app: FastifyInstance): void {
  const jsonParser = app.getDefaultJsonParser('error', 'error');
  // A Content-Type on a request without a body (clients such as test runners send one on every GET and DELETE) is
  // no body, not an unreadable one; a POST without a body is then refused by its route, with what it needs.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(
    [...FHIR_JSON_TYPES, 'application/json'],
    { parseAs: 'string' },
    (request, text, done) =>
      text === '' ? done(null, undefined) : jsonParser(request, text as string, done),
  );
  app.addContentTypeParser(FHIR_XML_TYPES, { parseAs: 'string' }, (_request, text, done) => {
    if (text === '') return done(null, undefined);
    try {
      done(null, xmlToJson(text as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
}

/** XML when `_format` or Accept asks for it (FHIR R4 http.html §3.1.0.1.6), JSON otherwise. */
export function wantsXml(request: FastifyRequest): boolean {
  const format = (request.query as Record<string, string | string[] | undefined> | undefined)?._format;
  const f = Array.isArray(format) ? format[0] : format;
  if (f) return /xml/i.test(f);
  const accept = request.headers.accept ?? '';
  return /xml/i.test(accept) && !/json/i.test(accept);
}

/** Answer `body` (a FHIR resource in its JSON form) as the request asks: FHIR JSON or FHIR XML. */
export function sendFhir(
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  body: Json | undefined,
): FastifyReply {
  reply.status(status);
  if (body === undefined) return reply.send();
  if (wantsXml(request)) return reply.type(FHIR_XML).send(jsonToXml(body));
  return reply.type(FHIR_JSON).send(JSON.stringify(body));
}

/** An OpenAPI response of a FHIR server: an OperationOutcome, in FHIR JSON or FHIR XML. */
export function fhirErrorResponse(description: string) {
  return {
    description,
    content: {
      'application/fhir+json': { schema: { $ref: '#/components/schemas/OperationOutcome' } },
      'application/fhir+xml': { schema: { type: 'string' } },
    },
  };
}

/** An OpenAPI response of a FHIR server: a resource, in FHIR JSON or FHIR XML. */
export function fhirResponse(description: string) {
  return {
    description,
    content: {
      'application/fhir+json': { schema: { type: 'object' } },
      'application/fhir+xml': { schema: { type: 'string' } },
    },
  };
}

/** Whether the client asked for no resource in the answer (`Prefer: return=minimal`, FHIR R4 http.html §3.1.0.5.2). */
export function prefersMinimal(request: FastifyRequest): boolean {
  return /return=minimal/i.test(String(request.headers.prefer ?? ''));
}

/** A route handler whose EHMI errors are answered as FHIR OperationOutcomes (others go to the server's handler). */
export function fhirHandler<R extends RouteGenericInterface>(
  fn: (request: FastifyRequest<R>, reply: FastifyReply) => Promise<FastifyReply>,
) {
  return async (request: FastifyRequest<R>, reply: FastifyReply): Promise<FastifyReply> => {
    try {
      return await fn(request, reply);
    } catch (err) {
      return sendFhirError(request, reply, err);
    }
  };
}

/** Errors answered with the OperationOutcome they carry (a failed validation lists every issue). */
export function sendFhirError(request: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply {
  if (!isEhmiError(err)) throw err;
  const outcome =
    (err.details as { outcome?: Json } | undefined)?.outcome ?? (toOperationOutcome(err) as unknown as Json);
  request.log.info({ code: err.code, msg: err.message }, 'request refused');
  return sendFhir(request, reply, err.status, outcome);
}

/** Splits `a,b` on commas that are not escaped as `\,` (search.html §3.1.1.4.7). */
export function splitSearchValues(v: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < v.length; i++) {
    const ch = v[i]!;
    if (ch === '\\' && i + 1 < v.length && ',$|\\'.includes(v[i + 1]!)) {
      cur += v[i + 1];
      i++;
    } else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.filter((s) => s !== '');
}
