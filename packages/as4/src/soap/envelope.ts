import { EhmiError } from '@ehmi/errors';
import { childElements, type Document, type Element, parseXml, pathOf } from '@ehmi/xml';
import { NS } from '../lib/ns.ts';

/** Roles this node plays: none given (= ultimate receiver), ultimateReceiver, next (SOAP 1.2 Part 1 §2.2; SOAP 1.1 §4.2.2). */
const OUR_ROLES = new Set([
  '',
  'http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver',
  'http://www.w3.org/2003/05/soap-envelope/role/next',
  'http://schemas.xmlsoap.org/soap/actor/next',
]);

/** A parsed SOAP envelope with the elements AS4 processing needs, located once. */
export interface As4Envelope {
  document: Document;
  /** AS4 requires SOAP 1.2 (AS4 Profile §2.1.1); 1.1 is parsed so that old vectors and peers can be read. */
  soapVersion: '1.1' | '1.2';
  envelope: Element;
  header: Element;
  body: Element;
  /** The one `eb:Messaging` header block. */
  messaging: Element;
  /** The `wsse:Security` header block, when present (WSS 1.1 §5). */
  security?: Element;
  /**
   * Every element carrying `wsu:Id`, `Id` or `id`, by that value: the only way a `#id` signature reference may be
   * resolved (docs/architecture.md "Stack": one DOM walk instead of XPath). Ids are unique, checked while
   * building the map.
   */
  ids: ReadonlyMap<string, Element>;
}

export interface ParseEnvelopeOptions {
  /** Largest accepted envelope in octets; default 4 MiB (see {@link As4Limits.maxEnvelopeBytes}). */
  maxBytes?: number;
}

/**
 * Parse and check a SOAP envelope carrying an ebMS3 header. Hardening (signature-wrapping defences):
 * - any DOCTYPE is refused and no entity is expanded (SOAP 1.2 Part 1 §5; `parseXml`) → EBMS:0103;
 * - exactly one `Header`, one `Body`, and exactly one `eb:Messaging` in the whole document, as a direct child of
 *   the Header (ebMS3 Core §5.2.1; a second copy elsewhere is how wrapping attacks hide the signed one) → EBMS:0009.
 *   The only exception is the open content of an `eb:Receipt`, which may echo the received message;
 * - every `wsu:Id`/`Id`/`id` value unique in the document (WSS 1.1 §4; XML Signature wrapping) → EBMS:0101;
 * - no header block marked `mustUnderstand` other than eb:Messaging and wsse:Security (SOAP 1.2 §5.2.3) → EBMS:0008.
 *
 * @example
 * const env = parseEnvelope(await readFile('message.xml'));
 * const messaging = parseMessaging(env.messaging);
 */
export function parseEnvelope(xml: string | Uint8Array, options: ParseEnvelopeOptions = {}): As4Envelope {
  // No node positions: nothing reads them from a SOAP envelope (an error still names its line).
  const document = parseXml(xml, {
    maxBytes: options.maxBytes ?? 4 * 1024 * 1024,
    source: 'SOAP envelope',
    locator: false,
  });
  return checkEnvelope(document);
}

/**
 * The checks of {@link parseEnvelope} on a document that is already parsed (e.g. one just built).
 *
 * @example
 * const env = checkEnvelope(buildUserMessage(input, pmode).document);
 */
export function checkEnvelope(document: Document): As4Envelope {
  const envelope = document.documentElement!;
  let soapVersion: '1.1' | '1.2';
  if (envelope.localName === 'Envelope' && envelope.namespaceURI === NS.S12) soapVersion = '1.2';
  else if (envelope.localName === 'Envelope' && envelope.namespaceURI === NS.S11) soapVersion = '1.1';
  else {
    throw new EhmiError(
      'EHMI_AS4_INVALID_HEADER',
      `the root element ${envelope.nodeName} is not a SOAP Envelope`,
      {
        expression: [pathOf(envelope)],
      },
    );
  }
  const soapNs = soapVersion === '1.2' ? NS.S12 : NS.S11;
  const children = childElements(envelope);
  const headers = children.filter((c) => c.namespaceURI === soapNs && c.localName === 'Header');
  const bodies = children.filter((c) => c.namespaceURI === soapNs && c.localName === 'Body');
  // SOAP 1.2 Part 1 §5.1: Envelope = optional Header, then Body, nothing else.
  if (headers.length !== 1 || bodies.length !== 1 || children.length !== 2 || children[0] !== headers[0]) {
    throw new EhmiError(
      'EHMI_AS4_INVALID_HEADER',
      `the SOAP Envelope must hold exactly one Header followed by one Body (found ${headers.length} Header, ${bodies.length} Body, ${children.length} children)`,
      { expression: [pathOf(envelope)] },
    );
  }
  const header = headers[0]!;
  const body = bodies[0]!;
  const allMessaging = messagingElements(envelope);
  if (allMessaging.length !== 1 || allMessaging[0]!.parentNode !== header) {
    throw new EhmiError(
      'EHMI_AS4_INVALID_HEADER',
      allMessaging.length === 0
        ? 'the SOAP Header has no eb:Messaging'
        : `expected one eb:Messaging directly in the SOAP Header, found ${allMessaging.length} in the document`,
      { expression: allMessaging.map((m) => pathOf(m)), details: { messagingCount: allMessaging.length } },
    );
  }
  // SOAP 1.2 Part 1 §5.2.3: a header block marked mustUnderstand that we do not process must not be ignored.
  for (const block of childElements(header)) {
    const known =
      (block.namespaceURI === NS.EB && block.localName === 'Messaging') ||
      (block.namespaceURI === NS.WSSE && block.localName === 'Security');
    const mu = block.getAttributeNS(soapNs, 'mustUnderstand');
    const role = block.getAttributeNS(soapNs, soapVersion === '1.2' ? 'role' : 'actor') ?? '';
    if (!known && (mu === 'true' || mu === '1') && OUR_ROLES.has(role)) {
      throw new EhmiError(
        'EHMI_AS4_UNPACKAGING_NOT_SUPPORTED',
        `header block ${block.nodeName} must be understood`,
        {
          expression: [pathOf(block)],
        },
      );
    }
  }
  const securities = childElements(header, NS.WSSE, 'Security');
  if (securities.length > 1) {
    // WSS 1.1 §6.1 allows one Security header per actor/role; AS4 uses a single one for the ultimate receiver.
    const roles = new Set(
      securities.map((s) => s.getAttributeNS(soapNs, soapVersion === '1.2' ? 'role' : 'actor') ?? ''),
    );
    if (roles.size !== securities.length) {
      throw new EhmiError(
        'EHMI_AS4_POLICY_NONCOMPLIANCE',
        'more than one wsse:Security header for the same role',
        {
          expression: securities.map((s) => pathOf(s)),
        },
      );
    }
  }
  const result: As4Envelope = {
    document,
    soapVersion,
    envelope,
    header,
    body,
    messaging: allMessaging[0]!,
    ids: collectIds(envelope),
  };
  const security = securities.find(
    (s) => !s.hasAttributeNS(soapNs, soapVersion === '1.2' ? 'role' : 'actor'),
  );
  if (security ?? securities[0]) result.security = security ?? securities[0]!;
  return result;
}

/**
 * Every element with an id attribute, by value. A duplicate value → EBMS:0101 FailedAuthentication: a signature
 * reference to it would be ambiguous, the classic XML Signature wrapping set-up (WSS4J and phase4 refuse too).
 *
 * @example
 * const ids = collectIds(document.documentElement!);
 * const signedBody = ids.get('id-c80f8255-da5a-4c42-8e4b-9b66bac931d7');
 */
export function collectIds(root: Element): Map<string, Element> {
  const ids = new Map<string, Element>();
  const visit = (el: Element): void => {
    for (const id of idValues(el)) {
      if (ids.has(id)) {
        throw new EhmiError('EHMI_AS4_FAILED_AUTHENTICATION', `the id "${id}" occurs more than once`, {
          expression: [pathOf(ids.get(id)!), pathOf(el)],
          details: { id },
        });
      }
      ids.set(id, el);
    }
    for (const child of childElements(el)) visit(child);
  };
  visit(root);
  return ids;
}

/** The values of `wsu:Id`, `Id` and `id` on one element (distinct values each count as an id). */
function idValues(el: Element): string[] {
  const out = new Set<string>();
  if (el.hasAttributeNS(NS.WSU, 'Id')) out.add(el.getAttributeNS(NS.WSU, 'Id') ?? '');
  if (el.hasAttribute('Id')) out.add(el.getAttribute('Id') ?? '');
  if (el.hasAttribute('id')) out.add(el.getAttribute('id') ?? '');
  return [...out];
}

/**
 * Every eb:Messaging in the document except inside the open content of an eb:Receipt (ebMS3 Core §5.2.3.3), where
 * a receipt may echo the received message — phase4 copies the whole envelope there.
 */
function messagingElements(root: Element): Element[] {
  const out: Element[] = [];
  const walk = (el: Element): void => {
    for (const child of childElements(el)) {
      if (child.namespaceURI === NS.EB && child.localName === 'Receipt') continue;
      if (child.namespaceURI === NS.EB && child.localName === 'Messaging') out.push(child);
      walk(child);
    }
  };
  walk(root);
  return out;
}
