import { asEhmiError, type EhmiErrorCode } from '@ehmi/errors';
import type { AcknowledgementCode, AcknowledgementIssue } from './acknowledgement.ts';

// HL7 operation-outcome codes (in ValueSet medcom-acknowledgement-issue-details) for the errors that have one.
const DETAILS: Partial<Record<EhmiErrorCode, string>> = {
  EHMI_XML_MALFORMED: 'MSG_BAD_SYNTAX',
  EHMI_INPUT_UNREADABLE: 'MSG_BAD_FORMAT',
  EHMI_DUPLICATE: 'MSG_DUPLICATE_ID',
};

/**
 * The acknowledgement code and issue for an error met while receiving a message, by the HL7 definitions MedCom
 * points to (medcom-fhir.md §2, acknowledgementHeader intro): a problem with the content is `fatal-error` ("no
 * point in re-sending without change"); a problem on the receiver's side (`transient` errors, internal errors)
 * is `transient-error` ("wait and try again"). An internal error's message is not disclosed.
 *
 * @example
 * const ack = buildAcknowledgement(received, acknowledgementFor(err));
 */
export function acknowledgementFor(error: unknown): {
  code: AcknowledgementCode;
  issues: AcknowledgementIssue[];
} {
  const e = asEhmiError(error);
  const internal = e.code === 'EHMI_INTERNAL';
  const issue: AcknowledgementIssue = {
    severity: internal ? 'fatal' : 'error',
    code: e.definition.issue,
    text: internal ? 'Internal error' : e.message,
  };
  const details = DETAILS[e.code];
  if (details) issue.details = details;
  if (e.expression.length > 0) issue.expression = [...e.expression];
  return { code: internal || e.transient ? 'transient-error' : 'fatal-error', issues: [issue] };
}
