export {
  type AcknowledgementCode,
  type AcknowledgementIssue,
  type AcknowledgementOptions,
  buildAcknowledgement,
  MEDCOM_ACK_ERROR_CODES,
} from './builders/acknowledgement.ts';
export type { BuildContext } from './builders/common.ts';
export { classifyReceivedMessage, type ReceivedMessageCase } from './builders/duplicates.ts';
export { acknowledgementFor } from './builders/from-error.ts';
export {
  buildHomeCareObservationMessage,
  type HomeCareObservationInput,
  type HomeCareObservationOptions,
  type MessagingOrganizationInput,
  type ObservationInput,
  type ObservationValueInput,
  type PatientInput,
  type PractitionerInput,
  type ProducerOrganizationInput,
  type RequesterOrganizationInput,
} from './builders/homecare-observation.ts';
export { PROFILE as MEDCOM_PROFILE, SYSTEM as MEDCOM_SYSTEM } from './builders/medcom.ts';
export { resendMessage } from './builders/resend.ts';
export { Conformance, compareVersions } from './conformance/conformance.ts';
export {
  addFromPath,
  EHMI_DIR,
  type LoadOptions,
  loadConformance,
  MEDCOM_DIR,
  R4_DIR,
  RESOURCES_DIR,
  shippedConformance,
} from './conformance/load.ts';
export { generateSnapshot } from './conformance/snapshot.ts';
export type { ElementDefinition, StructureDefinition } from './conformance/types.ts';
export { parseFhirJson, stringifyFhirJson } from './convert/json-text.ts';
export { jsonToXml } from './convert/json-to-xml.ts';
export { elementToJson, xmlToJson } from './convert/xml-to-json.ts';
export {
  type DocumentResult,
  detectFhir,
  type FhirFormat,
  validateFhirDocument,
} from './validator/document.ts';
export type { Issue } from './validator/issues.ts';
export { impliedMessageProfile } from './validator/message-profiles.ts';
export { checkPrimitive } from './validator/primitives.ts';
export {
  assertValid,
  createValidator,
  isValid,
  shippedValidator,
  type ValidateOptions,
  type Validator,
  validateResource,
} from './validator/validator.ts';
