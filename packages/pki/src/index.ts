export { type CertificateInput, oneLineName, toCertificate } from './certificate.ts';
export {
  type CaOptions,
  type CertificateAuthority,
  type Credential,
  createCertificateAuthority,
  type IssueOptions,
  issueCertificate,
  type KeyType,
  loadCredential,
  type Purpose,
} from './issue.ts';
export { checkCertificateTrust, type TrustOptions } from './trust.ts';
