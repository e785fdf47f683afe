// @ehmi/as4 — ebMS 3.0 / AS4 message layer (eDelivery AS4 1.15 default, 2.0 optional). No server, no I/O policy.

// Limits
export { ByteBudget, type ByteLease, type ReceiveBudgets } from './budget.ts';
// Checking saved messages (what `ehmi as4 verify|decrypt|inspect` is built on)
export {
  type As4CheckResult,
  type CheckAs4Options,
  type CheckedReference,
  type CheckedSigner,
  checkAs4Message,
} from './check/check.ts';
export {
  type DecryptAs4Options,
  type DecryptedAs4Message,
  type DecryptedPart,
  decryptAs4Message,
} from './check/decrypt.ts';
export { type As4File, splitAs4File } from './check/file.ts';
export {
  type As4MessageSummary,
  type As4PartSummary,
  type As4SecuritySummary,
  inspectAs4Message,
  type KeyReferenceKind,
} from './check/inspect.ts';
export {
  type As4MessageKind,
  type OpenAs4Options,
  type OpenedAs4Message,
  openAs4Message,
} from './check/open.ts';
// Compression (AS4 Profile §3.1)
export {
  checkCompressionProperties,
  compressAttachment,
  type DecompressOptions,
  decompressAttachment,
  GZIP,
  partCharacterSet,
  payloadPartProperties,
} from './compression/gzip.ts';
export { errorXml, newMessageId, signalMessageXml, userMessageXml } from './ebms/build.ts';
export {
  parseDsReference,
  parseMessaging,
  parseReceipt,
  parseSignalMessage,
  parseUserMessage,
} from './ebms/parse.ts';
export { EBMS_URI } from './lib/ns.ts';
export { type As4Limits, DEFAULT_AS4_LIMITS, resolveLimits } from './limits.ts';
// Composition points for the access point
export { type BuiltUserMessage, buildUserMessage, type UserMessageInput } from './message/build.ts';
export { type ParseAs4MessageOptions, type ParsedAs4Message, parseAs4Message } from './message/parse.ts';
// MIME (SOAP with Attachments, streaming)
export { formatMediaType, type MediaType, parseMediaType } from './mime/content-type.ts';
export { type MimeMessage, type ReadMimeOptions, readMimeMessage } from './mime/parse.ts';
export {
  type AttachmentSink,
  memorySink,
  type PartDescriptor,
  type SinkTarget,
  tempFileSink,
} from './mime/sink.ts';
export { type WrittenMessage, writeAs4Message } from './mime/write.ts';
// Model (ebMS3 Core §5.2)
export type { As4Attachment } from './model/attachment.ts';
export type { Messaging } from './model/messaging.ts';
export type {
  EbmsErrorElement,
  MessagePartReference,
  PullRequest,
  Receipt,
  SignalMessage,
} from './model/signal-message.ts';
export {
  type AgreementRef,
  type CollaborationInfo,
  contentIdOfHref,
  finalRecipient,
  type MessageInfo,
  originalSender,
  type PartInfo,
  type Party,
  type PartyId,
  type PartyInfo,
  type Property,
  propertyValue,
  type Service,
  type UserMessage,
} from './model/user-message.ts';
export { findPMode } from './pmode/match.ts';
// P-Modes
export type { As4ProfileId, PMode, PModeInput, PModeLeg, PModeParty, PModeSecurity } from './pmode/pmode.ts';
export {
  ALGORITHMS,
  createPMode,
  DEFAULT_PROFILE,
  EDELIVERY_AS4_20_NIST_SECURITY,
  EDELIVERY_AS4_20_SECURITY,
  EDELIVERY_AS4_115_SECURITY,
  securityProfileOf,
} from './pmode/profiles.ts';
export {
  type BuildReceiptOptions,
  type BuiltReceipt,
  buildReceipt,
  type ReceivedReference,
  signedInfoReferences,
} from './receipt/build.ts';
export { checkReceiptNri } from './receipt/check.ts';
export { type SignedReceipt, signReceipt } from './receipt/sign.ts';
export { type VerifyReceiptResult, verifyReceipt } from './receipt/verify.ts';
// Receive pipeline steps
export { checkPayloadReferences } from './receive/check-payloads.ts';
export { checkPMode } from './receive/check-pmode.ts';
export { decompressStep } from './receive/decompress.ts';
export {
  type ReceivedSignals,
  type ReceivedUserMessage,
  type ReceiveOptions,
  receiveAs4Message,
} from './receive/pipeline.ts';
export {
  checkSignedCoverage,
  type DecryptAttachments,
  decryptStep,
  isEncrypted,
  verifySignatureStep,
} from './receive/security.ts';
// Signals: errors (ebMS3 Core §6) and receipts (AS4 Profile §5.1.8)
export {
  type BuildErrorSignalOptions,
  type BuiltErrorSignal,
  buildErrorSignal,
  ebmsErrorElement,
} from './signals/error.ts';
// SOAP envelope and ebMS header
export { type BuiltEnvelope, buildEnvelope, envelopeXml } from './soap/build.ts';
export {
  type As4Envelope,
  checkEnvelope,
  collectIds,
  type ParseEnvelopeOptions,
  parseEnvelope,
} from './soap/envelope.ts';
// WS-Security 1.1.1: sign, verify, encrypt, decrypt, timestamp (eDelivery AS4 1.15 §2.2.6; 2.0)
export {
  type AddTimestampOptions,
  ALG,
  type AlgorithmPolicy,
  addTimestamp,
  type BstValueType,
  type CertificateInput,
  type CheckTimestampOptions,
  checkTimestamp,
  DEFAULT_SKEW_SECONDS,
  type DecryptionKey,
  type DecryptOptions,
  type DecryptResult,
  decryptAttachments,
  type EncryptOptions,
  type EncryptResult,
  type EncryptTextResult,
  encryptAttachments,
  encryptAttachmentsText,
  PROFILES,
  type ReferenceTarget,
  type ReferenceTransform,
  type SecurityProfile,
  type SignatureReference,
  type SignOptions,
  type SignResult,
  type SignTextResult,
  signEnvelope,
  signEnvelopeText,
  type TokenReference,
  type VerifiedReference,
  type VerifyOptions,
  type VerifyResult,
  verifyAttachmentReferences,
  verifyEnvelope,
} from './wss/index.ts';
