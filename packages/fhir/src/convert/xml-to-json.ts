import { EhmiError } from '@ehmi/errors';
import { type Element, parseXml, rootElement, serializeXml } from '@ehmi/xml';
import {
  type ChildInfo,
  type PrimitiveKind,
  type TypeIndex,
  type TypeInfo,
  typeIndex,
} from './definitions.ts';
import { FHIR_NS, XHTML_NS } from './namespaces.ts';
import { parsePrimitive, rememberDecimal } from './primitives.ts';
import { SourceText } from './source-text.ts';

type Json = Record<string, unknown>;

interface Ctx {
  index: TypeIndex;
  /** The XML text, when converting a whole document: narrative divs are copied from it verbatim. */
  source?: SourceText;
}

// `xsi:schemaLocation` on a resource is common in published FHIR XML and carries no FHIR content.
const XSI_NS = 'http://www.w3.org/2001/XMLSchema-instance';

/** One element name's values while its siblings are read (FHIR XML repeats an element; JSON uses an array). */
interface Collected {
  info: ChildInfo;
  order: number;
  values: unknown[];
  /** Primitive `id`/`extension` (the JSON `_name` object), null where absent. */
  extras: (Json | null)[];
  primitive: boolean;
  /** Lexical decimals by position, to record once the JSON holder exists. */
  decimals: Map<number, string>;
}

/**
 * Convert a FHIR R4 resource in XML to FHIR JSON, with the JSON types the R4 definitions give each primitive
 * (R4 §2.6.2): numbers for `integer`/`decimal`/`positiveInt`/`unsignedInt`, booleans for `boolean`, strings
 * otherwise; repeating elements as arrays, primitive `id`/`extension` as `_name`, the narrative `div` as a string
 * of XHTML, copied from the XML text as written. Decimals keep their written form for a later {@link jsonToXml}
 * or `stringifyFhirJson` of the same object (see `primitives.ts`). XML comments are dropped: FHIR JSON has none.
 *
 * @throws EhmiError `EHMI_XML_MALFORMED` / `EHMI_XML_DOCTYPE_FORBIDDEN` from parsing, and
 *   `EHMI_VALIDATION_FAILED` naming the path (`Bundle.entry[1].resource.foo`) for an element, attribute or value
 *   that R4 does not define.
 * @example
 * const bundle = xmlToJson('<Bundle xmlns="http://hl7.org/fhir"><type value="message"/></Bundle>');
 * // { resourceType: 'Bundle', type: 'message' }
 */
export function xmlToJson(xml: string): Record<string, unknown> {
  // Without a BOM, so that positions in the parsed document are positions in `text` (see SourceText).
  const text = xml.charCodeAt(0) === 0xfeff ? xml.slice(1) : xml;
  const root = rootElement(parseXml(text, { source: 'FHIR XML' }));
  if (root.namespaceURI !== FHIR_NS) {
    throw invalid(root.localName ?? '', `root element is not in the FHIR namespace ${FHIR_NS}`);
  }
  return readResource({ index: typeIndex(), source: new SourceText(text) }, root, root.localName ?? '');
}

/**
 * Convert an already parsed FHIR resource element, for example the Bundle inside an SBDH envelope, as
 * {@link xmlToJson} does. Pass `xml`, the exact text the element's document was parsed from, to copy narratives
 * verbatim; without it they are re-serialised (same content, possibly other quoting and whitespace).
 *
 * @example
 * const doc = parseXml(envelopeText);
 * const bundle = elementToJson(childElement(payload, 'http://hl7.org/fhir', 'Bundle')!, envelopeText);
 */
export function elementToJson(element: Element, xml?: string): Record<string, unknown> {
  if (element.namespaceURI !== FHIR_NS) {
    throw invalid(element.localName ?? '', `element is not in the FHIR namespace ${FHIR_NS}`);
  }
  const source = xml === undefined ? undefined : new SourceText(xml);
  return readResource(
    { index: typeIndex(), ...(source ? { source } : {}) },
    element,
    element.localName ?? '',
  );
}

function readResource(ctx: Ctx, el: Element, path: string): Json {
  const name = el.localName ?? '';
  const type = ctx.index.types.get(name);
  if (!type?.isResource) throw invalid(path, `${name} is not a FHIR R4 resource type`);
  const out: Json = { resourceType: name };
  readAttributes(el, type, out, path, false);
  readChildren(ctx, el, type, out, path);
  return out;
}

function readComplex(ctx: Ctx, el: Element, typeName: string, path: string): Json {
  const type = ctx.index.types.get(typeName);
  if (!type) throw invalid(path, `unknown type ${typeName}`);
  const out: Json = {};
  readAttributes(el, type, out, path, true);
  readChildren(ctx, el, type, out, path);
  return out;
}

/** `id` and `url` are attributes in XML (R4 §2.6.1, elements with representation `xmlAttr`). */
function readAttributes(el: Element, type: TypeInfo, out: Json, path: string, allowXmlAttr: boolean): void {
  const attrs = el.attributes;
  for (let i = 0; i < attrs.length; i++) {
    const attr = attrs.item(i);
    if (!attr || isNamespaceDeclaration(attr.name) || attr.namespaceURI === XSI_NS) continue;
    const child = type.children.get(attr.name);
    if (!allowXmlAttr || !child?.element.xmlAttr || attr.namespaceURI) {
      throw invalid(`${path}/@${attr.name}`, `attribute ${attr.name} is not defined here`);
    }
    out[attr.name] = attr.value;
  }
}

function isNamespaceDeclaration(name: string): boolean {
  return name === 'xmlns' || name.startsWith('xmlns:');
}

function readChildren(ctx: Ctx, el: Element, type: TypeInfo, out: Json, path: string): void {
  const collected = new Map<string, Collected>();
  const choiceUsed = new Map<string, string>();
  for (let n = el.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 3 || n.nodeType === 4) {
      if ((n.nodeValue ?? '').trim() !== '') throw invalid(path, 'text content is not allowed here');
      continue;
    }
    if (n.nodeType !== 1) continue; // comments and processing instructions
    const child = n as Element;
    const name = child.localName ?? '';
    const info = type.children.get(name);
    if (!info || info.element.xmlAttr) throw invalid(`${path}.${name}`, `unknown element ${name}`);
    const kind = ctx.index.primitives.get(info.type);
    const expectedNs = kind === 'xhtml' ? XHTML_NS : FHIR_NS;
    if (child.namespaceURI !== expectedNs) {
      throw invalid(`${path}.${name}`, `element ${name} must be in namespace ${expectedNs}`);
    }
    if (info.element.choice) {
      const used = choiceUsed.get(info.element.name);
      if (used !== undefined && used !== name) {
        throw invalid(`${path}.${name}`, `${info.element.name}[x] is given as both ${used} and ${name}`);
      }
      choiceUsed.set(info.element.name, name);
    }
    let entry = collected.get(name);
    if (!entry) {
      entry = {
        info,
        order: type.elements.indexOf(info.element),
        values: [],
        extras: [],
        primitive: kind !== undefined,
        decimals: new Map(),
      };
      collected.set(name, entry);
    }
    const i = entry.values.length;
    if (i > 0 && !info.element.array) throw invalid(`${path}.${name}`, `${name} may occur only once`);
    const childPath = info.element.array ? `${path}.${name}[${i}]` : `${path}.${name}`;
    if (kind === 'xhtml') {
      entry.values.push(ctx.source?.xhtmlDiv(child) ?? serializeXml(child));
      entry.extras.push(null);
    } else if (kind !== undefined) {
      const { value, lexical, extra } = readPrimitive(ctx, child, kind, childPath);
      entry.values.push(value);
      entry.extras.push(extra);
      if (lexical !== undefined) entry.decimals.set(i, lexical);
    } else if (info.type === 'Resource') {
      entry.values.push(readNestedResource(ctx, child, childPath));
    } else {
      entry.values.push(readComplex(ctx, child, info.type, childPath));
    }
  }
  const entries = [...collected.entries()].sort((a, b) => a[1].order - b[1].order);
  for (const [name, entry] of entries) assign(out, name, entry);
}

function assign(out: Json, name: string, entry: Collected): void {
  const array = entry.info.element.array;
  const hasValue = entry.values.some((v) => v !== null);
  const hasExtra = entry.extras.some((x) => x !== null);
  // R4 §2.6.2: a repeating primitive keeps both arrays aligned, with null where one side is absent.
  if (hasValue) {
    const holder = array ? entry.values : out;
    out[name] = array ? entry.values : entry.values[0];
    for (const [i, lexical] of entry.decimals) rememberDecimal(holder, array ? i : name, lexical);
  }
  if (entry.primitive && hasExtra) out[`_${name}`] = array ? entry.extras : entry.extras[0];
}

function readPrimitive(
  ctx: Ctx,
  el: Element,
  kind: PrimitiveKind,
  path: string,
): { value: unknown; lexical: string | undefined; extra: Json | null } {
  let value: unknown = null;
  let lexical: string | undefined;
  const extra: Json = {};
  const attrs = el.attributes;
  for (let i = 0; i < attrs.length; i++) {
    const attr = attrs.item(i);
    if (!attr || isNamespaceDeclaration(attr.name)) continue;
    if (attr.name === 'value') {
      value = parsePrimitive(kind, attr.value, path);
      if (kind === 'decimal' && String(value) !== attr.value) lexical = attr.value;
    } else if (attr.name === 'id') {
      extra.id = attr.value;
    } else {
      throw invalid(`${path}/@${attr.name}`, `attribute ${attr.name} is not defined on a primitive`);
    }
  }
  const extensions: Json[] = [];
  for (let n = el.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 3 || n.nodeType === 4) {
      if ((n.nodeValue ?? '').trim() !== '') throw invalid(path, 'text content is not allowed here');
      continue;
    }
    if (n.nodeType !== 1) continue;
    const child = n as Element;
    if (child.localName !== 'extension' || child.namespaceURI !== FHIR_NS) {
      throw invalid(`${path}.${child.localName}`, `unknown element ${child.localName} on a primitive`);
    }
    extensions.push(readComplex(ctx, child, 'Extension', `${path}.extension[${extensions.length}]`));
  }
  if (extensions.length > 0) extra.extension = extensions;
  if (value === null && extensions.length === 0 && extra.id === undefined) {
    throw invalid(path, 'a primitive element needs a value or an extension');
  }
  return { value, lexical, extra: Object.keys(extra).length > 0 ? extra : null };
}

/** `<resource><Patient>…</Patient></resource>`: the wrapper holds exactly one resource (R4 §2.6.1). */
function readNestedResource(ctx: Ctx, wrapper: Element, path: string): Json {
  let found: Element | undefined;
  for (let n = wrapper.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 3 || n.nodeType === 4) {
      if ((n.nodeValue ?? '').trim() !== '') throw invalid(path, 'text content is not allowed here');
      continue;
    }
    if (n.nodeType !== 1) continue;
    if (found) throw invalid(path, 'holds more than one resource');
    found = n as Element;
  }
  if (!found) throw invalid(path, 'holds no resource');
  if (found.namespaceURI !== FHIR_NS) throw invalid(path, `the resource is not in namespace ${FHIR_NS}`);
  return readResource(ctx, found, path);
}

function invalid(path: string, message: string): EhmiError {
  return new EhmiError('EHMI_VALIDATION_FAILED', `FHIR XML: ${path}: ${message}`, { expression: [path] });
}
