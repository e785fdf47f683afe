export {
  type EhmiErrorCode,
  ERROR_CODES,
  type ErrorDefinition,
  EXIT,
  type ExitCode,
  type FhirIssueType,
  isEhmiErrorCode,
} from './codes.ts';
export {
  EBMS_ERRORS,
  type EbmsCategory,
  type EbmsErrorCode,
  type EbmsErrorInfo,
  type EbmsSeverity,
  isEbmsErrorCode,
} from './ebms.ts';
export {
  asEhmiError,
  type EbmsErrorSignal,
  EHMI_ERROR_CODE_SYSTEM,
  EhmiError,
  type EhmiErrorOptions,
  isEhmiError,
  type OperationOutcome,
  type OperationOutcomeIssue,
  toCliExit,
  toEbmsError,
  toHttpStatus,
  toOperationOutcome,
} from './error.ts';
