import { EhmiError } from '@ehmi/errors';
import { escapeAttr, escapeText } from '@ehmi/xml';
import type { SmpIdentifier } from '../identifiers/identifier.ts';
import { NS, type SmpFlavour } from '../lib/ns.ts';
import type { Endpoint, ServiceGroup, ServiceMetadata } from './types.ts';

/** A ServiceGroup to build: the references may be given as hrefs or as document types under a base URL. */
export interface ServiceGroupInput {
  flavour?: SmpFlavour;
  participant: SmpIdentifier;
  /** Absolute hrefs, or document types resolved against `baseUrl`. */
  references: ({ href: string } | { documentType: SmpIdentifier })[];
}

export interface BuildServiceGroupOptions {
  /** The SMP's public base URL (no trailing slash needed) for references given as document types. */
  baseUrl?: string;
}

// Prefixes are fixed so the output is predictable: the default namespace for the publishing elements, `ids` for
// the Peppol identifiers (as real Peppol SMPs write them), `wsa` for WS-Addressing.
function open(flavour: SmpFlavour, name: string): string {
  return flavour === 'peppol'
    ? `<${name} xmlns="${NS.peppol}" xmlns:ids="${NS.peppolIds}" xmlns:wsa="${NS.wsa}">`
    : `<${name} xmlns="${NS.bdxr}">`;
}

function id(flavour: SmpFlavour, name: string, ident: SmpIdentifier): string {
  const tag = flavour === 'peppol' ? `ids:${name}` : name;
  return `<${tag} scheme="${escapeAttr(ident.scheme)}">${escapeText(ident.value)}</${tag}>`;
}

const el = (name: string, text: string) => `<${name}>${escapeText(text)}</${name}>`;

/**
 * The service metadata URL of a document type: `{base}/{participant}/services/{document}`, both identifiers
 * percent-encoded (OASIS BDXR SMP 1.0 REST binding; Peppol SMP 1.x REST binding).
 *
 * @example
 * serviceMetadataUrl('https://smp.example', participantId('0088:5790000121526'), documentId('urn:x'));
 */
export function serviceMetadataUrl(
  baseUrl: string,
  participant: SmpIdentifier,
  documentType: SmpIdentifier,
): string {
  return `${baseUrl.replace(/\/+$/, '')}/${participant.toUrlPath()}/services/${documentType.toUrlPath()}`;
}

/**
 * The ServiceGroup URL of a participant: `{base}/{participant}`.
 *
 * @example
 * serviceGroupUrl('https://smp.example/', participantId('0088:5790000121526'));
 * // 'https://smp.example/iso6523-actorid-upis%3A%3A0088%3A5790000121526'
 */
export function serviceGroupUrl(baseUrl: string, participant: SmpIdentifier): string {
  return `${baseUrl.replace(/\/+$/, '')}/${participant.toUrlPath()}`;
}

/**
 * Writes a ServiceGroup document (OASIS BDXR SMP 1.0 by default, or Peppol SMP 1.x).
 *
 * @example
 * const xml = buildServiceGroup(
 *   { participant: participantId('0088:5790000121526'), references: [{ documentType: documentId('urn:x') }] },
 *   { baseUrl: 'https://smp.example' },
 * );
 */
export function buildServiceGroup(
  group: ServiceGroupInput | ServiceGroup,
  options: BuildServiceGroupOptions = {},
): string {
  const flavour = group.flavour ?? 'oasis-bdxr-1';
  const refs = group.references.map((r) => {
    let href: string;
    if ('href' in r && r.href) href = r.href;
    else if ('documentType' in r && r.documentType) {
      if (!options.baseUrl)
        throw new EhmiError('EHMI_USAGE', 'buildServiceGroup: references by document type need baseUrl');
      href = serviceMetadataUrl(options.baseUrl, group.participant, r.documentType);
    } else
      throw new EhmiError('EHMI_USAGE', 'buildServiceGroup: a reference needs an href or a documentType');
    return `<ServiceMetadataReference href="${escapeAttr(href)}"/>`;
  });
  return (
    open(flavour, 'ServiceGroup') +
    id(flavour, 'ParticipantIdentifier', group.participant) +
    `<ServiceMetadataReferenceCollection>${refs.join('')}</ServiceMetadataReferenceCollection>` +
    '</ServiceGroup>'
  );
}

function endpointXml(flavour: SmpFlavour, e: Endpoint): string {
  const parts: string[] = [`<Endpoint transportProfile="${escapeAttr(e.transportProfile)}">`];
  parts.push(
    flavour === 'peppol'
      ? `<wsa:EndpointReference><wsa:Address>${escapeText(e.endpointUrl)}</wsa:Address></wsa:EndpointReference>`
      : el('EndpointURI', e.endpointUrl),
  );
  parts.push(el('RequireBusinessLevelSignature', String(e.requireBusinessLevelSignature)));
  if (e.minimumAuthenticationLevel)
    parts.push(el('MinimumAuthenticationLevel', e.minimumAuthenticationLevel));
  if (e.serviceActivationDate) parts.push(el('ServiceActivationDate', e.serviceActivationDate.toISOString()));
  if (e.serviceExpirationDate) parts.push(el('ServiceExpirationDate', e.serviceExpirationDate.toISOString()));
  parts.push(el('Certificate', e.certificate));
  parts.push(el('ServiceDescription', e.serviceDescription));
  parts.push(el('TechnicalContactUrl', e.technicalContactUrl));
  if (e.technicalInformationUrl) parts.push(el('TechnicalInformationUrl', e.technicalInformationUrl));
  parts.push('</Endpoint>');
  return parts.join('');
}

/** The ServiceMetadata element (without XML declaration), in the flavour's namespaces unless `declared`. */
export function serviceMetadataXml(md: ServiceMetadata, declared = false): string {
  const flavour = md.flavour;
  const head = declared ? '<ServiceMetadata>' : open(flavour, 'ServiceMetadata');
  if (md.redirect) {
    return (
      head +
      `<Redirect href="${escapeAttr(md.redirect.href)}">${el('CertificateUID', md.redirect.certificateUid)}</Redirect>` +
      '</ServiceMetadata>'
    );
  }
  const info = md.serviceInformation;
  if (!info) throw new EhmiError('EHMI_USAGE', 'a ServiceMetadata needs serviceInformation or redirect');
  if (info.processes.length === 0 || info.processes.some((p) => p.endpoints.length === 0)) {
    // OASIS BDXR SMP 1.0 XSD: ProcessList has 1..n Process, ServiceEndpointList 1..n Endpoint.
    throw new EhmiError(
      'EHMI_USAGE',
      'a ServiceInformation needs at least one process, each with an endpoint',
    );
  }
  const processes = info.processes.map(
    (p) =>
      `<Process>${id(flavour, 'ProcessIdentifier', p.processId)}<ServiceEndpointList>${p.endpoints
        .map((e) => endpointXml(flavour, e))
        .join('')}</ServiceEndpointList></Process>`,
  );
  return (
    head +
    '<ServiceInformation>' +
    id(flavour, 'ParticipantIdentifier', info.participant) +
    id(flavour, 'DocumentIdentifier', info.documentType) +
    `<ProcessList>${processes.join('')}</ProcessList>` +
    '</ServiceInformation></ServiceMetadata>'
  );
}

/**
 * Writes an unsigned ServiceMetadata document (what an SMP's owner PUTs; what is served is signed:
 * {@link buildSignedServiceMetadata}).
 *
 * @example
 * const xml = buildServiceMetadata({ flavour: 'oasis-bdxr-1', serviceInformation: { participant, documentType, processes } });
 */
export function buildServiceMetadata(md: ServiceMetadata): string {
  return serviceMetadataXml(md);
}

/** The unsigned SignedServiceMetadata document: ServiceMetadata in its root, the signature still to be appended. */
export function unsignedSignedServiceMetadataXml(md: ServiceMetadata): string {
  return `${open(md.flavour, 'SignedServiceMetadata')}${serviceMetadataXml(md, true)}</SignedServiceMetadata>`;
}
