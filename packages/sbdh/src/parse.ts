import { EhmiError } from '@ehmi/errors';
import {
  type Document,
  type Element,
  type LeanDocument,
  parseXml,
  parseXmlLean,
  rootElement,
} from '@ehmi/xml';
import { NS } from './constants.ts';
import type { EhmiEnvelope, EnvelopeIssue } from './model.ts';
import { decodeBase64 } from './parse/base64.ts';
import { allElements, normalizeVariants, readAsTrimmed } from './parse/normalize.ts';
import { readEnvelope } from './parse/read.ts';
import { acceptsIgSchema } from './validate/xsd-compiled.ts';

/** An envelope read in lenient mode, with the accepted variants named as warnings. */
export interface ParsedEnvelope extends EhmiEnvelope {
  warnings: EnvelopeIssue[];
}

/** The loaded document before any rule: shared by {@link parse} and `validate`. */
export type LoadedEnvelope = DomLoadedEnvelope | PlainLoadedEnvelope;

/** An envelope read into a DOM ({@link loadEnvelope}). */
export interface DomLoadedEnvelope {
  doc: Document;
  root: Element;
  envelope: EhmiEnvelope;
  warnings: EnvelopeIssue[];
  errors: EnvelopeIssue[];
}

/**
 * An envelope {@link loadPlainEnvelope} read without a DOM: only ever one the IG's XSD set plainly accepts (so
 * `validate` runs no XSD check on it), with no variant read leniently and nothing missing.
 */
export interface PlainLoadedEnvelope {
  schemaValid: true;
  envelope: EhmiEnvelope;
  warnings: EnvelopeIssue[];
  errors: EnvelopeIssue[];
}

/**
 * Parse and normalise. Throws `EHMI_XML_MALFORMED` / `EHMI_XML_DOCTYPE_FORBIDDEN` for unsafe or broken XML,
 * `EHMI_XML_SCHEMA_INVALID` for an SBD root in the wrong namespace, and `EHMI_INPUT_UNREADABLE` when the root is
 * not a StandardBusinessDocument at all.
 */
export function loadEnvelope(xml: string | Uint8Array, source = 'the envelope'): DomLoadedEnvelope {
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
 * {@link loadEnvelope} for an envelope that is most likely plain (a received one: what an MSH builds), without a
 * DOM when it can be: one pass of the XML parser's SAX reader into a lean tree (`parseXmlLean`), the IG schema as
 * code (`acceptsIgSchema`) and the reader (`readEnvelope`) on that tree. The result stands only when the schema set
 * plainly accepts the document, no variant is read leniently (no warning), nothing required is missing and the
 * BinaryContent is not empty; the model is then the one {@link loadEnvelope} reads. Anything else, including every
 * document the parser reports anything about, is read by {@link loadEnvelope}, which gives the same errors as
 * before. Kept equal to {@link loadEnvelope} and xmllint by test/plain.test.ts.
 *
 * @example
 * const loaded = loadPlainEnvelope(bytes, 'the received envelope');
 * const check = (await validateMany([{ xml: bytes, loaded }]))[0]; // no XSD run when `schemaValid`
 */
export function loadPlainEnvelope(xml: string | Uint8Array, source = 'the envelope'): LoadedEnvelope {
  let lean: LeanDocument | undefined;
  try {
    lean = parseXmlLean(xml, { source });
  } catch {
    // The checks before parsing refused it: loadEnvelope throws the same error.
  }
  const plain = lean && plainEnvelope(lean);
  return plain ?? loadEnvelope(xml, source);
}

function plainEnvelope(lean: LeanDocument): PlainLoadedEnvelope | undefined {
  // The schema as code and the reader read only what a lean node has (LeanNode: the DOM's reading properties).
  const doc = lean as unknown as Document;
  if (!acceptsIgSchema(doc)) return undefined;
  const root = rootElement(doc);
  for (const el of allElements(root)) if (readAsTrimmed(el)) return undefined;
  const { envelope, errors } = readEnvelope(root);
  // The schema's base64 check is stricter than decodeBase64 but for the empty text, which loadEnvelope refuses.
  if (errors.length > 0 || envelope.binaryContent.base64 === '') return undefined;
  return { schemaValid: true, envelope, warnings: [], errors: [] };
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
