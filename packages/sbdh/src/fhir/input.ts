import { EhmiError } from '@ehmi/errors';
import { parseXml, rootElement } from '@ehmi/xml';
import { decodeText } from '../validate/payload.ts';
import type { Json } from './resolve.ts';

const FHIR_NS = 'http://hl7.org/fhir';
const FIRST_NON_WHITESPACE = /\S/;

/** A FHIR message as received: its exact bytes (the payload that is base64-encoded) and its JSON form. */
export interface FhirMessageInput {
  format: 'json' | 'xml';
  /** `application/fhir+json` or `application/fhir+xml`: the BinaryContent mimeType. */
  mimeType: 'application/fhir+json' | 'application/fhir+xml';
  bytes: Buffer;
  resource: Json;
  /** BinaryContent@encoding: the XML declaration's ISO-8859-1 when it says so, else UTF-8. */
  encoding: 'UTF-8' | 'ISO-8859-1';
}

export type MessageSource = string | Uint8Array | Record<string, unknown>;

/** Octets of a message's start decoded to find its first character, when its text is not needed whole. */
const HEAD_OCTETS = 1024;

/**
 * The first character of the bytes' text other than whitespace (a byte order mark dropped), as the whole text
 * decoded would give it: a head of them decoded, whose last characters may be cut, is read only short of them.
 */
function firstCharacter(bytes: Buffer, encoding: string): string | undefined {
  if (bytes.length > HEAD_OCTETS) {
    let head = decodeText(bytes.subarray(0, HEAD_OCTETS), encoding);
    if (head.charCodeAt(0) === 0xfeff) head = head.slice(1);
    const m = FIRST_NON_WHITESPACE.exec(head);
    // An octet sequence cut at the head's end decodes to up to three replacement characters.
    if (m && m.index < head.length - 3) return m[0];
  }
  let text = decodeText(bytes, encoding);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return FIRST_NON_WHITESPACE.exec(text)?.[0];
}

/**
 * Read a MedCom FHIR message given as JSON or XML text/bytes, or as a parsed JSON object.
 * XML goes through {@link fhirXmlToJson}; bad input gives a specific error (malformed JSON/XML, DOCTYPE, namespace).
 * `resource`, when the caller has already read these very bytes into their JSON form, is taken as that form instead
 * of reading them again (their format, encoding and an XML root's namespace are still checked).
 */
export async function readFhirMessage(
  source: MessageSource,
  name = 'the message',
  resource?: Json,
): Promise<FhirMessageInput> {
  if (!(typeof source === 'string' || source instanceof Uint8Array)) {
    return {
      format: 'json',
      mimeType: 'application/fhir+json',
      bytes: Buffer.from(JSON.stringify(source, null, 2), 'utf8'),
      resource: source,
      encoding: 'UTF-8',
    };
  }
  const bytes = Buffer.isBuffer(source)
    ? source
    : typeof source === 'string'
      ? Buffer.from(source, 'utf8')
      : Buffer.from(source);
  // FHIR XML may be ISO-8859-1 (BinaryContentType allows it; MedCom's samples carry it): read it as declared.
  const encoding = /^(iso-?8859-?1|latin-?1)$/i.test(
    /^\s*<\?xml[^>]*encoding\s*=\s*["']([^"']+)["']/i.exec(bytes.subarray(0, 200).toString('latin1'))?.[1] ??
      '',
  )
    ? 'ISO-8859-1'
    : 'UTF-8';
  // Given the JSON form, a JSON message's text is not needed past its first character: read from its first octets.
  if (resource && firstCharacter(bytes, encoding) === '{')
    return { format: 'json', mimeType: 'application/fhir+json', bytes, resource, encoding: 'UTF-8' };
  let text = decodeText(bytes, encoding);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const first = FIRST_NON_WHITESPACE.exec(text)?.[0];
  if (first === '{') {
    if (resource)
      return { format: 'json', mimeType: 'application/fhir+json', bytes, resource, encoding: 'UTF-8' };
    try {
      resource = JSON.parse(text);
    } catch (err) {
      throw new EhmiError('EHMI_VALIDATION_FAILED', `${name} is not valid JSON: ${(err as Error).message}`, {
        expression: ['Bundle'],
        cause: err,
      });
    }
    return {
      format: 'json',
      mimeType: 'application/fhir+json',
      bytes,
      resource: resource as Json,
      encoding: 'UTF-8',
    };
  }
  if (first === '<') {
    let doc: ReturnType<typeof parseXml>;
    try {
      doc = parseXml(text, { source: name });
    } catch (err) {
      // The parser's message repeats itself (`… caused EhmiError: <message>`): keep the last one.
      const marker = 'caused EhmiError: ';
      if (err instanceof EhmiError && err.message.includes(marker)) {
        throw new EhmiError(err.code, err.message.slice(err.message.lastIndexOf(marker) + marker.length), {
          cause: err,
          expression: [...err.expression],
        });
      }
      throw err;
    }
    const root = rootElement(doc);
    if (root.namespaceURI !== FHIR_NS) {
      throw new EhmiError(
        'EHMI_XML_SCHEMA_INVALID',
        `${name}: root element ${root.localName} is in namespace '${root.namespaceURI ?? ''}', not ${FHIR_NS}`,
        { expression: [root.nodeName] },
      );
    }
    return {
      format: 'xml',
      mimeType: 'application/fhir+xml',
      bytes,
      resource: resource ?? (await fhirXmlToJson(text)),
      encoding,
    };
  }
  throw new EhmiError('EHMI_UNSUPPORTED_MEDIA_TYPE', `${name} is neither FHIR JSON nor FHIR XML`);
}

/**
 * FHIR XML → FHIR JSON. The one place where XML input is converted: `@ehmi/fhir`'s converter, loaded on first use
 * so the JSON path does not depend on it.
 */
export async function fhirXmlToJson(xml: string): Promise<Json> {
  let mod: { xmlToJson?: (xml: string) => Record<string, unknown> };
  try {
    mod = (await import('@ehmi/fhir')) as typeof mod;
  } catch (err) {
    throw new EhmiError(
      'EHMI_NOT_SUPPORTED',
      'FHIR XML input needs the @ehmi/fhir converter, which failed to load',
      {
        cause: err,
      },
    );
  }
  if (typeof mod.xmlToJson !== 'function') {
    throw new EhmiError(
      'EHMI_NOT_SUPPORTED',
      'FHIR XML input needs @ehmi/fhir xmlToJson, which is not available',
    );
  }
  return mod.xmlToJson(xml);
}
