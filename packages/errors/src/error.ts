import { type EhmiErrorCode, ERROR_CODES, type ErrorDefinition, EXIT, type FhirIssueType } from './codes.ts';
import { EBMS_ERRORS, type EbmsErrorCode, type EbmsErrorInfo } from './ebms.ts';

export interface EhmiErrorOptions {
  cause?: unknown;
  /** FHIRPath expressions (FHIR) or element paths (XML) locating the problem. */
  expression?: readonly string[];
  /** Structured facts for logs and callers (`key`, `expected`, `messageId`, …). Never secrets. */
  details?: Readonly<Record<string, unknown>>;
  /** Overrides the ebMS code of the definition, for a condition that maps more precisely. */
  ebms?: EbmsErrorCode;
}

/**
 * The one error type of the project. Callers branch on {@link EhmiError.code}, never on the message.
 *
 * @example
 * throw new EhmiError('EHMI_AS4_FAILED_AUTHENTICATION', 'Digest of cid:payload-1 does not match', {
 *   expression: ['ds:Reference[@URI="cid:payload-1"]'],
 * });
 */
export class EhmiError extends Error {
  override readonly name = 'EhmiError';
  readonly code: EhmiErrorCode;
  readonly expression: readonly string[];
  readonly details: Readonly<Record<string, unknown>>;
  readonly #ebms: EbmsErrorCode | undefined;

  constructor(code: EhmiErrorCode, message: string, options: EhmiErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.expression = options.expression ?? [];
    this.details = options.details ?? {};
    this.#ebms = options.ebms;
  }

  get definition(): ErrorDefinition {
    return ERROR_CODES[this.code];
  }

  /** HTTP status for REST and FHIR APIs. */
  get status(): number {
    return this.definition.status;
  }

  /** ebMS error code for AS4 (EBMS:0004 Other when the code names none). */
  get ebmsCode(): EbmsErrorCode {
    return this.#ebms ?? this.definition.ebms ?? 'EBMS:0004';
  }

  get exitCode(): number {
    return this.definition.exit;
  }

  get transient(): boolean {
    return this.definition.transient === true;
  }
}

export function isEhmiError(err: unknown): err is EhmiError {
  return err instanceof EhmiError;
}

/** Any thrown value as an EhmiError; unknown errors become EHMI_INTERNAL with the original as cause. */
export function asEhmiError(err: unknown): EhmiError {
  if (err instanceof EhmiError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new EhmiError('EHMI_INTERNAL', message, { cause: err });
}

export function toHttpStatus(err: unknown): number {
  return asEhmiError(err).status;
}

export interface OperationOutcomeIssue {
  severity: 'fatal' | 'error' | 'warning' | 'information';
  code: FhirIssueType | 'informational';
  details?: { coding?: { system: string; code: string }[]; text?: string };
  diagnostics?: string;
  expression?: string[];
}

export interface OperationOutcome {
  resourceType: 'OperationOutcome';
  issue: OperationOutcomeIssue[];
}

/** The system under which our error codes appear in `OperationOutcome.issue.details.coding`. */
export const EHMI_ERROR_CODE_SYSTEM = 'urn:ehmi:error-code';

/**
 * A FHIR R4 OperationOutcome for the error. Internal errors do not leak their message: the client sees the code
 * and a generic text; the message stays in the server log.
 */
export function toOperationOutcome(err: unknown): OperationOutcome {
  const e = asEhmiError(err);
  const issue: OperationOutcomeIssue = {
    severity: e.code === 'EHMI_INTERNAL' ? 'fatal' : 'error',
    code: e.definition.issue,
    details: {
      coding: [{ system: EHMI_ERROR_CODE_SYSTEM, code: e.code }],
      text: e.code === 'EHMI_INTERNAL' ? 'Internal error' : e.message,
    },
  };
  if (e.expression.length > 0) issue.expression = [...e.expression];
  return { resourceType: 'OperationOutcome', issue: [issue] };
}

/** The content of an ebMS `eb:Error` element (ebMS 3.0 Core §6.2). */
export interface EbmsErrorSignal extends EbmsErrorInfo {
  /** Free text for `eb:Description`. */
  description: string;
  /** `eb:ErrorDetail`: our stable code, so a peer on our stack can branch on it. */
  errorDetail: string;
  refToMessageInError?: string;
}

/** The ebMS error signal for the error, to be returned to an AS4 peer. */
export function toEbmsError(err: unknown, refToMessageInError?: string): EbmsErrorSignal {
  const e = asEhmiError(err);
  const signal: EbmsErrorSignal = {
    ...EBMS_ERRORS[e.ebmsCode],
    description: e.code === 'EHMI_INTERNAL' ? 'Internal error' : e.message,
    errorDetail: e.code,
  };
  if (refToMessageInError !== undefined) signal.refToMessageInError = refToMessageInError;
  return signal;
}

/** Exit code and a one-line message for the CLI. */
export function toCliExit(err: unknown): { exitCode: number; message: string } {
  const e = asEhmiError(err);
  const where = e.expression.length > 0 ? ` (at ${e.expression.join(', ')})` : '';
  const oneLine = `${e.message}${where}`.replace(/\s*\n\s*/g, ' ');
  return { exitCode: e.code === 'EHMI_INTERNAL' ? EXIT.internal : e.exitCode, message: `ehmi: ${oneLine}` };
}
