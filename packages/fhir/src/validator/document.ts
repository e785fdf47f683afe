import { asEhmiError } from '@ehmi/errors';
import type { Json } from '../conformance/types.ts';
import { xmlToJson } from '../convert/xml-to-json.ts';
import type { Issue } from './issues.ts';
import { shippedValidator, type ValidateOptions, type Validator } from './validator.ts';

export type FhirFormat = 'json' | 'xml';

function text(input: Uint8Array | string): string {
  const s = typeof input === 'string' ? input : Buffer.from(input).toString('utf8');
  return s.replace(/^\uFEFF/, '');
}

/**
 * Whether a document is FHIR, and in which format: JSON with a `resourceType`, or XML whose root element is in
 * the FHIR namespace `http://hl7.org/fhir` (R4 xml.html §2.6.1). Anything else (ehmiSBDH, other XML) is undefined.
 *
 * @example
 * detectFhir('{"resourceType":"Bundle"}'); // 'json'
 * detectFhir('<Bundle xmlns="http://hl7.org/fhir"/>'); // 'xml'
 */
export function detectFhir(input: Uint8Array | string): FhirFormat | undefined {
  const s = text(input).trimStart();
  if (s.startsWith('{')) {
    try {
      const j = JSON.parse(s) as unknown;
      return j && typeof j === 'object' && typeof (j as Json).resourceType === 'string' ? 'json' : undefined;
    } catch {
      return undefined;
    }
  }
  if (!s.startsWith('<')) return undefined;
  const body = s.replace(/<\?[\s\S]*?\?>/g, '').replace(/<!--[\s\S]*?-->/g, '');
  const root = /<([A-Za-z_][\w.-]*:)?[A-Za-z_][\w.-]*(\s[^>]*)?\/?>/.exec(body);
  if (!root) return undefined;
  const prefix = root[1] ? root[1].slice(0, -1) : '';
  const attrs = root[2] ?? '';
  const ns = new RegExp(`\\sxmlns${prefix ? `:${prefix}` : ''}\\s*=\\s*["']http://hl7\\.org/fhir["']`);
  return ns.test(attrs) ? 'xml' : undefined;
}

export interface DocumentResult {
  format: FhirFormat;
  /** The parsed resource, when it could be parsed. */
  resource?: Json;
  issues: Issue[];
  valid: boolean;
}

/**
 * Parses and validates a FHIR JSON or XML document (XML through {@link xmlToJson}). A document that does not
 * parse is invalid with one issue saying why.
 *
 * @example
 * const r = validateFhirDocument(await readFile('message.xml'), { profile: url });
 * if (!r.valid) for (const i of r.issues) console.error(i.expression, i.message);
 */
export function validateFhirDocument(
  input: Uint8Array | string,
  options: ValidateOptions & { validator?: Validator } = {},
): DocumentResult {
  const s = text(input);
  const format = detectFhir(s) ?? (s.trimStart().startsWith('<') ? 'xml' : 'json');
  let resource: Json;
  try {
    resource = format === 'json' ? (JSON.parse(s) as Json) : xmlToJson(s);
  } catch (err) {
    const e = asEhmiError(err);
    const where = e.expression[0] ?? '$this';
    return {
      format,
      issues: [{ severity: 'error', code: 'structure', expression: where, message: e.message }],
      valid: false,
    };
  }
  const validator = options.validator ?? shippedValidator();
  const issues = validator.issues(resource, options);
  return { format, resource, issues, valid: !issues.some((i) => i.severity === 'error') };
}
