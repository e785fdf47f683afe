export { type CertificateInput, oneLineName, toCertificate } from './certificate.ts';
export {
  type IssueCrlOptions,
  type IssuedCrl,
  issueCrl,
  type ReadCrlOptions,
  type RevocationReason,
  type RevokedEntry,
  readCrl,
  type VerifiedCrl,
} from './crl.ts';
export {
  type CaOptions,
  type CertificateAuthority,
  type Credential,
  createCertificateAuthority,
  type IssueOptions,
  issueCertificate,
  type KeyType,
  loadCredential,
  type OrganisationSubject,
  type Purpose,
} from './issue.ts';
export {
  type CreateOcspResponseOptions,
  createOcspRequest,
  createOcspResponse,
  type OcspAnswer,
  type OcspCertStatus,
  type OcspRequest,
  type OcspRequestOptions,
  type OcspStatus,
  type ReadOcspOptions,
  readOcspResponse,
} from './ocsp.ts';
export { type CertificateRole, checkCertificatePurpose, type PurposeOptions } from './purpose.ts';
export {
  defaultRevocationFetch,
  REVOCATION_DEFAULTS,
  RevocationChecker,
  type RevocationCheckerOptions,
  type RevocationFetch,
  revocationUrls,
} from './revocation.ts';
export { checkCertificateTrust, type TrustOptions } from './trust.ts';
