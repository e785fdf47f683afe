import { EhmiError } from '@ehmi/errors';
import {
  childElement,
  childElements,
  type Document,
  type Element,
  parseXml,
  pathOf,
  rootElement,
  textOf,
} from '@ehmi/xml';
import {
  documentId,
  type IdentifierKind,
  identifierFromUrlPath,
  participantId,
  processId,
  type SmpIdentifier,
} from '../identifiers/identifier.ts';
import { identifierNs, NS, publishingNs, type SmpFlavour } from '../lib/ns.ts';
import type {
  Endpoint,
  Process,
  Redirect,
  ServiceGroup,
  ServiceInformation,
  ServiceMetadata,
  ServiceMetadataReference,
} from './types.ts';

/**
 * Largest SMP response we parse: a ServiceMetadata with a few endpoints and certificates is a few KB.
 *
 * @example
 * if (body.length > MAX_SMP_RESPONSE_BYTES) throw new Error('too large');
 */
export const MAX_SMP_RESPONSE_BYTES = 1024 * 1024;

const bad = (message: string, el?: Element) =>
  new EhmiError('EHMI_SMP_RESPONSE_INVALID', message, el ? { expression: [pathOf(el)] } : {});

function flavourOf(root: Element): SmpFlavour {
  if (root.namespaceURI === NS.bdxr) return 'oasis-bdxr-1';
  if (root.namespaceURI === NS.peppol) return 'peppol';
  throw bad(
    `${root.nodeName} is in namespace "${root.namespaceURI ?? ''}", neither OASIS BDXR SMP 1.0 nor Peppol SMP`,
    root,
  );
}

/** Parses text with the safe parser (no DOCTYPE, size-capped); a Document is used as it is. */
export function toDocument(input: string | Uint8Array | Document, source: string): Document {
  if (typeof input === 'string' || input instanceof Uint8Array) {
    try {
      return parseXml(input, { source, maxBytes: MAX_SMP_RESPONSE_BYTES });
    } catch (err) {
      if (err instanceof EhmiError && err.code === 'EHMI_XML_MALFORMED') {
        throw new EhmiError('EHMI_SMP_RESPONSE_INVALID', err.message, { cause: err });
      }
      throw err;
    }
  }
  return input;
}

function required(parent: Element, ns: string, name: string): Element {
  const el = childElement(parent, ns, name);
  if (!el) throw bad(`${pathOf(parent)} has no ${name}`, parent);
  return el;
}

function identifier(parent: Element, flavour: SmpFlavour, name: string, kind: IdentifierKind): SmpIdentifier {
  const el = required(parent, identifierNs(flavour), name);
  const scheme = el.getAttribute('scheme') ?? '';
  const value = textOf(el) ?? '';
  // What an SMP publishes is taken as it is: only the syntax is checked (lenient), not ICD check digits.
  const make = kind === 'participant' ? participantId : kind === 'document' ? documentId : processId;
  try {
    return make({ scheme, value }, { lenient: true });
  } catch (err) {
    throw new EhmiError('EHMI_SMP_RESPONSE_INVALID', `${pathOf(el)}: ${(err as Error).message}`, {
      expression: [pathOf(el)],
      cause: err,
    });
  }
}

function dateOf(el: Element | undefined): Date | undefined {
  const text = textOf(el);
  if (text === undefined || text === '') return undefined;
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) throw bad(`${pathOf(el!)} is not an xs:dateTime: "${text}"`, el);
  return d;
}

function booleanOf(el: Element | undefined): boolean {
  const text = textOf(el);
  if (text === undefined || text === '') return false; // OASIS BDXR SMP 1.0 XSD default="false"
  if (text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0') return false;
  throw bad(`${pathOf(el!)} is not an xs:boolean: "${text}"`, el);
}

/**
 * Parses a ServiceGroup response (OASIS BDXR SMP 1.0 XSD `ServiceGroupType`, or Peppol SMP 1.x).
 *
 * @example
 * const group = parseServiceGroup(await res.text());
 * group.references.map((r) => r.documentType?.value);
 */
export function parseServiceGroup(input: string | Uint8Array | Document): ServiceGroup {
  const root = rootElement(toDocument(input, 'ServiceGroup'));
  const flavour = flavourOf(root);
  const ns = publishingNs(flavour);
  if (root.localName !== 'ServiceGroup') throw bad(`expected a ServiceGroup, got ${root.nodeName}`, root);
  const participant = identifier(root, flavour, 'ParticipantIdentifier', 'participant');
  const collection = required(root, ns, 'ServiceMetadataReferenceCollection');
  const references: ServiceMetadataReference[] = childElements(
    collection,
    ns,
    'ServiceMetadataReference',
  ).map((el) => {
    const href = el.getAttribute('href') ?? '';
    if (!href) throw bad(`${pathOf(el)} has no href`, el);
    const ref: ServiceMetadataReference = { href };
    const documentType = documentTypeOfHref(href);
    if (documentType) ref.documentType = documentType;
    return ref;
  });
  return { flavour, participant, references };
}

/**
 * The document type in the last path segment of a ServiceMetadataReference href, when readable.
 *
 * @example
 * documentTypeOfHref('https://smp.example/iso6523-actorid-upis%3A%3A0088%3A579…/services/busdox-docid-qns%3A%3Aurn%3Ax');
 */
export function documentTypeOfHref(href: string): SmpIdentifier | undefined {
  const path = href.replace(/[?#].*$/, '');
  const i = path.lastIndexOf('/services/');
  if (i < 0) return undefined;
  try {
    return identifierFromUrlPath('document', path.slice(i + '/services/'.length));
  } catch {
    return undefined;
  }
}

/**
 * Parses a ServiceMetadata, bare or inside a SignedServiceMetadata (OASIS BDXR SMP 1.0 XSD
 * `ServiceMetadataType`, or Peppol SMP 1.x). The signature is not checked here: use {@link verifySignedServiceMetadata} (the client always does).
 *
 * @example
 * const md = parseServiceMetadata(xml);
 * md.serviceInformation?.processes[0]?.endpoints[0]?.endpointUrl;
 */
export function parseServiceMetadata(input: string | Uint8Array | Document): ServiceMetadata {
  const root = rootElement(toDocument(input, 'ServiceMetadata'));
  const flavour = flavourOf(root);
  const ns = publishingNs(flavour);
  let md: Element;
  if (root.localName === 'SignedServiceMetadata') md = required(root, ns, 'ServiceMetadata');
  else if (root.localName === 'ServiceMetadata') md = root;
  else throw bad(`expected a (Signed)ServiceMetadata, got ${root.nodeName}`, root);
  return serviceMetadataOf(md, flavour);
}

/**
 * Parses a SignedServiceMetadata response; a bare ServiceMetadata is refused (an SMP signs what it serves:
 * OASIS BDXR SMP 1.0 and Peppol SMP 1.x, `SignedServiceMetadataType`).
 *
 * @example
 * const md = parseSignedServiceMetadata(xml);
 */
export function parseSignedServiceMetadata(input: string | Uint8Array | Document): ServiceMetadata {
  const doc = toDocument(input, 'SignedServiceMetadata');
  const root = rootElement(doc);
  if (root.localName !== 'SignedServiceMetadata') {
    throw bad(`expected a SignedServiceMetadata, got ${root.nodeName}`, root);
  }
  return parseServiceMetadata(doc);
}

/** Reads a ServiceMetadata element (already located). */
export function serviceMetadataOf(md: Element, flavour: SmpFlavour): ServiceMetadata {
  const ns = publishingNs(flavour);
  const info = childElement(md, ns, 'ServiceInformation');
  const redirectEl = childElement(md, ns, 'Redirect');
  if (info) return { flavour, serviceInformation: serviceInformationOf(info, flavour) };
  if (redirectEl) {
    const href = redirectEl.getAttribute('href') ?? '';
    if (!href) throw bad(`${pathOf(redirectEl)} has no href`, redirectEl);
    const redirect: Redirect = {
      href,
      certificateUid: textOf(required(redirectEl, ns, 'CertificateUID')) ?? '',
    };
    return { flavour, redirect };
  }
  throw bad(`${pathOf(md)} has neither ServiceInformation nor Redirect`, md);
}

function serviceInformationOf(info: Element, flavour: SmpFlavour): ServiceInformation {
  const ns = publishingNs(flavour);
  const processList = required(info, ns, 'ProcessList');
  const processes: Process[] = childElements(processList, ns, 'Process').map((p) => ({
    processId: identifier(p, flavour, 'ProcessIdentifier', 'process'),
    endpoints: childElements(required(p, ns, 'ServiceEndpointList'), ns, 'Endpoint').map((e) =>
      endpointOf(e, flavour),
    ),
  }));
  return {
    participant: identifier(info, flavour, 'ParticipantIdentifier', 'participant'),
    documentType: identifier(info, flavour, 'DocumentIdentifier', 'document'),
    processes,
  };
}

function endpointOf(e: Element, flavour: SmpFlavour): Endpoint {
  const ns = publishingNs(flavour);
  const transportProfile = e.getAttribute('transportProfile') ?? '';
  if (!transportProfile) throw bad(`${pathOf(e)} has no transportProfile`, e);
  const urlEl =
    flavour === 'peppol'
      ? childElement(required(e, NS.wsa, 'EndpointReference'), NS.wsa, 'Address')
      : childElement(e, ns, 'EndpointURI');
  const endpointUrl = textOf(urlEl) ?? '';
  if (!endpointUrl) throw bad(`${pathOf(e)} has no endpoint address`, e);
  const text = (name: string) => textOf(childElement(e, ns, name));
  const endpoint: Endpoint = {
    transportProfile,
    endpointUrl,
    requireBusinessLevelSignature: booleanOf(childElement(e, ns, 'RequireBusinessLevelSignature')),
    certificate: (text('Certificate') ?? '').replace(/\s+/g, ''),
    serviceDescription: text('ServiceDescription') ?? '',
    technicalContactUrl: text('TechnicalContactUrl') ?? '',
  };
  const minimumAuthenticationLevel = text('MinimumAuthenticationLevel');
  if (minimumAuthenticationLevel) endpoint.minimumAuthenticationLevel = minimumAuthenticationLevel;
  const activation = dateOf(childElement(e, ns, 'ServiceActivationDate'));
  if (activation) endpoint.serviceActivationDate = activation;
  const expiration = dateOf(childElement(e, ns, 'ServiceExpirationDate'));
  if (expiration) endpoint.serviceExpirationDate = expiration;
  const info = text('TechnicalInformationUrl');
  if (info) endpoint.technicalInformationUrl = info;
  return endpoint;
}
