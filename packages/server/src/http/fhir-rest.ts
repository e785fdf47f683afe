import { isEhmiError, toOperationOutcome } from '@ehmi/errors';
import { jsonToXml, xmlToJson } from '@ehmi/fhir';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
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
  app.addContentTypeParser(FHIR_JSON_TYPES, { parseAs: 'string' }, jsonParser);
  app.addContentTypeParser(FHIR_XML_TYPES, { parseAs: 'string' }, (_request, text, done) => {
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
