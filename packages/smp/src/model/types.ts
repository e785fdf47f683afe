import type { SmpIdentifier } from '../identifiers/identifier.ts';
import type { SmpFlavour } from '../lib/ns.ts';

export type { SmpFlavour } from '../lib/ns.ts';

/**
 * A ServiceGroup (OASIS BDXR SMP 1.0 XSD `ServiceGroupType`; Peppol SMP 1.x): the participant and links to its
 * ServiceMetadata, one per document type.
 */
export interface ServiceGroup {
  flavour: SmpFlavour;
  participant: SmpIdentifier;
  references: ServiceMetadataReference[];
}

export interface ServiceMetadataReference {
  /** As published: an absolute URL `…/{participant}/services/{document}`, usually percent-encoded. */
  href: string;
  /** The document type named by the href's last segment, when it can be read. */
  documentType?: SmpIdentifier;
}

/** ServiceMetadata (OASIS BDXR SMP 1.0 XSD `ServiceMetadataType`): either the service information or a redirect to another SMP. */
export interface ServiceMetadata {
  flavour: SmpFlavour;
  serviceInformation?: ServiceInformation;
  redirect?: Redirect;
}

export interface ServiceInformation {
  participant: SmpIdentifier;
  documentType: SmpIdentifier;
  processes: Process[];
}

export interface Process {
  processId: SmpIdentifier;
  endpoints: Endpoint[];
}

/** One endpoint (OASIS BDXR SMP 1.0 XSD `EndpointType`; Peppol SMP 1.x uses `wsa:EndpointReference`). */
export interface Endpoint {
  /** `bdxr-transport-ebms3-as4-v1p0` (eDelivery AS4), `peppol-transport-as4-v2_0`, … */
  transportProfile: string;
  /** EndpointURI (OASIS) or wsa:EndpointReference/wsa:Address (Peppol). */
  endpointUrl: string;
  requireBusinessLevelSignature: boolean;
  minimumAuthenticationLevel?: string;
  serviceActivationDate?: Date;
  serviceExpirationDate?: Date;
  /** The access point's certificate, base64 DER as published (whitespace removed). */
  certificate: string;
  serviceDescription: string;
  technicalContactUrl: string;
  technicalInformationUrl?: string;
}

/** A Redirect (OASIS BDXR SMP 1.0 XSD `RedirectType`): ask `href`, whose signer has CertificateUID `certificateUid`. */
export interface Redirect {
  href: string;
  certificateUid: string;
}
