export * from './constants.ts';
export { fhirDocumentId, RECEIPT_DOCUMENT_ID } from './document-id.ts';
export type { EnvelopeMetadata, EnvelopeStamp, OriginalReference } from './build/envelope.ts';
export { serializeEnvelope } from './build/serialize.ts';
export { type MedComMessageFacts, type PatientId, readMessageFacts } from './fhir/message.ts';
export type { MessageSource } from './fhir/input.ts';
export {
  type BinaryContent,
  type BusinessService,
  type CorrelationInformation,
  type DocumentIdentification,
  type EhmiEnvelope,
  type EnvelopeIssue,
  findScope,
  type PartyIdentifier,
  type Scope,
  scopeValue,
} from './model.ts';
export { wrap, type WrapOptions, type WrapResult, wrapMessage } from './wrap.ts';
export { type LoadedEnvelope, loadEnvelope, type ParsedEnvelope, parse, payloadOf } from './parse.ts';
export { type EnvelopeKind, isGln, kindOf } from './validate/rules.ts';
export { type ValidateInput, type ValidationResult, validate, validateMany } from './validate/validate.ts';
export { readSignal, RECEIPT_EXCEPTION_CATEGORIES, type ReceiptExceptionCategory, type Signal, signalXml } from './receipt/signal.ts';
export { type ReceiptOptions, type ReceiptOutcome, receiptEnvelope, receiptFor } from './receipt/receipt-for.ts';
export { type Correlation, correlateReceipt, type ParsedReceipt, parseReceipt, type ReceiptReference } from './receipt/parse-receipt.ts';
export { PAYLOAD_MIME_TYPES, type PayloadKind, type PayloadMetadata, payloadEnvelope, wrapPayload } from './wrap-payload.ts';
export { type DocumentReferenceOptions, documentReferenceFor } from './archive/document-reference.ts';
export { type ArchiveOptions, wrapForArchive, wrapMessageForArchive } from './archive/wrap-for-archive.ts';
