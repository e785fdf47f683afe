// WS-Security 1.1.1 for AS4 (eDelivery AS4 1.15 and 2.0): sign, verify, encrypt, decrypt, timestamp.
export { ALG, type AlgorithmPolicy, PROFILES, type SecurityProfile } from './algorithms.ts';
export { canonicalMimeHeaders } from './attachment-digest.ts';
export {
  type CertificateInput,
  decodePkiPath,
  encodePkiPath,
  subjectKeyIdentifier,
  toCertificate,
} from './certificates.ts';
export {
  type DecryptionKey,
  type DecryptOptions,
  type DecryptResult,
  decryptAttachments,
} from './decrypt.ts';
export {
  type EncryptOptions,
  type EncryptResult,
  type EncryptTextResult,
  encryptAttachments,
  encryptAttachmentsText,
} from './encrypt.ts';
export type { ReferenceTransform, SignatureReference } from './references.ts';
export { type SignOptions, type SignResult, signEnvelope } from './sign.ts';
export { type SignTextResult, signEnvelopeText } from './sign-text.ts';
export {
  type AddTimestampOptions,
  addTimestamp,
  type CheckTimestampOptions,
  checkTimestamp,
  DEFAULT_SKEW_SECONDS,
  DEFAULT_TIMESTAMP_TTL_SECONDS,
} from './timestamp.ts';
export type { BstValueType, TokenReference } from './token.ts';
export {
  type ReferenceTarget,
  type VerifiedReference,
  type VerifyOptions,
  type VerifyResult,
  verifyAttachmentReferences,
  verifyEnvelope,
} from './verify.ts';
