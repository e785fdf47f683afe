// FHIR R4 primitive types and their lexical rules (https://hl7.org/fhir/R4/datatypes.html#primitive).

const RE: Record<string, RegExp> = {
  id: /^[A-Za-z0-9\-.]{1,64}$/,
  code: /^[^\s]+( [^\s]+)*$/,
  oid: /^urn:oid:[0-2](\.(0|[1-9][0-9]*))+$/,
  uuid: /^urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/,
  date: /^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?$/,
  dateTime:
    /^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?$/,
  instant:
    /^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$/,
  time: /^([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?$/,
  uri: /^\S*$/,
  url: /^\S*$/,
  canonical: /^\S*$/,
};

const STRINGS = new Set([
  'string',
  'markdown',
  'code',
  'id',
  'uri',
  'url',
  'canonical',
  'oid',
  'uuid',
  'date',
  'dateTime',
  'instant',
  'time',
  'base64Binary',
  'xhtml',
]);
const MAX_STRING = 1024 * 1024;
const INTEGERS: Record<string, number> = { integer: -2147483648, unsignedInt: 0, positiveInt: 1 };

/** Whether a type code names a FHIR primitive (`string`, `dateTime`, …) or a FHIRPath system type. */
export function isPrimitiveType(code: string): boolean {
  return (
    STRINGS.has(code) ||
    code in INTEGERS ||
    code === 'boolean' ||
    code === 'decimal' ||
    code.startsWith('http://hl7.org/fhirpath/System.')
  );
}

/** A problem with a JSON primitive value, or undefined when it is valid for `type` (R4 JSON §2.6.2). */
export function checkPrimitive(value: unknown, type: string): string | undefined {
  if (type.startsWith('http://hl7.org/fhirpath/System.')) {
    const sys = type.slice('http://hl7.org/fhirpath/System.'.length);
    if (sys === 'String') return typeof value === 'string' ? undefined : `must be a string`;
    if (sys === 'Boolean') return typeof value === 'boolean' ? undefined : 'must be a boolean';
    if (sys === 'Integer' || sys === 'Decimal')
      return typeof value === 'number' ? undefined : 'must be a number';
    return undefined;
  }
  if (type === 'boolean') return typeof value === 'boolean' ? undefined : `${show(value)} is not a boolean`;
  if (type === 'decimal') {
    return typeof value === 'number' && Number.isFinite(value)
      ? undefined
      : `${show(value)} is not a decimal number`;
  }
  if (type in INTEGERS) {
    const min = INTEGERS[type] ?? 0;
    if (typeof value !== 'number' || !Number.isInteger(value)) return `${show(value)} is not an integer`;
    if (value < min || value > 2147483647) return `${value} is out of range for ${type}`;
    return undefined;
  }
  if (STRINGS.has(type)) {
    if (typeof value !== 'string') return `${show(value)} is not a JSON string (FHIR ${type})`;
    // Whether it is only whitespace, without copying a long value (`trim()` would).
    if (type !== 'xhtml' && value.length > 0 && !/\S/.test(value))
      return `${type} must not be only whitespace`;
    if (value === '') return `${type} must not be empty (R4 JSON: empty strings are not allowed)`;
    // R4 datatypes §2.24.0.1 string: "Strings SHALL NOT exceed 1MB (1024*1024 characters) in size".
    if ((type === 'string' || type === 'markdown') && value.length > MAX_STRING)
      return `${type} is ${value.length} characters long; FHIR strings may not exceed 1 MB (${MAX_STRING} characters)`;
    const re = RE[type];
    if (re && !re.test(value)) return `${show(value)} is not a valid ${type}`;
    if (type === 'base64Binary' && !isBase64(value)) return `${show(value)} is not a valid ${type}`;
    if ((type === 'date' || type === 'dateTime' || type === 'instant') && !realDay(value))
      return `${show(value)} is not a valid ${type}: no such day`;
  }
  return undefined;
}

const B64 = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=') B64[c.charCodeAt(0)] = 1;

/**
 * R4 base64Binary's pattern `(\s*([0-9a-zA-Z\+/=]){4}\s*)+` in one pass: groups of four characters, whitespace only
 * between groups. (As a regular expression it backtracks per group: a 100 KB attachment cost about a millisecond.)
 */
function isBase64(value: string): boolean {
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 128 && B64[c] === 1) n++;
    else if (/\s/.test(value.charAt(i))) {
      if (n % 4 !== 0) return false;
    } else return false;
  }
  return n > 0 && n % 4 === 0;
}

/** Whether the day of a `YYYY-MM-DD…` value exists in its month (the lexical pattern allows 2023-02-30). */
function realDay(value: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(value);
  if (!m) return true;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  const days = mo === 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].includes(mo) ? 30 : 31;
  return d <= days;
}

function show(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** The type named by a choice property suffix: `valueDateTime` → `dateTime`, `valueCoding` → `Coding`. */
export function typeOfChoiceSuffix(suffix: string): string {
  const lower = suffix.charAt(0).toLowerCase() + suffix.slice(1);
  return isPrimitiveType(lower) ? lower : suffix;
}

// Narrative (R4 narrative.html §2.4.0.1, txt-1/txt-2): an XHTML div with content, no active content. fhirpath.js
// has no htmlChecks(), so the essentials are checked here.
const ACTIVE =
  /<\s*(script|object|applet|embed|iframe|form|input|button|frame|frameset|link|meta|style)\b|\son\w+\s*=|javascript:/i;

/**
 * Whether the markup has a character outside its tags that is not white space (what is left when every `<…>` is
 * removed and the rest trimmed is not empty; an entity counts as text, and so does a `<` that no `>` closes). Read
 * up to the first such character, with no copy of the text.
 */
function hasText(div: string): boolean {
  for (let i = 0; i < div.length; i++) {
    const c = div.charCodeAt(i);
    if (c === 60) {
      // '<': the tag runs to the next '>'; with none, the '<' and the rest are text.
      const close = div.indexOf('>', i + 1);
      if (close < 0) return true;
      i = close;
    } else if (c > 32 && c < 127) return true;
    else if (c !== 32 && (c < 9 || c > 13) && !/\s/.test(div.charAt(i))) return true;
  }
  return false;
}

/** Problems with a Narrative.div value (txt-1: XHTML div without active content; txt-2: some content). */
export function checkNarrativeDiv(div: string): string | undefined {
  if (!/^\s*<div[\s>]/.test(div) || !/xmlns\s*=\s*["']http:\/\/www\.w3\.org\/1999\/xhtml["']/.test(div)) {
    return 'txt-1: the narrative must be a <div> in the XHTML namespace';
  }
  if (ACTIVE.test(div))
    return 'txt-1: the narrative must not contain scripts, forms, event handlers or other active content';
  if (!hasText(div) && !/<img\b/i.test(div))
    return 'txt-2: the narrative must have some non-whitespace content';
  return undefined;
}
