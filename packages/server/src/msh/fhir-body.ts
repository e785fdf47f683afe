import { EHMI_ERROR_CODE_SYSTEM, EhmiError, type OperationOutcome } from '@ehmi/errors';
import { buildHomeCareObservationMessage, parseFhirJson, shippedValidator, xmlToJson } from '@ehmi/fhir';

export type FhirFormat = 'json' | 'xml';

/** Media types of FHIR messages the EUA API takes (FHIR R4 http.html §3.1.0.4; plain JSON/XML accepted too). */
export function fhirFormatOf(contentType: string | undefined): FhirFormat | undefined {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/fhir+json' || type === 'application/json') return 'json';
  if (type === 'application/fhir+xml' || type === 'application/xml' || type === 'text/xml') return 'xml';
  return undefined;
}

/** BinaryContent mimeType → format. */
export function formatOfMime(mimeType: string): FhirFormat | undefined {
  if (mimeType === 'application/fhir+json') return 'json';
  if (mimeType === 'application/fhir+xml') return 'xml';
  return undefined;
}

/** The text of FHIR bytes: UTF-8 unless the XML declaration says ISO-8859-1 (BinaryContent@encoding allows it). */
export function fhirText(bytes: Uint8Array, format: FhirFormat): string {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const latin1 =
    format === 'xml' &&
    /^\s*<\?xml[^>]*encoding\s*=\s*["'](iso-?8859-?1|latin-?1)["']/i.test(
      buf.subarray(0, 200).toString('latin1'),
    );
  const text = buf.toString(latin1 ? 'latin1' : 'utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * Read a FHIR resource from its bytes. Text that is not JSON or not XML is `EHMI_INPUT_UNREADABLE` (400); XML the
 * converter refuses keeps its code (malformed → 400, unknown FHIR elements → 422).
 */
export function readFhir(bytes: Uint8Array, format: FhirFormat): Record<string, unknown> {
  const text = fhirText(bytes, format);
  if (text.trim() === '') throw new EhmiError('EHMI_INPUT_UNREADABLE', 'the body is empty');
  return format === 'json' ? parseFhirJson(text) : xmlToJson(text);
}

/**
 * Profile validation of a submitted message with the shipped MedCom conformance resources (one validator for the
 * process, loaded on first use). Returns the OperationOutcome when there are errors.
 */
export function profileErrors(resource: unknown): OperationOutcome | undefined {
  const issues = shippedValidator().issues(resource);
  const errors = issues.filter((i) => i.severity === 'error');
  if (errors.length === 0) return undefined;
  return {
    resourceType: 'OperationOutcome',
    issue: [
      {
        severity: 'error',
        code: 'invalid',
        details: {
          coding: [{ system: EHMI_ERROR_CODE_SYSTEM, code: 'EHMI_VALIDATION_FAILED' }],
          text: `the message fails its profile: ${errors[0]!.message} (${errors.length} error(s))`,
        },
      },
      ...issues.map((i) => ({
        severity: i.severity,
        // FHIR issue-type has no `code-invalid`: it is a `code` finding of the value set kind.
        code: (i.code === 'code-invalid' ? 'value' : i.code) as 'value',
        details: { text: i.message },
        expression: [i.expression],
      })),
    ],
  };
}

/**
 * Loads the shipped conformance resources and prepares the MedCom profiles' rules now, by validating a prøvesvar
 * built from MedCom's example values (its findings are dropped): otherwise the first submission after a start pays
 * for it (0.4–0.7 s on the bench's machine), and the submissions behind it wait on the event loop.
 */
export function warmUpProfileValidation(): void {
  shippedValidator().issues(
    buildHomeCareObservationMessage(
      {
        sender: { sor: '1144561000016002', gln: '5790000123117', name: 'Pleje og Rehabilitering' },
        receiver: {
          sor: '52581000016005',
          gln: '5790000127092',
          ydernummer: '061654',
          requesterInitials: 'OKM',
        },
        patient: { cpr: '2509479989', family: 'Elmer', given: ['Bruno'] },
        practitioner: { given: ['Mia'], family: 'Nielsen', phone: '+45 05577668' },
        observations: [
          {
            code: 'NPU19748',
            display: 'P—C-reaktivt protein; massek. = ? mg/L',
            value: { quantity: 26, unit: 'mg/L', ucum: 'mg/L' },
            effective: '2026-11-25T10:24:08+01:00',
          },
        ],
        conclusion: 'Prøvesvar.',
      },
      { now: () => new Date('2026-11-25T10:40:00+01:00') },
    ),
  );
}

/** Thrown by a submission that fails its profile: answered 422 with the validator's whole OperationOutcome. */
export class ProfileValidationError extends EhmiError {
  readonly outcome: OperationOutcome;
  constructor(outcome: OperationOutcome) {
    super('EHMI_VALIDATION_FAILED', outcome.issue[0]?.details?.text ?? 'the message fails its profile');
    this.outcome = outcome;
  }
}
