import { EhmiError } from '@ehmi/errors';
import { type Document, type Element, parseXml, rootElement } from '@ehmi/xml';
import { NS } from './constants.ts';
import type { EhmiEnvelope, EnvelopeIssue } from './model.ts';
import { decodeBase64 } from './parse/base64.ts';
import { normalizeVariants } from './parse/normalize.ts';
import { readEnvelope } from './parse/read.ts';

/** An envelope read in lenient mode, with the accepted variants named as warnings. */
export interface ParsedEnvelope extends EhmiEnvelope {
  warnings: EnvelopeIssue[];
}

/** The loaded document before any rule: shared by {@link parse} and `validate`. */
export interface LoadedEnvelope {
  doc: Document;
  root: Element;
  envelope: EhmiEnvelope;
  warnings: EnvelopeIssue[];
  errors: EnvelopeIssue[];
}

/**
 * Parse and normalise. Throws `EHMI_XML_MALFORMED` / `EHMI_XML_DOCTYPE_FORBIDDEN` for unsafe or broken XML,
 * `EHMI_XML_SCHEMA_INVALID` for an SBD root in the wrong namespace, and `EHMI_INPUT_UNREADABLE` when the root is
 * not a StandardBusinessDocument at all.
 */
export function loadEnvelope(xml: string | Uint8Array, source = 'the envelope'): LoadedEnvelope {
  let doc: Document;
  try {
    doc = parseXml(xml, { source });
  } catch (err) {
    // The parser's message repeats itself (`… caused EhmiError: <message>`): keep the last one.
    if (err instanceof EhmiError && err.message.includes('caused EhmiError: ')) {
      const message = err.message.slice(err.message.lastIndexOf('caused EhmiError: ') + 18);
      throw new EhmiError(err.code, message, {
        cause: err,
        expression: [...err.expression],
        details: err.details,
      });
    }
    throw err;
  }
  const root = rootElement(doc);
  if (root.localName !== 'StandardBusinessDocument') {
    throw new EhmiError(
      'EHMI_INPUT_UNREADABLE',
      `${source} is not an ehmiSBDH: its root element is ${root.localName} {${root.namespaceURI ?? ''}}`,
      {
        expression: [root.nodeName],
        details: { kind: 'unrecognised', root: root.localName, namespace: root.namespaceURI },
      },
    );
  }
  if (root.namespaceURI !== NS.sbdh) {
    throw new EhmiError(
      'EHMI_XML_SCHEMA_INVALID',
      `${source}: StandardBusinessDocument is in namespace '${root.namespaceURI ?? ''}', not ${NS.sbdh}`,
      { expression: ['StandardBusinessDocument'] },
    );
  }
  const warnings = normalizeVariants(doc);
  const { envelope, errors } = readEnvelope(root);
  if (errors.length === 0 && decodeBase64(envelope.binaryContent.base64) === undefined) {
    errors.push({
      severity: 'error',
      rule: 'base64',
      element: 'BinaryContent',
      message:
        envelope.binaryContent.base64 === '' ? 'BinaryContent is empty' : 'BinaryContent is not valid base64',
    });
  }
  return { doc, root, envelope, warnings, errors };
}

/**
 * Parse an ehmiSBDH into a typed envelope. Lenient: the variants in MedCom's examples (pretty-printed values,
 * `XDS_METADATA`, PEPPOL-namespace BinaryContent, …) are read and listed in `warnings`. A missing required element
 * or a BinaryContent that does not decode is an `EHMI_VALIDATION_FAILED` error naming the element.
 *
 * @example
 * const env = parse(await readFile('envelope.xml', 'utf8'));
 * scopeValue(env, 'MESSAGEIDENTIFIER'); // '489de4f2-0d8d-4de2-a7ce-ccb93568799f'
 */
export function parse(xml: string | Uint8Array, source?: string): ParsedEnvelope {
  return parsedEnvelope(loadEnvelope(xml, source));
}

/**
 * {@link parse} of a document already loaded (so a caller that also validates it reads it once): the envelope, or
 * the same `EHMI_VALIDATION_FAILED` error.
 *
 * @example
 * const loaded = loadEnvelope(bytes);
 * const env = parsedEnvelope(loaded);
 * const check = (await validateMany([{ xml: bytes, loaded }]))[0];
 */
export function parsedEnvelope(loaded: LoadedEnvelope): ParsedEnvelope {
  const first = loaded.errors[0];
  if (first) {
    throw new EhmiError('EHMI_VALIDATION_FAILED', `${first.element}: ${first.message}`, {
      expression: [first.element],
      details: { errors: loaded.errors },
    });
  }
  return { ...loaded.envelope, warnings: loaded.warnings };
}

/** The decoded BinaryContent of an envelope. */
export function payloadOf(envelope: Pick<EhmiEnvelope, 'binaryContent'>): Buffer {
  const bytes = decodeBase64(envelope.binaryContent.base64);
  if (!bytes) {
    throw new EhmiError('EHMI_VALIDATION_FAILED', 'BinaryContent is not valid base64', {
      expression: ['BinaryContent'],
    });
  }
  return bytes;
}
