import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { type Element, parseXml, rootElement } from '@ehmi/xml';
import { FIXTURES } from '../fixtures.ts';

export { FIXTURES };
export const FHIR_EXAMPLES = join(FIXTURES, 'fhir', 'examples');
const FHIR_NS = 'http://hl7.org/fhir';
const NOT_FHIR_XML = join('eds-testscripts', 'generated', 'Fixtures');

function walk(dir: string, ext: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) walk(full, ext, out);
    else if (name.endsWith(ext)) out.push(full);
  }
  return out;
}

/** Every JSON example resource under fixtures/fhir/examples, as [relative name, parsed JSON]. */
export function jsonExamples(): [string, Record<string, unknown>][] {
  return walk(FHIR_EXAMPLES, '.json').map((f) => [
    relative(FIXTURES, f),
    JSON.parse(readFileSync(f, 'utf8')),
  ]);
}

/**
 * Every XML fixture whose root element is a FHIR resource. fixtures/fhir/examples holds JSON only, so these come
 * from the MedCom ehmi-sbdh material (HomeCare and Acknowledgement Bundles, DocumentReferences).
 */
export function xmlExamples(): [string, string][] {
  const out: [string, string][] = [];
  for (const f of walk(FIXTURES, '.xml')) {
    // The EDS TestScripts' XML fixtures carry the FHIR namespace but are not FHIR XML (upstream's generic converter
    // wrote them: SOURCES-eds-testscripts.md); the scripts beside them are.
    if (relative(FIXTURES, f).startsWith(NOT_FHIR_XML)) continue;
    const text = readFileSync(f, 'utf8');
    if (!text.includes(FHIR_NS)) continue;
    try {
      if (rootElement(parseXml(text)).namespaceURI === FHIR_NS) out.push([relative(FIXTURES, f), text]);
    } catch {
      // not well-formed (one page extraction is not): not a FHIR example
    }
  }
  return out;
}

export interface XmlNode {
  name: string;
  attrs: [string, string][];
  children: (XmlNode | string)[];
}

/** An XML document as a tree that ignores attribute order, namespace prefixes, comments and whitespace runs. */
export function normaliseXml(xml: string): XmlNode {
  return normaliseElement(rootElement(parseXml(xml)));
}

function normaliseElement(el: Element): XmlNode {
  const attrs: [string, string][] = [];
  for (let i = 0; i < el.attributes.length; i++) {
    const a = el.attributes.item(i);
    if (!a || a.name === 'xmlns' || a.name.startsWith('xmlns:')) continue;
    attrs.push([`{${a.namespaceURI ?? ''}}${a.localName}`, a.value.replace(/\s+/g, ' ').trim()]);
  }
  attrs.sort((x, y) => x[0].localeCompare(y[0]));
  const children: (XmlNode | string)[] = [];
  for (let n = el.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1) children.push(normaliseElement(n as Element));
    else if (n.nodeType === 3 || n.nodeType === 4) {
      const t = (n.nodeValue ?? '').replace(/\s+/g, ' ').trim();
      if (t !== '') children.push(t);
    }
  }
  return { name: `{${el.namespaceURI ?? ''}}${el.localName}`, attrs, children };
}

/**
 * A copy of a resource with every narrative div replaced by its normalised XML tree, or by a placeholder when
 * `drop` is set (for publications whose narratives differ in content).
 */
export function normaliseNarratives(value: unknown, drop = false): unknown {
  if (Array.isArray(value)) return value.map((v) => normaliseNarratives(v, drop));
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === 'div' && typeof v === 'string') out[k] = drop ? '(narrative)' : normaliseXml(v);
    else out[k] = normaliseNarratives(v, drop);
  }
  return out;
}
