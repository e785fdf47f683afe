export { TtlCache } from './client/cache.ts';
export {
  DEFAULT_TRANSPORT_PROFILES,
  type SmlOptions,
  SmpClient,
  type SmpClientOptions,
  type SmpFreshness,
  type SmpLookupResult,
} from './client/client.ts';
export { createResolver, type DnsOptions, type DnsResolver, type DnsServerOptions } from './client/dns.ts';
export {
  documentId,
  gs1CheckDigit,
  type IdentifierInput,
  type IdentifierKind,
  type IdentifierOptions,
  identifierFromUrlPath,
  MEDCOM_SCHEME,
  PARTICIPANT_SCHEME,
  PEPPOL_DOCUMENT_SCHEME,
  PEPPOL_PROCESS_SCHEME,
  participantId,
  processId,
  SmpIdentifier,
} from './identifiers/identifier.ts';
export {
  type MedcomDocumentForm,
  type MedcomDocumentType,
  medcomDocumentId,
  medcomDocumentType,
  sameDocumentType,
  sameProcess,
} from './identifiers/medcom.ts';
export { NS, type SmpFlavour } from './lib/ns.ts';
export {
  type BuildServiceGroupOptions,
  buildServiceGroup,
  buildServiceMetadata,
  type ServiceGroupInput,
  serviceGroupUrl,
  serviceMetadataUrl,
} from './model/build.ts';
export {
  documentTypeOfHref,
  MAX_SMP_RESPONSE_BYTES,
  parseServiceGroup,
  parseServiceMetadata,
  parseSignedServiceMetadata,
} from './model/parse.ts';
export type {
  Endpoint,
  Process,
  Redirect,
  ServiceGroup,
  ServiceInformation,
  ServiceMetadata,
  ServiceMetadataReference,
} from './model/types.ts';
export { type BdxlNameOptions, base32, bdxlHostname } from './naming/bdxl.ts';
export { applyNaptrRegexp, type NaptrRecord, SMP_NAPTR_SERVICE, smpUrlFromNaptr } from './naming/naptr.ts';
export { normalizeZone, smlHostname } from './naming/sml.ts';
export { DSIG } from './signature/algorithms.ts';
export { buildSignedServiceMetadata, type SignOptions } from './signature/sign.ts';
export {
  type CertificateInput,
  checkCertificateTrust,
  type TrustOptions,
  toCertificate,
} from './signature/trust.ts';
export {
  type EnvelopedSignatureResult,
  type VerifiedServiceMetadata,
  type VerifySignedServiceMetadataOptions,
  verifyEnvelopedSignature,
  verifySignedServiceMetadata,
} from './signature/verify.ts';
