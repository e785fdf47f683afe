import { EhmiError } from '@ehmi/errors';
import { escapeAttr, parseXml, rootElement } from '@ehmi/xml';
import type { Resource } from '@medplum/fhirtypes';
import {
  type ElementInfo,
  type PrimitiveKind,
  type TypeIndex,
  type TypeInfo,
  typeIndex,
} from './definitions.ts';
import { FHIR_NS, XHTML_NS } from './namespaces.ts';
import { decimalLexical, formatPrimitive } from './primitives.ts';

type Json = Record<string, unknown>;

/**
 * Convert a FHIR R4 resource in JSON to FHIR XML (R4 §2.6.1): elements in StructureDefinition order, primitives
 * in `value` attributes, `Element.id` and `Extension.url` as attributes, nested resources wrapped
 * (`<resource><Patient>…</Patient></resource>`), the narrative `div` as XHTML. The output has no XML declaration
 * and no indentation, so it can be embedded as it is. JSON types are checked against the definitions: a string
 * where R4 has a boolean or a number is an error, not silently converted.
 *
 * @throws EhmiError `EHMI_VALIDATION_FAILED` naming the path for a property R4 does not define, a value of the
 *   wrong JSON type, or a narrative that is not well-formed XHTML.
 * @example
 * jsonToXml({ resourceType: 'Observation', status: 'final', valueQuantity: { value: 26 } });
 * // '<Observation xmlns="http://hl7.org/fhir"><status value="final"/><valueQuantity><value value="26"/>…'
 */
export function jsonToXml(resource: Record<string, unknown>): string;
/** The same for a typed resource (`@medplum/fhirtypes`), such as a Bundle from the builders. */
export function jsonToXml(resource: Resource): string;
export function jsonToXml(resource: Record<string, unknown> | Resource): string {
  const out: string[] = [];
  const rt = typeof resource?.resourceType === 'string' ? resource.resourceType : '';
  writeResource(typeIndex(), resource, rt || 'resource', out, true);
  return out.join('');
}

function writeResource(index: TypeIndex, obj: unknown, path: string, out: string[], root: boolean): void {
  if (!isObject(obj)) throw invalid(path, 'a resource must be a JSON object');
  const rt = obj.resourceType;
  const type = typeof rt === 'string' ? index.types.get(rt) : undefined;
  if (!type?.isResource)
    throw invalid(`${path}.resourceType`, `${JSON.stringify(rt)} is not an R4 resource type`);
  out.push(`<${type.name}${root ? ` xmlns="${FHIR_NS}"` : ''}>`);
  writeChildren(index, obj, type, path, out);
  out.push(`</${type.name}>`);
}

function writeComplex(
  index: TypeIndex,
  name: string,
  obj: unknown,
  typeName: string,
  path: string,
  out: string[],
) {
  if (!isObject(obj)) throw invalid(path, `must be a JSON object (${typeName})`);
  const type = index.types.get(typeName);
  if (!type) throw invalid(path, `unknown type ${typeName}`);
  let attrs = '';
  for (const el of type.elements) {
    if (!el.xmlAttr || obj[el.name] === undefined) continue;
    const value = obj[el.name];
    if (typeof value !== 'string') throw invalid(`${path}.${el.name}`, 'must be a JSON string');
    attrs += ` ${el.name}="${xmlAttrValue(value, `${path}.${el.name}`)}"`;
  }
  const start = out.length;
  out.push('');
  writeChildren(index, obj, type, path, out);
  if (out.length === start + 1) {
    out[start] = `<${name}${attrs}/>`;
  } else {
    out[start] = `<${name}${attrs}>`;
    out.push(`</${name}>`);
  }
}

function writeChildren(index: TypeIndex, obj: Json, type: TypeInfo, path: string, out: string[]): void {
  const consumed = new Set<string>(type.isResource ? ['resourceType'] : []);
  for (const el of type.elements) {
    if (el.xmlAttr) {
      consumed.add(el.name);
      continue;
    }
    const present = concreteNames(el).filter(
      ([key]) => obj[key] !== undefined || obj[`_${key}`] !== undefined,
    );
    if (present.length > 1) {
      throw invalid(
        `${path}.${present[1]?.[0]}`,
        `${el.name}[x] is given as ${present.map(([k]) => k).join(' and ')}`,
      );
    }
    const [hit] = present;
    if (!hit) continue;
    const [key, typeName] = hit;
    consumed.add(key);
    consumed.add(`_${key}`);
    writeElement(index, obj, key, el, typeName, `${path}.${key}`, out);
  }
  for (const key of Object.keys(obj)) {
    if (!consumed.has(key)) throw invalid(`${path}.${key}`, `unknown property ${key}`);
  }
}

function concreteNames(el: ElementInfo): [string, string][] {
  if (!el.choice) return [[el.name, el.types[0] ?? 'string']];
  return el.types.map((t) => [el.name + t.charAt(0).toUpperCase() + t.slice(1), t]);
}

function writeElement(
  index: TypeIndex,
  obj: Json,
  key: string,
  el: ElementInfo,
  typeName: string,
  path: string,
  out: string[],
): void {
  const kind = index.primitives.get(typeName);
  const value = obj[key];
  if (kind !== undefined) {
    const extra = obj[`_${key}`];
    if (!el.array) {
      writePrimitive(index, key, kind, obj, key, extra, path, out);
      return;
    }
    if (value !== undefined && !Array.isArray(value)) throw invalid(path, 'must be a JSON array');
    if (extra !== undefined && !Array.isArray(extra))
      throw invalid(`${path.replace(/[^.]*$/, `_${key}`)}`, 'must be a JSON array');
    const values = (value as unknown[] | undefined) ?? [];
    const extras = (extra as unknown[] | undefined) ?? [];
    if (value !== undefined && extra !== undefined && values.length !== extras.length) {
      throw invalid(path, `${key} and _${key} have different lengths`);
    }
    const n = Math.max(values.length, extras.length);
    for (let i = 0; i < n; i++) writePrimitive(index, key, kind, values, i, extras[i], `${path}[${i}]`, out);
    return;
  }
  if (obj[`_${key}`] !== undefined)
    throw invalid(path.replace(/[^.]*$/, `_${key}`), 'only primitives have _ properties');
  const items = el.array ? value : [value];
  if (!Array.isArray(items)) throw invalid(path, 'must be a JSON array');
  items.forEach((item, i) => {
    const itemPath = el.array ? `${path}[${i}]` : path;
    if (typeName === 'Resource') {
      out.push(`<${key}>`);
      writeResource(index, item, itemPath, out, false);
      out.push(`</${key}>`);
    } else {
      writeComplex(index, key, item, typeName, itemPath, out);
    }
  });
}

function writePrimitive(
  index: TypeIndex,
  name: string,
  kind: PrimitiveKind,
  holder: Json | unknown[],
  key: string | number,
  extra: unknown,
  path: string,
  out: string[],
): void {
  const value = (holder as Record<string | number, unknown>)[key] ?? null;
  if (kind === 'xhtml') {
    if (extra !== undefined && extra !== null) throw invalid(path, 'the narrative div takes no _div');
    out.push(xhtml(value, path));
    return;
  }
  if (extra !== undefined && extra !== null && !isObject(extra))
    throw invalid(path, `_${name} must be an object`);
  const ext = (extra ?? {}) as Json;
  for (const k of Object.keys(ext)) {
    if (k !== 'id' && k !== 'extension') throw invalid(`${path}.${k}`, `unknown property ${k} in _${name}`);
  }
  if (value === null && ext.id === undefined && ext.extension === undefined) {
    throw invalid(path, 'a primitive needs a value or an extension');
  }
  let attrs = '';
  if (ext.id !== undefined) {
    if (typeof ext.id !== 'string') throw invalid(`${path}.id`, 'must be a JSON string');
    attrs += ` id="${xmlAttrValue(ext.id, `${path}.id`)}"`;
  }
  if (value !== null) {
    let text = formatPrimitive(kind, value, path);
    if (kind === 'decimal') text = decimalLexical(holder, key, value as number) ?? text;
    attrs += ` value="${xmlAttrValue(text, path)}"`;
  }
  if (ext.extension === undefined) {
    out.push(`<${name}${attrs}/>`);
    return;
  }
  if (!Array.isArray(ext.extension)) throw invalid(`${path}.extension`, 'must be a JSON array');
  out.push(`<${name}${attrs}>`);
  ext.extension.forEach((e, i) => {
    writeComplex(index, 'extension', e, 'Extension', `${path}.extension[${i}]`, out);
  });
  out.push(`</${name}>`);
}

/** The narrative must be one well-formed XHTML `div` (R4 §2.6.1, Narrative); it is written as given. */
function xhtml(value: unknown, path: string): string {
  if (typeof value !== 'string') throw invalid(path, 'the narrative div must be a JSON string');
  const text = value.trim();
  let div: ReturnType<typeof rootElement>;
  try {
    div = rootElement(parseXml(text, { source: path }));
  } catch (err) {
    throw new EhmiError(
      'EHMI_VALIDATION_FAILED',
      `FHIR JSON: ${path}: the narrative is not well-formed XHTML`,
      {
        expression: [path],
        cause: err,
      },
    );
  }
  if (div.localName !== 'div' || div.namespaceURI !== XHTML_NS || !text.startsWith('<')) {
    throw invalid(path, `the narrative must be a div in namespace ${XHTML_NS}`);
  }
  return text;
}

// XML 1.0 §2.2: characters outside this set cannot appear in a document at all.
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are the point
const NOT_XML_CHAR = /[^\u0009\u000A\u000D\u0020-\uD7FF\uE000-\uFFFD\uD800-\uDBFF\uDC00-\uDFFF]/;

/** A value XML 1.0 can carry, escaped for an attribute (`escapeAttr` of @ehmi/xml: tab, CR and LF as references). */
function xmlAttrValue(text: string, path: string): string {
  if (NOT_XML_CHAR.test(text)) throw invalid(path, 'contains a character that XML 1.0 cannot carry');
  return escapeAttr(text);
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function invalid(path: string, message: string): EhmiError {
  return new EhmiError('EHMI_VALIDATION_FAILED', `FHIR JSON: ${path}: ${message}`, { expression: [path] });
}
