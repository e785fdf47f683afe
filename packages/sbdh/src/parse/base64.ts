/**
 * Strict base64 (RFC 4648 §4), XML's whitespace ignored (space, tab, CR, LF: what xs:base64Binary's `collapse` takes
 * out; any other space character is refused): the bytes, or undefined when the text does not decode.
 */
export function decodeBase64(text: string): Buffer | undefined {
  const clean = WHITESPACE.test(text) ? text.replace(WHITESPACES, '') : text;
  if (clean === '' || clean.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(clean, 'base64');
  return canonicalSeen.includes(clean) || roundTrips(clean, bytes) ? bytes : undefined;
}

/**
 * Whether `clean` (no whitespace) is exactly canonical base64. Node's decoder skips characters outside the alphabet,
 * reads the URL-safe one too and ignores trailing garbage bits, silently: a round trip keeps only text that is exactly
 * the canonical encoding of its bytes, so it also refuses any other character and misplaced or non-canonical padding
 * (a regular expression over the whole text cost more than the round trip itself). A received envelope's
 * BinaryContent is checked three times (the parse, the rules, the MSH's read of the payload) and the round trip's
 * text is as large as the BinaryContent each time: the last few texts found canonical (up to 256 Ki characters) are
 * kept, and the same text again is answered from them. The answer depends on the text alone.
 */
export function isCanonicalBase64(clean: string): boolean {
  return canonicalSeen.includes(clean) || roundTrips(clean, Buffer.from(clean, 'base64'));
}

/** Whether `bytes`, what Node decoded from `clean`, encode back to exactly `clean`; a short one found so is kept. */
function roundTrips(clean: string, bytes: Buffer): boolean {
  if (bytes.toString('base64') !== clean) return false;
  if (clean.length > CANONICAL_KEPT_CHARS) return true;
  if (canonicalSeen.length >= CANONICAL_KEPT) canonicalSeen.shift();
  // A flat copy, not `clean` itself: a text sliced from a parser's source (a BinaryContent without whitespace) would
  // keep the whole source document alive as long as it is kept. Canonical base64 is ASCII, so latin1 copies it whole.
  canonicalSeen.push(Buffer.from(clean, 'latin1').toString('latin1'));
  return true;
}

/** Texts found canonical lately, oldest first (a few messages in flight at once each check their own). */
const canonicalSeen: string[] = [];
const CANONICAL_KEPT = 4;
/** Longer texts are not kept (four of them would be memory a node holds for nothing between messages). */
const CANONICAL_KEPT_CHARS = 256 * 1024;

const WHITESPACE = /[ \t\r\n]/;
const WHITESPACES = /[ \t\r\n]+/g;
