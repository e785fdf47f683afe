import { EhmiError } from '@ehmi/errors';
import type { PrimitiveKind } from './definitions.ts';

// Lexical forms from the R4 primitive StructureDefinitions (`…value` regex extensions, R4 §2.24.0.1).
const INTEGER = /^-?(0|[1-9][0-9]*)$/;
const DECIMAL = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/;

/**
 * The XML lexical form of decimals whose JSON number would not print the same (`1.50`, `1.0e3`), keyed by the
 * object or array holding the value and then by property name or index.
 *
 * FHIR R4 §2.6.2 says decimals keep their precision, but a JavaScript number cannot: `1.50` parses to `1.5`.
 * {@link xmlToJson} records the written form here so that {@link jsonToXml} of the same, unchanged value writes
 * it back exactly. A changed value, a copy (`structuredClone`, `JSON.parse(JSON.stringify())`) or a resource
 * that came from JSON text is written in JavaScript's shortest form.
 */
const decimalText = new WeakMap<object, Map<string | number, string>>();

export function rememberDecimal(holder: object, key: string | number, lexical: string): void {
  let map = decimalText.get(holder);
  if (!map) {
    map = new Map();
    decimalText.set(holder, map);
  }
  map.set(key, lexical);
}

/** The decimal as written in the XML it was read from, if it was read from XML and is unchanged. */
export function decimalLexical(holder: object, key: string | number, value: number): string | undefined {
  const lexical = decimalText.get(holder)?.get(key);
  return lexical !== undefined && Number(lexical) === value ? lexical : undefined;
}

/** XML `value` attribute → JSON value, per the primitive's kind. */
export function parsePrimitive(kind: PrimitiveKind, text: string, path: string): string | number | boolean {
  switch (kind) {
    case 'boolean':
      if (text === 'true') return true;
      if (text === 'false') return false;
      throw invalid(path, text, 'a boolean (true or false)');
    case 'integer':
      if (!INTEGER.test(text) || !Number.isSafeInteger(Number(text))) throw invalid(path, text, 'an integer');
      return Number(text);
    case 'decimal':
      if (!DECIMAL.test(text) || !Number.isFinite(Number(text))) throw invalid(path, text, 'a decimal');
      return Number(text);
    default:
      return text;
  }
}

/** JSON value → XML `value` attribute, checking that the JSON type matches the primitive's kind. */
export function formatPrimitive(kind: PrimitiveKind, value: unknown, path: string): string {
  switch (kind) {
    case 'boolean':
      if (typeof value !== 'boolean') throw invalid(path, value, 'a JSON boolean');
      return String(value);
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) throw invalid(path, value, 'a JSON integer');
      return String(value);
    case 'decimal':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(path, value, 'a JSON number');
      return String(value);
    default:
      if (typeof value !== 'string') throw invalid(path, value, 'a JSON string');
      return value;
  }
}

function invalid(path: string, value: unknown, expected: string): EhmiError {
  return new EhmiError(
    'EHMI_VALIDATION_FAILED',
    `${path} is ${JSON.stringify(value)}; expected ${expected}`,
    {
      expression: [path],
      details: { expected },
    },
  );
}
