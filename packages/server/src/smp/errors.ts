import { randomUUID } from 'node:crypto';
import { EhmiError } from '@ehmi/errors';
import { escapeText } from '@ehmi/xml';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

/** Content type of SMP documents and error bodies (Peppol SMP 1.x REST binding: text/xml, UTF-8). */
export const SMP_CONTENT_TYPE = 'text/xml; charset=utf-8';

/**
 * Namespace of the error body. OASIS BDXR SMP 1.0 defines no error document; we answer with the one of the EC's
 * DomiSMP (the SMP of the Danish eDelivery network), so clients written against it read ours.
 */
export const SMP_ERROR_NS = 'ec:services:SMP:1.0';

/** DomiSMP's ErrorBusinessCode values we use. */
export type SmpBusinessCode =
  | 'NOT_FOUND'
  | 'UNAUTHORIZED'
  | 'FORMAT_ERROR'
  | 'XSD_INVALID'
  | 'WRONG_FIELD'
  | 'OUT_OF_RANGE'
  | 'TECHNICAL';

/**
 * The SMP error body: `<ErrorResponse xmlns="ec:services:SMP:1.0">` with BusinessCode, ErrorDescription and
 * ErrorUniqueId (the id is also logged, so an operator can find the request).
 *
 * @example
 * smpErrorBody('NOT_FOUND', 'participant iso6523-actorid-upis::0088:5790000121526 is not registered', id);
 */
export function smpErrorBody(code: SmpBusinessCode, description: string, uniqueId: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    `<ErrorResponse xmlns="${SMP_ERROR_NS}"><BusinessCode>${code}</BusinessCode>` +
    `<ErrorDescription>${escapeText(description)}</ErrorDescription>` +
    `<ErrorUniqueId>${escapeText(uniqueId)}</ErrorUniqueId></ErrorResponse>`
  );
}

function businessCode(err: EhmiError): SmpBusinessCode {
  switch (err.code) {
    case 'EHMI_NOT_FOUND':
    case 'EHMI_SMP_NOT_REGISTERED':
      return 'NOT_FOUND';
    case 'EHMI_UNAUTHORIZED':
    case 'EHMI_FORBIDDEN':
      return 'UNAUTHORIZED';
    case 'EHMI_SMP_IDENTIFIER_INVALID':
      return 'FORMAT_ERROR';
    case 'EHMI_XML_MALFORMED':
    case 'EHMI_XML_DOCTYPE_FORBIDDEN':
    case 'EHMI_XML_SCHEMA_INVALID':
      return 'XSD_INVALID';
    case 'EHMI_TOO_LARGE':
      return 'OUT_OF_RANGE';
    default:
      return err.status >= 500 ? 'TECHNICAL' : 'WRONG_FIELD';
  }
}

/** Fastify's own request errors (body too large, no content type parser, …) as our codes. */
function fromFastify(err: FastifyError): EhmiError {
  const status = err.statusCode ?? 500;
  if (status === 413) return new EhmiError('EHMI_TOO_LARGE', 'request body is too large', { cause: err });
  if (status === 415)
    return new EhmiError(
      'EHMI_UNSUPPORTED_MEDIA_TYPE',
      `unsupported Content-Type ${err.message.replace(/^.*: /, '')}; send text/xml or application/xml`,
      { cause: err },
    );
  if (status >= 400 && status < 500)
    return new EhmiError('EHMI_INPUT_UNREADABLE', err.message, { cause: err });
  return new EhmiError('EHMI_INTERNAL', err.message, { cause: err });
}

/** Error handler of the SMP routes: the DomiSMP error body with the status of the error's code. */
export function smpErrorHandler(
  error: FastifyError | EhmiError,
  request: FastifyRequest,
  reply: FastifyReply,
) {
  const err = error instanceof EhmiError ? error : fromFastify(error as FastifyError);
  const id = `${new Date().toISOString()}:${randomUUID()}`;
  if (err.status >= 500) request.log.error({ err: error, errorId: id }, 'SMP request failed');
  else request.log.info({ code: err.code, msg: err.message, errorId: id }, 'SMP request refused');
  // Internal errors never leak their message (DESIGN-NOTES: EHMI_INTERNAL stays in the log).
  const description = err.status >= 500 ? 'Unexpected technical error occurred.' : err.message;
  // An access token's refusal (RFC 6750 §3) has set its own challenge already.
  if (err.status === 401 && !reply.hasHeader('www-authenticate'))
    reply.header('www-authenticate', 'Bearer realm="smp"');
  return reply
    .status(err.status)
    .type(SMP_CONTENT_TYPE)
    .send(smpErrorBody(businessCode(err), description, id));
}
