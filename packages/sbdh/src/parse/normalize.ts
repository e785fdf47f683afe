import type { Document, Element } from '@ehmi/xml';
import { childElement, childElements, pathOf } from '@ehmi/xml';
import {
  IG_STANDARDS,
  NS,
  RECEIPT_SCOPE,
  RESPONSE_TIME_MINUTES,
  SERVICE_TRANSACTION_FIXED,
} from '../constants.ts';
import type { EnvelopeIssue } from '../model.ts';
import { addMinutes, isXsdDateTime } from '../time.ts';

/**
 * Lenient mode: rewrite, in place, the variants MedCom's own examples show (docs/specs/ehmi-core.md §2.4,
 * §2.9) into the form the IG XSD accepts, and name each as a warning. What is left after this is checked
 * strictly. Line numbers stay those of the input: removed line breaks move into a comment after the element.
 */
export function normalizeVariants(doc: Document): EnvelopeIssue[] {
  const warnings: EnvelopeIssue[] = [];
  const warn = (rule: string, el: Element, message: string): void => {
    warnings.push({ severity: 'warning', rule, element: shortPath(el), message, line: lineOf(el) });
  };
  const root = doc.documentElement;
  if (!root) return warnings;

  for (const el of allElements(root)) {
    if (!readAsTrimmed(el)) continue;
    const text = el.textContent ?? '';
    const trimmed = text.trim();
    setText(el, trimmed, text);
    warn(
      'variant-whitespace',
      el,
      `value '${trimmed}' is written with surrounding whitespace; read as trimmed`,
    );
  }

  const header = childElement(root, NS.sbdh, 'StandardBusinessDocumentHeader');
  const di = header ? childElement(header, NS.sbdh, 'DocumentIdentification') : undefined;
  const standardEl = di ? childElement(di, NS.sbdh, 'Standard') : undefined;
  const standard = standardEl?.textContent ?? '';
  const known = IG_STANDARDS.find((s) => s.toLowerCase() === standard.toLowerCase());
  if (standardEl && known && known !== standard) {
    setText(standardEl, known, standard);
    warn(
      'variant-standard-case',
      standardEl,
      `Standard '${standard}' differs in case from '${known}'; read as '${known}'`,
    );
  }

  const scope = header ? childElement(header, NS.sbdh, 'BusinessScope') : undefined;
  for (const s of scope ? childElements(scope, NS.sbdh, 'Scope') : []) {
    const typeEl = childElement(s, NS.sbdh, 'Type');
    if (typeEl && typeEl.textContent === 'XDS_METADATA') {
      setText(typeEl, 'XDS-METADATA', 'XDS_METADATA');
      warn(
        'variant-xds-metadata-spelling',
        typeEl,
        "Scope Type 'XDS_METADATA' is the known misspelling of 'XDS-METADATA'",
      );
    }
    if (typeEl?.textContent !== RECEIPT_SCOPE) continue;
    const isResponse =
      (childElement(s, NS.sbdh, 'InstanceIdentifier')?.textContent ?? '').trim() === 'Response';
    const ci = childElement(s, NS.sbdh, 'CorrelationInformation');
    if (ci && !childElement(ci, NS.sbdh, 'ExpectedResponseDateTime')) {
      // §2.4 conflict: the prose omits ExpectedResponseDateTime on a Response, the XSD requires it.
      const created =
        childElement(ci, NS.sbdh, 'RequestingDocumentCreationDateTime')?.textContent?.trim() ?? '';
      if (isResponse && isXsdDateTime(created) && /(Z|[+-]\d{2}:\d{2})$/.test(created)) {
        const added = doc.createElementNS(
          NS.sbdh,
          ci.prefix ? `${ci.prefix}:ExpectedResponseDateTime` : 'ExpectedResponseDateTime',
        );
        added.appendChild(doc.createTextNode(addMinutes(created, RESPONSE_TIME_MINUTES)));
        ci.appendChild(added);
        warn(
          'variant-response-without-expected',
          ci,
          'Response CorrelationInformation omits ExpectedResponseDateTime (IG prose form); accepted',
        );
      }
    }
    const bs = childElement(s, NS.sbdh, 'BusinessService');
    const st = bs ? childElement(bs, NS.sbdh, 'ServiceTransaction') : undefined;
    if (!st) continue;
    for (const [name, fixed] of Object.entries(SERVICE_TRANSACTION_FIXED)) {
      const value = st.getAttribute(name);
      if (value === null || value === fixed) continue;
      if (value.trim() === fixed) {
        st.setAttribute(name, fixed);
        warn(
          'variant-whitespace',
          st,
          `attribute ${name}='${value}' has surrounding whitespace; read as '${fixed}'`,
        );
      } else if (isResponse && name === 'TimeToAcknowledgeReceipt' && value.trim() === '0') {
        st.setAttribute(name, fixed);
        warn(
          'variant-response-ttar',
          st,
          `Response with TimeToAcknowledgeReceipt='0' (IG prose form; the XSD fixes ${fixed}); accepted`,
        );
      }
    }
  }

  // The IG XSD declares BinaryContent in the SBDH namespace; most IG examples put it in the PEPPOL namespace.
  const bc = childElement(root, NS.peppol, 'BinaryContent');
  if (bc && known) {
    const moved = doc.createElementNS(NS.sbdh, 'BinaryContent');
    for (let i = 0; i < bc.attributes.length; i++) {
      const a = bc.attributes.item(i)!;
      if (a.name === 'xmlns' || a.name.startsWith('xmlns:')) continue;
      moved.setAttribute(a.name, a.value);
    }
    while (bc.firstChild) moved.appendChild(bc.firstChild);
    root.replaceChild(moved, bc);
    warn(
      'variant-binarycontent-namespace',
      moved,
      `BinaryContent is in the PEPPOL namespace; the IG XSD declares it in the SBDH namespace`,
    );
  }
  return warnings;
}

// Values that the XSD types as enumerations, fixed values, booleans or dateTimes do not tolerate the pretty-printed
// whitespace of the IG's examples ("invalid only because dateTime values are pretty-printed", §2.9).
const TRIMMED = new Set([
  'HeaderVersion',
  'Standard',
  'Type',
  'MultipleType',
  'CreationDateAndTime',
  'Identifier',
  'RequestingDocumentCreationDateTime',
  'ExpectedResponseDateTime',
  'BusinessServiceName',
]);

/**
 * Whether lenient mode reads this element's value trimmed (the `variant-whitespace` warning): a leaf of the SBDH
 * namespace with one of the typed names above whose text has surrounding whitespace around a non-empty value.
 */
export function readAsTrimmed(el: Element): boolean {
  if (el.namespaceURI !== NS.sbdh || !TRIMMED.has(el.localName ?? '')) return false;
  if (childElements(el).length > 0) return false;
  const text = el.textContent ?? '';
  const trimmed = text.trim();
  return text !== trimmed && trimmed !== '';
}

export function allElements(root: Element): Element[] {
  const out: Element[] = [];
  const walk = (el: Element): void => {
    out.push(el);
    for (const c of childElements(el)) walk(c);
  };
  walk(root);
  return out;
}

/** Replace an element's text, keeping the line count with a comment holding the removed line breaks. */
function setText(el: Element, value: string, previous: string): void {
  while (el.firstChild) el.removeChild(el.firstChild);
  el.appendChild(el.ownerDocument!.createTextNode(value));
  const breaks = (previous.match(/\n/g) ?? []).length - (value.match(/\n/g) ?? []).length;
  if (breaks > 0 && el.parentNode) {
    el.parentNode.insertBefore(el.ownerDocument!.createComment('\n'.repeat(breaks)), el.nextSibling);
  }
}

/** Path without the root's name, as in error messages (`StandardBusinessDocumentHeader/Receiver`). */
export function shortPath(el: Element): string {
  return pathOf(el)
    .split('/')
    .slice(1)
    .map((p) => p.replace(/^[^:]+:/, ''))
    .join('/');
}

export function lineOf(el: Element): number | undefined {
  const n = (el as unknown as { lineNumber?: number }).lineNumber;
  return typeof n === 'number' ? n : undefined;
}
