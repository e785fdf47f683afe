export {
  type DocumentReferenceOptions,
  documentReferenceFor,
  HCO_DOCUMENT_REFERENCE_PROFILE,
  XDS_EXTENSION,
} from './archive/document-reference.ts';
export { type ArchiveOptions, wrapForArchive, wrapMessageForArchive } from './archive/wrap-for-archive.ts';
export type { EnvelopeMetadata, EnvelopeStamp, OriginalReference } from './build/envelope.ts';
export { serializeEnvelope } from './build/serialize.ts';
export * from './constants.ts';
export {
  checkDocumentId,
  type DocumentIdCheck,
  fhirDocumentId,
  parseFhirDocumentId,
  RECEIPT_DOCUMENT_ID,
} from './document-id.ts';
export {
  buildDeliveryStatus,
  type DeliveryStatusInput,
  type DeliveryStatusView,
  EDS,
  EDS_TRANSPORT_ENVELOPE_VERSION,
  type EdsMessageFacts,
  type EdsParty,
  type EdsStation,
  edsFactsOf,
  edsFlowOf,
  readDeliveryStatus,
} from './eds/delivery-status.ts';
export {
  buildJourney,
  collectJourneyEvents,
  DEFAULT_JOURNEY_THRESHOLDS,
  type EdsSearch,
  type Journey,
  type JourneyEvent,
  type JourneyGap,
  type JourneyOptions,
  type JourneyStatus,
  type JourneyThresholds,
} from './eds/journey.ts';
export {
  EDS_STEPS,
  type EdsFlow,
  type EdsSide,
  type EdsStationKind,
  type EdsStep,
  type EdsSubtype,
  edsStep,
  edsStepFor,
  edsStepMeaning,
} from './eds/steps.ts';
export type { MessageSource } from './fhir/input.ts';
export { type MedComMessageFacts, type PatientId, readMessageFacts } from './fhir/message.ts';
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
export {
  type DomLoadedEnvelope,
  type LoadedEnvelope,
  loadEnvelope,
  loadPlainEnvelope,
  type ParsedEnvelope,
  type PlainLoadedEnvelope,
  parse,
  parsedEnvelope,
  payloadOf,
} from './parse.ts';
export {
  type Correlation,
  correlateReceipt,
  type ParsedReceipt,
  parseReceipt,
  type ReceiptKeys,
  type ReceiptReference,
  readReceipt,
  receiptKeysOf,
} from './receipt/parse-receipt.ts';
export {
  type ReceiptOptions,
  type ReceiptOutcome,
  receiptEnvelope,
  receiptFor,
} from './receipt/receipt-for.ts';
export {
  RECEIPT_EXCEPTION_CATEGORIES,
  type ReceiptExceptionCategory,
  readSignal,
  type Signal,
  signalXml,
} from './receipt/signal.ts';
export { validateBuilt } from './validate/built.ts';
export { type EnvelopeKind, isGln, kindOf } from './validate/rules.ts';
export { type ValidateInput, type ValidationResult, validate, validateMany } from './validate/validate.ts';
export { type WrapOptions, type WrapResult, wrap, wrapMessage } from './wrap.ts';
export {
  PAYLOAD_MIME_TYPES,
  type PayloadKind,
  type PayloadMetadata,
  payloadEnvelope,
  wrapPayload,
} from './wrap-payload.ts';
