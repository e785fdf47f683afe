import type { Document, Element, Node } from '@ehmi/xml';
import {
  BUSINESS_SERVICE_REQUEST,
  BUSINESS_SERVICE_RESPONSE,
  SCOPE_IDENTIFIERS as IG_SCOPE_IDENTIFIERS,
  IG_STANDARDS,
  NS,
  SCOPE_TYPES,
} from '../constants.ts';
import { isCanonicalBase64 } from '../parse/base64.ts';

/**
 * The IG's XSD set (resources/xsd, entry ehmiStandardBusinessDocumentHeader.xsd) written out as code, to spare the
 * xmllint run for the envelopes that are plainly valid: the ones every MSH builds and sends. It is an acceptor, not
 * a validator: `true` only when the document is valid by every rule of the schema set, checked more strictly than
 * the schema where that is simpler (no whitespace around typed values, no comments or processing instructions
 * inside values, no xsi attributes, defaults and fixed values not filled in for empty elements, four-digit years);
 * `false` whenever anything is unusual, and then xmllint decides and words the errors, as before. So a `true` never
 * accepts what xmllint refuses, and the errors of an invalid envelope are xmllint's. Kept equal to xmllint by
 * test/xsd-compiled.test.ts, over every example envelope, the envelopes this package builds, and tampered copies.
 *
 * @example
 * if (!acceptsIgSchema(loaded.doc)) issues = (await validateXsd([xml], await schemaSet('ehmi')))[0];
 */
export function acceptsIgSchema(doc: Document): boolean {
  let root: Element | undefined;
  for (let n: Node | null = doc.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1) root = n as Element;
    // The XML declaration is kept as a node and written out again: xmllint reads the document in the encoding it
    // names, so only UTF-8 (the serialised document's own) is plain.
    else if (n.nodeType === 7) {
      if (n.nodeName !== 'xml' || !XML_DECLARATION.test(n.nodeValue ?? '')) return false;
    } else if (n.nodeType === 3) {
      if (!WHITESPACE.test(n.nodeValue ?? '')) return false;
    } else if (n.nodeType !== 8) return false;
  }
  return (
    root !== undefined && is(root, NS.sbdh, 'StandardBusinessDocument') && standardBusinessDocument(root)
  );
}

const XML_DECLARATION =
  /^version=(["'])1\.0\1(?:\s+encoding=(["'])(?:UTF-8|utf-8)\2)?(?:\s+standalone=(["'])(?:yes|no)\3)?\s*$/;

// The schema set's enumerations and fixed values (also read by built.ts, which checks a model against them), as
// constants.ts names them; typed as plain lists of strings, for a value read from a document to be looked up.
export const STANDARDS: readonly string[] = IG_STANDARDS;
export const SCOPE_IDENTIFIERS: readonly string[] = IG_SCOPE_IDENTIFIERS;
export const BUSINESS_SERVICE_NAMES: readonly string[] = [
  BUSINESS_SERVICE_REQUEST,
  BUSINESS_SERVICE_RESPONSE,
];
const fixed = (value: string) => (v: string) => v === value;
// ServiceTransaction, an empty complex type: no content at all (not even whitespace), these attributes.
export const SERVICE_TRANSACTION: Record<string, (value: string) => boolean> = {
  TypeOfServiceTransaction: (v) =>
    v === 'RequestingServiceTransaction' || v === 'RespondingServiceTransaction',
  IsNonRepudiationRequired: fixed('false'),
  IsAuthenticationRequired: fixed('false'),
  IsNonRepudiationOfReceiptRequired: fixed('false'),
  IsIntelligibleCheckRequired: fixed('false'),
  IsApplicationErrorResponseRequested: fixed('false'),
  TimeToAcknowledgeReceipt: fixed('600000'),
  TimeToAcknowledgeAcceptance: fixed('0'),
  TimeToPerform: fixed('0'),
  Recurrence: fixed('0'),
};

type Check = (el: Element) => boolean;

/** One particle of an `xs:sequence`: an element (or a choice of names, a substitution group) with its occurrences. */
interface Particle {
  ns: string;
  names: readonly string[];
  min: number;
  max: number;
  check: Check;
}

const one = (name: string, check: Check, ns: string = NS.sbdh): Particle => ({
  ns,
  names: [name],
  min: 1,
  max: 1,
  check,
});

const standardBusinessDocument: Check = (el) =>
  attributes(el, {}, true) &&
  sequence(el, [one('StandardBusinessDocumentHeader', header), one('BinaryContent', binaryContent)]);

const header: Check = (el) =>
  noAttributes(el) &&
  sequence(el, [
    one('HeaderVersion', fixedText('1.0')),
    one('Sender', partner),
    one('Receiver', partner),
    one('DocumentIdentification', documentIdentification),
    // Manifest is maxOccurs="0": never allowed.
    one('BusinessScope', businessScope),
  ]);

// ehmiPartner: Identifier, then ContactInformation maxOccurs="0".
const partner: Check = (el) => noAttributes(el) && sequence(el, [one('Identifier', partnerIdentification)]);

const partnerIdentification: Check = (el) =>
  attributes(el, { Authority: (v) => v === 'iso6523-actorid-upis' }) && text(el) !== undefined;

const documentIdentification: Check = (el) =>
  noAttributes(el) &&
  sequence(el, [
    one('Standard', enumeration(STANDARDS)),
    one('TypeVersion', string),
    one('InstanceIdentifier', string),
    one('Type', string),
    { ns: NS.sbdh, names: ['MultipleType'], min: 0, max: 1, check: fixedText('false') },
    one('CreationDateAndTime', dateTime),
  ]);

const businessScope: Check = (el) =>
  noAttributes(el) &&
  sequence(el, [{ ns: NS.sbdh, names: ['Scope'], min: 0, max: Number.POSITIVE_INFINITY, check: scope }]);

const scope: Check = (el) =>
  noAttributes(el) &&
  sequence(el, [
    one('Type', enumeration(SCOPE_TYPES)),
    one('InstanceIdentifier', string),
    one('Identifier', enumeration(SCOPE_IDENTIFIERS)),
    // ScopeInformation (abstract) by its substitution group.
    {
      ns: NS.sbdh,
      names: ['CorrelationInformation', 'BusinessService'],
      min: 0,
      max: Number.POSITIVE_INFINITY,
      check: (info) => (info.localName === 'BusinessService' ? businessService(info) : correlation(info)),
    },
  ]);

const correlation: Check = (el) =>
  noAttributes(el) &&
  sequence(el, [
    one('RequestingDocumentCreationDateTime', dateTime),
    one('RequestingDocumentInstanceIdentifier', string),
    one('ExpectedResponseDateTime', dateTime),
  ]);

const businessService: Check = (el) =>
  noAttributes(el) &&
  sequence(el, [
    one('BusinessServiceName', enumeration(BUSINESS_SERVICE_NAMES)),
    one('ServiceTransaction', serviceTransaction),
  ]);

// An empty complex type: no content at all (not even whitespace), the attributes below.
const serviceTransaction: Check = (el) => el.firstChild === null && attributes(el, SERVICE_TRANSACTION);

export const MIME_TYPES = ['application/xml', 'application/fhir+json', 'application/fhir+xml'];
export const ENCODINGS = ['UTF-8', 'ISO-8859-1'];

const binaryContent: Check = (el) => {
  if (!el.hasAttribute('mimeType')) return false;
  const ok = attributes(el, {
    mimeType: (v) => MIME_TYPES.includes(v),
    encoding: (v) => ENCODINGS.includes(v),
  });
  const value = ok ? text(el) : undefined;
  return value !== undefined && base64(value);
};

// --- content ---

const string: Check = (el) => noAttributes(el) && text(el) !== undefined;

function fixedText(value: string): Check {
  return (el) => noAttributes(el) && text(el) === value;
}

function enumeration(values: readonly string[]): Check {
  const set = new Set(values);
  return (el) => {
    const value = noAttributes(el) ? text(el) : undefined;
    return value !== undefined && set.has(value);
  };
}

/**
 * The element's character content when it has only text and CDATA children (undefined for an element child, a
 * comment or a processing instruction).
 */
function text(el: Element): string | undefined {
  let out = '';
  for (let n: Node | null = el.firstChild; n; n = n.nextSibling) {
    if (n.nodeType !== 3 && n.nodeType !== 4) return undefined;
    out += n.nodeValue ?? '';
  }
  return out;
}

function is(el: Element, ns: string, name: string): boolean {
  return el.namespaceURI === ns && el.localName === name;
}

/**
 * Element-only content matched against a sequence: the element children in order, each particle taking as many
 * of its names as it may (the schemas are unambiguous, so taking greedily decides). Between elements only
 * whitespace and comments.
 */
function sequence(el: Element, particles: readonly Particle[]): boolean {
  const children: Element[] = [];
  for (let n: Node | null = el.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1) children.push(n as Element);
    else if (n.nodeType === 3) {
      if (!WHITESPACE.test(n.nodeValue ?? '')) return false;
    } else if (n.nodeType !== 8) return false;
  }
  let i = 0;
  for (const p of particles) {
    let count = 0;
    while (count < p.max && i < children.length) {
      const child = children[i]!;
      if (child.namespaceURI !== p.ns || !p.names.includes(child.localName ?? '')) break;
      if (!p.check(child)) return false;
      count++;
      i++;
    }
    if (count < p.min) return false;
  }
  return i === children.length;
}

const WHITESPACE = /^[ \t\r\n]*$/;
const XMLNS = 'http://www.w3.org/2000/xmlns/';
const XSI = 'http://www.w3.org/2001/XMLSchema-instance';
const SCHEMA_LOCATION = /\S/;

function noAttributes(el: Element): boolean {
  return attributes(el, {});
}

/**
 * Every attribute (namespace declarations aside) is unqualified, allowed here, and has an allowed value. `hints`: an
 * `xsi:schemaLocation` of namespace and location pairs is allowed too (MedCom's examples carry one on the root;
 * xmllint validates against the schema it was given and does not follow it).
 */
function attributes(
  el: Element,
  allowed: Record<string, (value: string) => boolean>,
  hints = false,
): boolean {
  const attrs = el.attributes;
  for (let i = 0; i < attrs.length; i++) {
    const a = attrs.item(i)!;
    if (a.namespaceURI === XMLNS) {
      // `xmlns:p=""` is not allowed (Namespaces in XML 1.0 §3); xmllint refuses it, xmldom keeps it.
      if (a.name !== 'xmlns' && a.value === '') return false;
      continue;
    }
    if (hints && a.namespaceURI === XSI && a.localName === 'schemaLocation' && SCHEMA_LOCATION.test(a.value))
      continue;
    if (a.namespaceURI) return false;
    const check = Object.hasOwn(allowed, a.name) ? allowed[a.name] : undefined;
    if (!check?.(a.value)) return false;
  }
  return true;
}

// xs:dateTime, stricter: no surrounding whitespace, a four-digit year after 0000, at most 9 fractional digits.
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:Z|[+-](\d{2}):(\d{2}))?$/;

function dateTime(el: Element): boolean {
  const value = noAttributes(el) ? text(el) : undefined;
  return value !== undefined && plainDateTime(value);
}

/** An xs:dateTime value the schema set accepts as it stands (stricter, as {@link acceptsIgSchema} is). */
export function plainDateTime(value: string): boolean {
  const m = DATE_TIME.exec(value);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (year === 0 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return false;
  if (hour > 23 || minute > 59 || second > 59) return false;
  if (m[7] !== undefined) {
    const zh = Number(m[7]);
    const zm = Number(m[8]);
    if (zm > 59 || zh > 14 || (zh === 14 && zm !== 0)) return false;
  }
  return true;
}

function daysIn(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

// xs:base64Binary, stricter: line breaks (and spaces) only between characters, canonical padding bits. Canonical
// base64 is exactly the text Node writes for the bytes it decodes, so a round trip decides (a regular expression
// over the whole BinaryContent cost several times more).
export function base64(value: string): boolean {
  const clean =
    value.includes('\n') || value.includes(' ') || value.includes('\r')
      ? value.replace(BASE64_SPACE, '')
      : value;
  return clean.length % 4 === 0 && isCanonicalBase64(clean);
}

const BASE64_SPACE = /[ \r\n]/g;
