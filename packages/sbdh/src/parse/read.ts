import type { Element } from '@ehmi/xml';
import { childElement, childElements } from '@ehmi/xml';
import { IG_STANDARDS, NS } from '../constants.ts';
import type { CorrelationInformation, EhmiEnvelope, EnvelopeIssue, Scope } from '../model.ts';
import { lineOf, shortPath } from './normalize.ts';

export interface ReadResult {
  envelope: EhmiEnvelope;
  /** Missing required elements: the envelope is then incomplete (empty strings where values are missing). */
  errors: EnvelopeIssue[];
}

const text = (el: Element | undefined): string => (el?.textContent ?? '').trim();

/**
 * Read the typed envelope from a `StandardBusinessDocument` element (after {@link normalizeVariants}). Order and
 * extra elements are the XSD's business; this reader reports the required elements it cannot find.
 */
export function readEnvelope(root: Element): ReadResult {
  const errors: EnvelopeIssue[] = [];
  const missing = (parent: Element, name: string, what = name): void => {
    const path = shortPath(parent);
    errors.push({
      severity: 'error',
      rule: 'required',
      element: path ? `${path}/${name}` : name,
      message: `required element ${what} is missing`,
      line: lineOf(parent),
    });
  };
  const req = (parent: Element | undefined, name: string): Element | undefined => {
    if (!parent) return undefined;
    const el = childElement(parent, NS.sbdh, name);
    if (el) return el;
    const other = childElements(parent).find((c) => c.localName === name);
    if (other) {
      errors.push({
        severity: 'error',
        rule: 'namespace',
        element: shortPath(other),
        message: `element ${name} is in namespace '${other.namespaceURI ?? ''}', not ${NS.sbdh}`,
        line: lineOf(other),
      });
    } else missing(parent, name);
    return undefined;
  };

  const header = req(root, 'StandardBusinessDocumentHeader');
  const party = (name: 'Sender' | 'Receiver'): { authority: string; value: string } => {
    const p = req(header, name);
    const id = req(p, 'Identifier');
    if (id && text(id) === '') missing(p!, 'Identifier', `${name}/Identifier value`);
    return { authority: id?.getAttribute('Authority') ?? '', value: text(id) };
  };
  const headerVersionEl = req(header, 'HeaderVersion');
  const sender = party('Sender');
  const receiver = party('Receiver');
  const di = req(header, 'DocumentIdentification');
  const diText = (name: string): string => text(req(di, name));
  const documentIdentification: EhmiEnvelope['documentIdentification'] = {
    standard: diText('Standard'),
    typeVersion: diText('TypeVersion'),
    instanceIdentifier: diText('InstanceIdentifier'),
    type: diText('Type'),
    creationDateAndTime: diText('CreationDateAndTime'),
  };
  const multiple = di ? childElement(di, NS.sbdh, 'MultipleType') : undefined;
  if (multiple) documentIdentification.multipleType = text(multiple) === 'true' || text(multiple) === '1';

  const profile = (IG_STANDARDS as readonly string[]).includes(documentIdentification.standard)
    ? 'ehmi'
    : 'gs1';
  const businessScope = header ? childElement(header, NS.sbdh, 'BusinessScope') : undefined;
  if (header && !businessScope && profile === 'ehmi') missing(header, 'BusinessScope');
  const scopes = businessScope
    ? childElements(businessScope, NS.sbdh, 'Scope').map((s) => readScope(s, req))
    : [];

  const bcEl = childElement(root, NS.sbdh, 'BinaryContent') ?? childElement(root, NS.peppol, 'BinaryContent');
  if (!bcEl) missing(root, 'BinaryContent');
  const binaryContent: EhmiEnvelope['binaryContent'] = {
    mimeType: bcEl?.getAttribute('mimeType') ?? '',
    base64: (bcEl?.textContent ?? '').replace(/\s+/g, ''),
    namespace: bcEl?.namespaceURI ?? NS.sbdh,
  };
  const encoding = bcEl?.getAttribute('encoding');
  if (encoding) binaryContent.encoding = encoding;
  if (bcEl && !bcEl.getAttribute('mimeType')) missing(bcEl, '@mimeType', 'attribute mimeType');

  return {
    envelope: {
      profile,
      headerVersion: text(headerVersionEl),
      sender,
      receiver,
      documentIdentification,
      scopes,
      binaryContent,
    },
    errors,
  };
}

function readScope(
  s: Element,
  req: (parent: Element | undefined, name: string) => Element | undefined,
): Scope {
  const scope: Scope = {
    type: text(req(s, 'Type')),
    // The XDS-METADATA value is JSON in CDATA: keep it as written, trimmed.
    instanceIdentifier: text(req(s, 'InstanceIdentifier')),
  };
  const identifier = childElement(s, NS.sbdh, 'Identifier');
  if (identifier) scope.identifier = text(identifier);
  const ci = childElement(s, NS.sbdh, 'CorrelationInformation');
  if (ci) {
    const c: CorrelationInformation = {
      requestingDocumentCreationDateTime: text(
        childElement(ci, NS.sbdh, 'RequestingDocumentCreationDateTime'),
      ),
      requestingDocumentInstanceIdentifier: text(
        childElement(ci, NS.sbdh, 'RequestingDocumentInstanceIdentifier'),
      ),
    };
    const expected = childElement(ci, NS.sbdh, 'ExpectedResponseDateTime');
    if (expected) c.expectedResponseDateTime = text(expected);
    scope.correlationInformation = c;
  }
  const bs = childElement(s, NS.sbdh, 'BusinessService');
  if (bs) {
    const st = childElement(bs, NS.sbdh, 'ServiceTransaction');
    const attrs: Record<string, string> = {};
    if (st) {
      for (let i = 0; i < st.attributes.length; i++) {
        const a = st.attributes.item(i)!;
        attrs[a.name] = a.value;
      }
    }
    scope.businessService = {
      businessServiceName: text(childElement(bs, NS.sbdh, 'BusinessServiceName')),
      serviceTransaction: attrs,
    };
  }
  return scope;
}
