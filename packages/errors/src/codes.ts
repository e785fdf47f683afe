import type { EbmsErrorCode } from './ebms.ts';

/** FHIR R4 `OperationOutcome.issue.code` values (http://hl7.org/fhir/R4/valueset-issue-type.html) that we use. */
export type FhirIssueType =
  | 'invalid'
  | 'structure'
  | 'required'
  | 'value'
  | 'invariant'
  | 'security'
  | 'login'
  | 'forbidden'
  | 'not-found'
  | 'conflict'
  | 'duplicate'
  | 'too-long'
  | 'too-costly'
  | 'not-supported'
  | 'processing'
  | 'exception'
  | 'timeout'
  | 'transient'
  | 'incomplete';

/**
 * Process exit codes of the `ehmi` CLI. 2 for usage errors follows the POSIX/getopt habit; the rest are ours.
 */
export const EXIT = {
  ok: 0,
  /** The command ran and found the input invalid, or the operation failed. */
  failed: 1,
  /** Bad arguments, or an input that cannot be read or recognised. */
  usage: 2,
  /** The configuration is invalid. */
  config: 3,
  /** A service the command needs (database, peer) is not reachable. */
  unavailable: 4,
  /** A bug: an error the program did not expect. */
  internal: 70,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export interface ErrorDefinition {
  /** HTTP status for REST/FHIR APIs. */
  readonly status: number;
  /** FHIR issue type for the OperationOutcome. */
  readonly issue: FhirIssueType;
  /** CLI exit code. */
  readonly exit: ExitCode;
  /** ebMS error code when the error crosses an AS4 boundary; EBMS:0004 (Other) when absent. */
  readonly ebms?: EbmsErrorCode;
  /** True when retrying the same request later may succeed. */
  readonly transient?: boolean;
}

function def(
  status: number,
  issue: FhirIssueType,
  exit: ExitCode,
  ebms?: EbmsErrorCode,
  transient = false,
): ErrorDefinition {
  return ebms ? { status, issue, exit, ebms, transient } : { status, issue, exit, transient };
}

/**
 * Every stable error code of the project, in one place (like fastify's `lib/errors.js`).
 * A code, once published, keeps its meaning; new conditions get new codes.
 */
export const ERROR_CODES = {
  // General
  EHMI_INTERNAL: def(500, 'exception', EXIT.internal, 'EBMS:0004'),
  EHMI_USAGE: def(400, 'invalid', EXIT.usage),
  EHMI_INPUT_UNREADABLE: def(400, 'structure', EXIT.usage),
  EHMI_NOT_FOUND: def(404, 'not-found', EXIT.failed),
  EHMI_CONFLICT: def(409, 'conflict', EXIT.failed),
  EHMI_DUPLICATE: def(409, 'duplicate', EXIT.failed),
  EHMI_UNSUPPORTED_MEDIA_TYPE: def(415, 'not-supported', EXIT.usage),
  EHMI_NOT_ACCEPTABLE: def(406, 'not-supported', EXIT.usage),
  EHMI_TOO_LARGE: def(413, 'too-long', EXIT.failed, 'EBMS:0004'),
  EHMI_VALIDATION_FAILED: def(422, 'invalid', EXIT.failed, 'EBMS:0004'),
  /** The register (SMP) does not serve the receiver for the document type and process: the MSH refuses it. */
  EHMI_RECEIVER_NOT_REGISTERED: def(422, 'not-found', EXIT.failed),
  EHMI_NOT_SUPPORTED: def(400, 'not-supported', EXIT.failed, 'EBMS:0008'),
  EHMI_UNAUTHORIZED: def(401, 'login', EXIT.failed, 'EBMS:0101'),
  EHMI_FORBIDDEN: def(403, 'forbidden', EXIT.failed, 'EBMS:0103'),
  EHMI_UNAVAILABLE: def(503, 'transient', EXIT.unavailable, 'EBMS:0004', true),
  EHMI_TIMEOUT: def(504, 'timeout', EXIT.unavailable, 'EBMS:0005', true),

  // Configuration
  EHMI_CONFIG_INVALID: def(500, 'exception', EXIT.config),

  // XML
  EHMI_XML_MALFORMED: def(400, 'structure', EXIT.failed, 'EBMS:0004'),
  EHMI_XML_DOCTYPE_FORBIDDEN: def(400, 'security', EXIT.failed, 'EBMS:0103'),
  EHMI_XML_SCHEMA_INVALID: def(422, 'structure', EXIT.failed, 'EBMS:0004'),

  // Certificates (packages/pki); protocols may throw their own codes instead (errorCode option)
  EHMI_CERTIFICATE_INVALID: def(400, 'security', EXIT.failed, 'EBMS:0101'),
  EHMI_CERTIFICATE_UNTRUSTED: def(403, 'security', EXIT.failed, 'EBMS:0101'),
  // Its issuer revoked it (a CRL or OCSP answer says so): apart from untrusted, so callers can tell the two apart
  EHMI_CERTIFICATE_REVOKED: def(403, 'security', EXIT.failed, 'EBMS:0101'),

  // Store and queue
  EHMI_STORE_UNAVAILABLE: def(503, 'transient', EXIT.unavailable, 'EBMS:0004', true),
  EHMI_BLOB_NOT_FOUND: def(404, 'not-found', EXIT.failed),
  EHMI_BLOB_CORRUPT: def(500, 'exception', EXIT.failed),
  EHMI_QUEUE_LEASE_LOST: def(409, 'conflict', EXIT.failed, undefined, true),
  // FHIR REST (R4 http.html §3.1.0.3: read of a deleted resource → 410; If-Match mismatch → 412)
  EHMI_GONE: def(410, 'not-found', EXIT.failed),
  EHMI_PRECONDITION_FAILED: def(412, 'conflict', EXIT.failed),

  // SMP and dynamic discovery (OASIS BDXR SMP 1.0, Peppol SMP 1.x, BDXL 1.0, Peppol SML)
  EHMI_SMP_IDENTIFIER_INVALID: def(400, 'value', EXIT.usage),
  EHMI_SMP_NOT_REGISTERED: def(404, 'not-found', EXIT.failed),
  EHMI_SMP_LOOKUP_FAILED: def(502, 'transient', EXIT.unavailable, 'EBMS:0005', true),
  EHMI_SMP_RESPONSE_INVALID: def(502, 'structure', EXIT.failed),
  EHMI_SMP_SIGNATURE_INVALID: def(502, 'security', EXIT.failed),
  EHMI_SMP_CERTIFICATE_UNTRUSTED: def(502, 'security', EXIT.failed),

  // AS4 (ebMS 3.0 Core §6.7, AS4 Profile §3.5): one code per ebMS error
  EHMI_AS4_VALUE_NOT_RECOGNIZED: def(400, 'value', EXIT.failed, 'EBMS:0001'),
  EHMI_AS4_FEATURE_NOT_SUPPORTED: def(400, 'not-supported', EXIT.failed, 'EBMS:0002'),
  EHMI_AS4_VALUE_INCONSISTENT: def(400, 'value', EXIT.failed, 'EBMS:0003'),
  EHMI_AS4_OTHER: def(400, 'processing', EXIT.failed, 'EBMS:0004'),
  EHMI_AS4_CONNECTION_FAILURE: def(502, 'transient', EXIT.unavailable, 'EBMS:0005', true),
  EHMI_AS4_EMPTY_MPC: def(200, 'not-found', EXIT.failed, 'EBMS:0006'),
  EHMI_AS4_MIME_INCONSISTENCY: def(400, 'structure', EXIT.failed, 'EBMS:0007'),
  EHMI_AS4_UNPACKAGING_NOT_SUPPORTED: def(400, 'not-supported', EXIT.failed, 'EBMS:0008'),
  EHMI_AS4_INVALID_HEADER: def(400, 'structure', EXIT.failed, 'EBMS:0009'),
  EHMI_AS4_PMODE_MISMATCH: def(400, 'processing', EXIT.failed, 'EBMS:0010'),
  EHMI_AS4_EXTERNAL_PAYLOAD: def(400, 'not-supported', EXIT.failed, 'EBMS:0011'),
  EHMI_AS4_FAILED_AUTHENTICATION: def(400, 'security', EXIT.failed, 'EBMS:0101'),
  EHMI_AS4_FAILED_DECRYPTION: def(400, 'security', EXIT.failed, 'EBMS:0102'),
  EHMI_AS4_POLICY_NONCOMPLIANCE: def(400, 'security', EXIT.failed, 'EBMS:0103'),
  EHMI_AS4_DYSFUNCTIONAL_RELIABILITY: def(500, 'exception', EXIT.failed, 'EBMS:0201', true),
  EHMI_AS4_DELIVERY_FAILURE: def(500, 'transient', EXIT.failed, 'EBMS:0202', true),
  EHMI_AS4_MISSING_RECEIPT: def(504, 'timeout', EXIT.failed, 'EBMS:0301'),
  EHMI_AS4_INVALID_RECEIPT: def(502, 'invalid', EXIT.failed, 'EBMS:0302'),
  EHMI_AS4_DECOMPRESSION_FAILURE: def(400, 'invalid', EXIT.failed, 'EBMS:0303'),
} as const satisfies Record<string, ErrorDefinition>;

export type EhmiErrorCode = keyof typeof ERROR_CODES;

export function isEhmiErrorCode(value: string): value is EhmiErrorCode {
  return Object.hasOwn(ERROR_CODES, value);
}
