import { EhmiError } from '@ehmi/errors';

/** What an identifier identifies (OASIS BDXR SMP 1.0 and Peppol SMP 1.x: three identifier types). */
export type IdentifierKind = 'participant' | 'document' | 'process';

/**
 * Participant scheme of EHMI and Peppol: ISO 6523 `ICD:value` (Peppol Policy for use of Identifiers 4.x POLICY 4).
 *
 * @example
 * participantId({ scheme: PARTICIPANT_SCHEME, value: '0088:5790000121526' });
 */
export const PARTICIPANT_SCHEME = 'iso6523-actorid-upis';
/**
 * Scheme we give MedCom document type identifiers when the caller names none: the `Identifier` that ehmiSBDH puts
 * beside the DOCUMENTID and PROCESSID scopes (the Peppol envelope carries the SMP scheme in that place).
 */
export const MEDCOM_SCHEME = 'dk-medcom-messaging';
/** Peppol document type scheme (Peppol Policy for use of Identifiers 4.x POLICY 16). */
export const PEPPOL_DOCUMENT_SCHEME = 'busdox-docid-qns';
/** Peppol process scheme (Peppol Policy for use of Identifiers 4.x POLICY 24). */
export const PEPPOL_PROCESS_SCHEME = 'cenbii-procid-ubl';

/** Longest values (Peppol Policy for use of Identifiers 4.x POLICY 1; schemes are short tokens). */
const MAX_VALUE_LENGTH: Record<IdentifierKind, number> = { participant: 130, document: 500, process: 200 };
const MAX_SCHEME_LENGTH = 100;
const SCHEME_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to refuse control characters
const CONTROL_RE = /[\u0000-\u001f\u007f]/;

/**
 * A `scheme::value` identifier of an SMP (participant, document type or process).
 *
 * Comparison follows Peppol Policy for use of Identifiers 4.x POLICY 2: participant values are case-insensitive,
 * document type and process values case-sensitive; schemes are compared case-insensitively (they are tokens).
 *
 * @example
 * const p = participantId('0088:5790000121526');
 * p.toString(); // 'iso6523-actorid-upis::0088:5790000121526'
 * p.toUrlPath(); // 'iso6523-actorid-upis%3A%3A0088%3A5790000121526'
 */
export class SmpIdentifier {
  readonly kind: IdentifierKind;
  readonly scheme: string;
  readonly value: string;

  constructor(kind: IdentifierKind, scheme: string, value: string) {
    this.kind = kind;
    this.scheme = scheme;
    this.value = value;
  }

  /** `scheme::value`, the form used in SMP URLs before encoding (OASIS BDXR SMP 1.0 and Peppol SMP 1.x REST bindings). */
  toString(): string {
    return `${this.scheme}::${this.value}`;
  }

  toJSON(): string {
    return this.toString();
  }

  /**
   * The identifier as one URL path segment: `scheme::value` percent-encoded as a URI component, so `:` becomes
   * `%3A`, `#` becomes `%23` (a raw `#` would start the fragment) and `/` becomes `%2F` (Peppol SMP 1.x REST binding;
   * peppol-commons' `getURIEncoded`). Servers must also accept a raw `::` ({@link identifierFromUrlPath}).
   *
   * @example
   * documentId('urn:x::a##urn:y::1.0', { scheme: 'busdox-docid-qns' }).toUrlPath();
   * // 'busdox-docid-qns%3A%3Aurn%3Ax%3A%3Aa%23%23urn%3Ay%3A%3A1.0'
   */
  toUrlPath(): string {
    return encodeURIComponent(this.toString());
  }

  /** Same kind, same scheme, same value (participant values compared case-insensitively: POLICY 2). */
  equals(other: SmpIdentifier): boolean {
    if (other.kind !== this.kind || other.scheme.toLowerCase() !== this.scheme.toLowerCase()) return false;
    return this.kind === 'participant'
      ? other.value.toLowerCase() === this.value.toLowerCase()
      : other.value === this.value;
  }

  /** A string key for maps and caches; equal identifiers have equal keys. */
  key(): string {
    const scheme = this.scheme.toLowerCase();
    return `${this.kind}:${scheme}::${this.kind === 'participant' ? this.value.toLowerCase() : this.value}`;
  }
}

export interface IdentifierOptions {
  /** Scheme for an input without `scheme::`. Defaults: `iso6523-actorid-upis` / `dk-medcom-messaging`. */
  scheme?: string;
  /**
   * Skip the checks specific to an ICD (the GS1 check digit of a `0088` GLN). Default false: a GLN with a wrong
   * check digit is a typo, and would otherwise surface as "not registered".
   */
  lenient?: boolean;
}

export type IdentifierInput = string | SmpIdentifier | { scheme: string; value: string };

function invalid(kind: IdentifierKind, input: string, reason: string): EhmiError {
  return new EhmiError('EHMI_SMP_IDENTIFIER_INVALID', `malformed ${kind} identifier "${input}": ${reason}`, {
    details: { kind, identifier: input, reason },
  });
}

/**
 * Splits `scheme::value`. A prefix before the first `::` counts as a scheme only when it is a token (letters,
 * digits, `.`, `_`, `+`, `-`): MedCom document identifiers contain `::` themselves
 * (`urn:dk:…:structuredefinition::homecareobservation-message##…`), and their prefix has colons.
 */
function split(input: string): { scheme?: string; value: string } {
  const i = input.indexOf('::');
  if (i > 0) {
    const scheme = input.slice(0, i);
    if (SCHEME_RE.test(scheme)) return { scheme, value: input.slice(i + 2) };
  }
  return { value: input };
}

function make(kind: IdentifierKind, input: IdentifierInput, options: IdentifierOptions): SmpIdentifier {
  if (input instanceof SmpIdentifier) {
    if (input.kind !== kind) throw invalid(kind, input.toString(), `it is a ${input.kind} identifier`);
    return input;
  }
  let scheme: string | undefined;
  let value: string;
  let shown: string;
  if (typeof input === 'string') {
    shown = input;
    const parts = split(input.trim());
    scheme = parts.scheme;
    value = parts.value;
  } else if (input && typeof input === 'object' && typeof input.value === 'string') {
    shown = `${input.scheme}::${input.value}`;
    scheme = input.scheme;
    value = input.value.trim();
  } else {
    throw invalid(kind, String(input), 'not a string');
  }
  scheme ??= options.scheme ?? (kind === 'participant' ? PARTICIPANT_SCHEME : MEDCOM_SCHEME);
  if (!SCHEME_RE.test(scheme) || scheme.length > MAX_SCHEME_LENGTH) {
    throw invalid(kind, shown, `"${scheme}" is not a valid scheme`);
  }
  if (value === '') throw invalid(kind, shown, 'the value is empty');
  if (CONTROL_RE.test(value)) throw invalid(kind, shown, 'the value contains control characters');
  if (value.length > MAX_VALUE_LENGTH[kind]) {
    throw invalid(kind, shown, `the value is longer than ${MAX_VALUE_LENGTH[kind]} characters`);
  }
  if (kind === 'participant' && scheme.toLowerCase() === PARTICIPANT_SCHEME) {
    checkIso6523(value, shown, options.lenient === true);
  }
  return new SmpIdentifier(kind, scheme, value);
}

/** ISO 6523 participant values are `ICD:identifier` with a four-digit ICD (Peppol Policy 4.x POLICY 4/5). */
function checkIso6523(value: string, shown: string, lenient: boolean): void {
  const m = /^(\d{4}):(\S+)$/.exec(value);
  if (!m) throw invalid('participant', shown, 'an iso6523-actorid-upis value is <4-digit ICD>:<identifier>');
  if (lenient) return;
  // ICD 0088 is the GS1 Global Location Number: 13 digits, the last a GS1 mod-10 check digit.
  if (m[1] === '0088') {
    const gln = m[2]!;
    if (!/^\d{13}$/.test(gln)) throw invalid('participant', shown, 'a 0088 GLN has 13 digits');
    if (gs1CheckDigit(gln.slice(0, 12)) !== Number(gln[12])) {
      throw invalid('participant', shown, 'the GLN check digit is wrong');
    }
  }
}

/**
 * GS1 General Specifications §7.9: weights 3 and 1 alternating from the right, check = (10 − sum mod 10) mod 10.
 *
 * @example
 * gs1CheckDigit('579000012152'); // 6 (GLN 5790000121526)
 */
export function gs1CheckDigit(digits: string): number {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    const d = Number(digits[digits.length - 1 - i]);
    sum += i % 2 === 0 ? d * 3 : d;
  }
  return (10 - (sum % 10)) % 10;
}

/**
 * A participant identifier. Without a scheme, `iso6523-actorid-upis`; EHMI parties are `0088:<GLN>`.
 *
 * @example
 * participantId('0088:5790000121526');
 * participantId('iso6523-actorid-upis::0088:5790000121526');
 * participantId('9915:test', { lenient: true });
 */
export function participantId(input: IdentifierInput, options: IdentifierOptions = {}): SmpIdentifier {
  return make('participant', input, options);
}

/**
 * A document type identifier. Without a scheme, `dk-medcom-messaging`. Every MedCom spelling is accepted as it is
 * (see {@link medcomDocumentType} for telling the variants apart).
 *
 * @example
 * documentId('urn:dk:healthcare:medcom:messaging:fhir:structuredefinition::homecareobservation-message##urn:dk:medcom:fhir:homecareobservation-message::1.2');
 * documentId('busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##urn:cen.eu:en16931:2017::2.1');
 */
export function documentId(input: IdentifierInput, options: IdentifierOptions = {}): SmpIdentifier {
  return make('document', input, options);
}

/**
 * A process identifier. Without a scheme, `dk-medcom-messaging`.
 *
 * @example
 * processId('urn:ehmi:sdn-emergence');
 */
export function processId(input: IdentifierInput, options: IdentifierOptions = {}): SmpIdentifier {
  return make('process', input, options);
}

/**
 * Reads an identifier from one SMP URL path segment (the `{participant}` or `{document}` of
 * `/{participant}/services/{document}`), percent-encoded or with a raw `::` (OASIS BDXR SMP 1.0 REST binding; phoss-smp
 * serves both). The scheme is required here.
 *
 * @example
 * identifierFromUrlPath('participant', 'iso6523-actorid-upis%3A%3A0088%3A5790000121526');
 * identifierFromUrlPath('participant', 'iso6523-actorid-upis::0088:5790000121526');
 */
export function identifierFromUrlPath(
  kind: IdentifierKind,
  segment: string,
  options: Pick<IdentifierOptions, 'lenient'> = {},
): SmpIdentifier {
  let decoded: string;
  try {
    decoded = decodeURIComponent(segment);
  } catch {
    throw invalid(kind, segment, 'the percent-encoding is broken');
  }
  const parts = split(decoded);
  if (parts.scheme === undefined) throw invalid(kind, decoded, 'a URL identifier is scheme::value');
  return make(kind, { scheme: parts.scheme, value: parts.value }, options);
}
