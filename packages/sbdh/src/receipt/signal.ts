import type { Document, Element } from '@ehmi/xml';
import {
  childElement,
  childElements,
  escapeAttr,
  escapeText,
  parseXml,
  parseXmlLean,
  rootElement,
} from '@ehmi/xml';
import { QUOTES } from '../build/serialize.ts';
import { NS } from '../constants.ts';
import type { EnvelopeIssue } from '../model.ts';
import { isXsdDateTime } from '../time.ts';

/** ebBP ReceiptException categories (ebbp-signals-2.0.4.xsd `ExceptionType/ReceiptException`). */
export const RECEIPT_EXCEPTION_CATEGORIES = ['Syntax', 'Authorization', 'Signature', 'Sequence'] as const;
export type ReceiptExceptionCategory = (typeof RECEIPT_EXCEPTION_CATEGORIES)[number];

/** The content of a `bpssignal:ReceiptAcknowledgement` or `bpssignal:Exception` (SignalIdentificationInformation). */
export interface Signal {
  kind: 'ReceiptAcknowledgement' | 'Exception';
  originalMessageIdentifier: string;
  originalDocumentIdentifier?: string;
  originalMessageDateTime: string;
  thisMessageDateTime: string;
  fromPartyInfo?: { type?: string; value: string };
  toPartyInfo?: { type?: string; value: string };
  collaborationIdentifier?: string;
  exception?: { category: string; reason: string; message?: string };
}

/** `SignalIdentificationInformation` sequence, in XSD order. */
const SEQUENCE = [
  'OriginalMessageIdentifier',
  'OriginalDocumentIdentifier',
  'OriginalMessageDateTime',
  'ThisMessageDateTime',
  'FromPartyInfo',
  'ToPartyInfo',
  'FromRole',
  'ToRole',
  'ProcessSpecificationInfo',
  'CollaborationIdentifier',
  'BusinessActivityIdentifier',
];

/**
 * Serialize a signal (ehmiSBDH IG "EHMI ReceiptAcknowledgement (ebBP signal message)", "Receipt Exception").
 *
 * @example
 * signalXml({ kind: 'ReceiptAcknowledgement', originalMessageIdentifier: 'env-1', originalMessageDateTime: t0, thisMessageDateTime: t1 });
 */
export function signalXml(signal: Signal): string {
  const name = signal.kind;
  const el = (n: string, v: string, attrs = ''): string =>
    `  <bpssignal:${n}${attrs}>${escapeText(v, QUOTES)}</bpssignal:${n}>\n`;
  let out = `<?xml version="1.0" encoding="UTF-8"?>\n<bpssignal:${name} xmlns:bpssignal="${NS.bpssignal}">\n`;
  out += el('OriginalMessageIdentifier', signal.originalMessageIdentifier);
  if (signal.originalDocumentIdentifier)
    out += el('OriginalDocumentIdentifier', signal.originalDocumentIdentifier);
  out += el('OriginalMessageDateTime', signal.originalMessageDateTime);
  out += el('ThisMessageDateTime', signal.thisMessageDateTime);
  for (const [n, p] of [
    ['FromPartyInfo', signal.fromPartyInfo],
    ['ToPartyInfo', signal.toPartyInfo],
  ] as const) {
    if (p) out += el(n, p.value, p.type ? ` type="${escapeAttr(p.type)}"` : '');
  }
  if (signal.collaborationIdentifier) out += el('CollaborationIdentifier', signal.collaborationIdentifier);
  if (signal.exception) {
    out += `  <bpssignal:ExceptionType>\n  ${el('ReceiptException', signal.exception.category)}  </bpssignal:ExceptionType>\n`;
    out += el('Reason', signal.exception.reason);
    if (signal.exception.message) out += el('ExceptionMessage', signal.exception.message);
  }
  return `${out}</bpssignal:${name}>\n`;
}

export interface SignalCheck {
  signal?: Signal;
  issues: EnvelopeIssue[];
}

/**
 * Read and check a signal the way ebbp-signals-2.0.4.xsd would (required children, order, dateTimes, exception
 * category). Elements the schema does not know (the IG example's `RequestionField`) are warnings.
 *
 * @example
 * const { signal, issues } = readSignal(payloadOf(parse(receiptXml)));
 */
export function readSignal(bytes: Uint8Array, where = 'BinaryContent'): SignalCheck {
  const issues: EnvelopeIssue[] = [];
  const issue = (severity: 'error' | 'warning', element: string, message: string): void => {
    issues.push({ severity, rule: 'signal', element: `${where}/${element}`, message });
  };
  let root: Element;
  try {
    // Only read: the lean tree (LeanNode has the DOM's reading properties this reader uses) when the parser reports
    // nothing and the tree holds it as the DOM would; else the DOM, whose parse says what is wrong.
    const source = 'the receipt signal';
    const lean = parseXmlLean(bytes, { source }) as unknown as Document | undefined;
    root = rootElement(lean ?? parseXml(bytes, { source }));
  } catch (err) {
    issue('error', 'bpssignal', `the embedded signal is not well-formed XML: ${(err as Error).message}`);
    return { issues };
  }
  const rootName = root.localName ?? '';
  if (root.namespaceURI !== NS.bpssignal || !['ReceiptAcknowledgement', 'Exception'].includes(rootName)) {
    issue(
      'error',
      rootName,
      `expected bpssignal:ReceiptAcknowledgement or bpssignal:Exception, found ${root.localName} {${root.namespaceURI ?? ''}}`,
    );
    return { issues };
  }
  const kind = rootName as Signal['kind'];
  const kids = childElements(root);
  let pos = 0;
  for (const k of kids) {
    const local = k.localName ?? '';
    const idx = k.namespaceURI === NS.bpssignal ? SEQUENCE.indexOf(local) : -1;
    if (idx === -1) {
      if (
        !['ExceptionType', 'Reason', 'ExceptionMessage', 'NonRepudiationInformation', 'Signature'].includes(
          local,
        )
      ) {
        issue('warning', local, `element ${local} is not part of the ebBP signal schema; ignored`);
      }
      continue;
    }
    if (idx < pos) issue('error', local, `element ${local} is out of the schema's order`);
    pos = idx;
  }
  const t = (n: string): string | undefined => {
    const el = childElement(root, NS.bpssignal, n);
    return el ? (el.textContent ?? '').trim() : undefined;
  };
  const required = (n: string): string => {
    const v = t(n);
    if (v === undefined || v === '') issue('error', n, `required element ${n} is missing or empty`);
    return v ?? '';
  };
  const signal: Signal = {
    kind,
    originalMessageIdentifier: required('OriginalMessageIdentifier'),
    originalMessageDateTime: required('OriginalMessageDateTime'),
    thisMessageDateTime: required('ThisMessageDateTime'),
  };
  for (const n of ['OriginalMessageDateTime', 'ThisMessageDateTime'] as const) {
    const v = t(n);
    if (v && !isXsdDateTime(v)) issue('error', n, `'${v}' is not an xs:dateTime`);
  }
  const doc = t('OriginalDocumentIdentifier');
  if (doc) signal.originalDocumentIdentifier = doc;
  const collab = t('CollaborationIdentifier');
  if (collab) signal.collaborationIdentifier = collab;
  for (const [n, key] of [
    ['FromPartyInfo', 'fromPartyInfo'],
    ['ToPartyInfo', 'toPartyInfo'],
  ] as const) {
    const el = childElement(root, NS.bpssignal, n);
    if (!el) continue;
    const type = el.getAttribute('type');
    signal[key] = type
      ? { type, value: (el.textContent ?? '').trim() }
      : { value: (el.textContent ?? '').trim() };
  }
  if (kind === 'Exception') {
    const et = childElement(root, NS.bpssignal, 'ExceptionType');
    const re = et ? childElement(et, NS.bpssignal, 'ReceiptException') : undefined;
    const category = (re?.textContent ?? '').trim();
    if (!re) issue('error', 'ExceptionType', 'Exception has no ExceptionType/ReceiptException');
    else if (!(RECEIPT_EXCEPTION_CATEGORIES as readonly string[]).includes(category)) {
      issue(
        'warning',
        'ExceptionType/ReceiptException',
        `category '${category}' is not one of ${RECEIPT_EXCEPTION_CATEGORIES.join(', ')}`,
      );
    }
    const reason = required('Reason');
    const message = t('ExceptionMessage');
    signal.exception = message ? { category, reason, message } : { category, reason };
  }
  return { signal, issues };
}
