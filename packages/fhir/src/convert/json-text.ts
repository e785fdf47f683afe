import { EhmiError } from '@ehmi/errors';
import { decimalLexical, rememberDecimal } from './primitives.ts';

// A JSON number token (RFC 8259 §6).
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * Parse FHIR JSON text, remembering each number whose written form JavaScript would not print back (`1.50`,
 * `1.0e2`), so that {@link jsonToXml} and {@link stringifyFhirJson} write it as it was written (FHIR R4 §2.6.2:
 * decimals keep their precision). Otherwise the same as `JSON.parse`.
 *
 * @throws EhmiError `EHMI_INPUT_UNREADABLE` when the text is not JSON.
 * @example
 * const obs = parseFhirJson('{"resourceType":"Observation","valueQuantity":{"value":1.50}}');
 * jsonToXml(obs); // …<value value="1.50"/>…
 */
export function parseFhirJson(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new EhmiError('EHMI_INPUT_UNREADABLE', `FHIR JSON is not valid JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const lexemes = numberLexemes(text);
  if (lexemes.some((l) => l !== undefined)) {
    // Numbers appear in the text in the order a depth-first walk of the parsed value meets them (FHIR keys are
    // never integer-like, so JSON.parse keeps their order). A count mismatch (duplicate keys) records nothing.
    const holders: [object, string | number][] = [];
    collectNumbers(value, holders);
    if (holders.length === lexemes.length) {
      holders.forEach(([holder, key], i) => {
        const lexical = lexemes[i];
        if (lexical !== undefined) rememberDecimal(holder, key, lexical);
      });
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new EhmiError('EHMI_INPUT_UNREADABLE', 'FHIR JSON must be an object (a resource)');
  }
  return value as Record<string, unknown>;
}

/**
 * `JSON.stringify` for FHIR resources that writes decimals as they were read ({@link xmlToJson},
 * {@link parseFhirJson}) when unchanged, so `1.50` stays `1.50` in JSON text too.
 *
 * @example
 * stringifyFhirJson(xmlToJson(xml), 2);
 */
export function stringifyFhirJson(resource: unknown, indent = 0): string {
  return write(resource, '', ' '.repeat(indent), undefined, undefined) ?? 'null';
}

function write(
  value: unknown,
  current: string,
  step: string,
  holder: object | undefined,
  key: string | number | undefined,
): string | undefined {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'number':
      if (!Number.isFinite(value)) return 'null';
      return (holder && key !== undefined && decimalLexical(holder, key, value)) || JSON.stringify(value);
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'object':
      break;
    default:
      return undefined; // undefined, functions, symbols: left out, as JSON.stringify does
  }
  const inner = current + step;
  const nl = step ? '\n' : '';
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const items = value.map((v, i) => `${inner}${write(v, inner, step, value, i) ?? 'null'}`);
    return `[${nl}${items.join(`,${nl}`)}${nl}${current}]`;
  }
  const toJson = (value as { toJSON?: () => unknown }).toJSON;
  if (typeof toJson === 'function') return write(toJson.call(value), current, step, undefined, undefined);
  const members: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    const text = write(v, inner, step, value, k);
    if (text !== undefined) members.push(`${inner}${JSON.stringify(k)}:${step ? ' ' : ''}${text}`);
  }
  if (members.length === 0) return '{}';
  return `{${nl}${members.join(`,${nl}`)}${nl}${current}}`;
}

/** Every number token of valid JSON text, in order: its text when `Number` would not print it back, else undefined. */
function numberLexemes(text: string): (string | undefined)[] {
  const out: (string | undefined)[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // a string: skip to the closing quote, past escapes
      i++;
      while (i < text.length && text.charCodeAt(i) !== 0x22) i += text.charCodeAt(i) === 0x5c ? 2 : 1;
      i++;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(text);
      const lexeme = m?.[0] ?? text[i] ?? '';
      out.push(String(Number(lexeme)) === lexeme ? undefined : lexeme);
      i += Math.max(lexeme.length, 1);
    } else {
      i++;
    }
  }
  return out;
}

function collectNumbers(value: unknown, out: [object, string | number][]): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      if (typeof v === 'number') out.push([value, i]);
      else collectNumbers(v, out);
    });
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      if (typeof v === 'number') out.push([value, k]);
      else collectNumbers(v, out);
    }
  }
}
