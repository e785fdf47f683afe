import { EhmiError } from '@ehmi/errors';
import { childElement, childElements, type Document, type Element } from '@ehmi/xml';
import { NS } from './ns.ts';

/** The parts of a SOAP envelope the WS-Security layer touches. */
export interface EnvelopeParts {
  envelope: Element;
  soapNs: string;
  header: Element | undefined;
  body: Element;
  /** The single eb:Messaging header block, when present (ebMS 3.0 Core §5.1). */
  messaging: Element | undefined;
}

/** Locates Envelope, Header, Body and eb:Messaging as direct children, never by search (wrapping defence). */
export function envelopeParts(doc: Document): EnvelopeParts {
  const envelope = doc.documentElement;
  if (envelope?.localName !== 'Envelope' || !isSoapNs(envelope.namespaceURI)) {
    throw new EhmiError('EHMI_AS4_INVALID_HEADER', 'the document is not a SOAP envelope');
  }
  const soapNs = envelope.namespaceURI!;
  const header = childElement(envelope, soapNs, 'Header');
  const bodies = childElements(envelope, soapNs, 'Body');
  if (bodies.length !== 1) throw new EhmiError('EHMI_AS4_INVALID_HEADER', 'the envelope must have one Body');
  const messagings = header ? childElements(header, NS.eb, 'Messaging') : [];
  if (messagings.length > 1) {
    throw new EhmiError('EHMI_AS4_INVALID_HEADER', 'the envelope has more than one eb:Messaging header');
  }
  return { envelope, soapNs, header, body: bodies[0]!, messaging: messagings[0] };
}

function isSoapNs(ns: string | null): boolean {
  return ns === NS.soap11 || ns === NS.soap12;
}

const OUR_ROLES = new Set([
  'http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver',
  'http://www.w3.org/2003/05/soap-envelope/role/next',
  'http://schemas.xmlsoap.org/soap/actor/next',
]);

/** The wsse:Security header block addressed to us (no actor/role, or the default role), if any. */
export function findSecurityHeader(parts: EnvelopeParts): Element | undefined {
  if (!parts.header) return undefined;
  const blocks = childElements(parts.header, NS.wsse, 'Security').filter((el) => {
    const role = el.getAttributeNS(parts.soapNs, parts.soapNs === NS.soap12 ? 'role' : 'actor');
    // SOAP 1.2 Part 1 §2.2 / SOAP 1.1 §4.2.2: no role, ultimateReceiver or next all address this node.
    return !role || OUR_ROLES.has(role);
  });
  if (blocks.length > 1) {
    throw new EhmiError(
      'EHMI_AS4_FAILED_AUTHENTICATION',
      'more than one wsse:Security header for this node',
      {
        details: { reason: 'duplicate-security-header' },
      },
    );
  }
  return blocks[0];
}

/** The wsse:Security header, created first in the SOAP Header (with mustUnderstand) when absent. */
export function ensureSecurityHeader(doc: Document, parts: EnvelopeParts): Element {
  const existing = findSecurityHeader(parts);
  if (existing) return existing;
  let header = parts.header;
  const soapPrefix = parts.envelope.prefix;
  const q = (name: string) => (soapPrefix ? `${soapPrefix}:${name}` : name);
  if (!header) {
    header = doc.createElementNS(parts.soapNs, q('Header'));
    parts.envelope.insertBefore(header, parts.envelope.firstChild);
    parts.header = header;
  }
  const sec = doc.createElementNS(NS.wsse, 'wsse:Security');
  sec.setAttributeNS(NS.xmlns, 'xmlns:wsse', NS.wsse);
  sec.setAttributeNS(NS.xmlns, 'xmlns:wsu', NS.wsu);
  // WSS 1.1.1 SOAP Message Security §5: the header must be understood; SOAP 1.2 uses "true", SOAP 1.1 "1".
  sec.setAttributeNS(parts.soapNs, q('mustUnderstand'), parts.soapNs === NS.soap12 ? 'true' : '1');
  header.insertBefore(sec, header.firstChild);
  return sec;
}

/** Creates a namespaced child element and appends it. */
export function append(parent: Element, ns: string, qname: string, text?: string): Element {
  const el = parent.ownerDocument!.createElementNS(ns, qname);
  if (text !== undefined) el.appendChild(parent.ownerDocument!.createTextNode(text));
  parent.appendChild(el);
  return el;
}
