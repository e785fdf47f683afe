/** Strict base64 (RFC 4648 §4, whitespace ignored): the bytes, or undefined when the text does not decode. */
export function decodeBase64(text: string): Buffer | undefined {
  const clean = WHITESPACE.test(text) ? text.replace(WHITESPACES, '') : text;
  if (clean === '' || clean.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(clean, 'base64');
  return isCanonicalBase64(clean, bytes) ? bytes : undefined;
}

/**
 * Whether `clean` (no whitespace) is exactly the canonical base64 of `bytes`, what Node decoded from it. Node skips
 * characters outside the alphabet, reads the URL-safe one too and ignores trailing garbage bits, silently: a round
 * trip keeps only text that is exactly the canonical encoding of its bytes, so it also refuses any other character
 * and misplaced or non-canonical padding (a regular expression over the whole text cost more than the round trip
 * itself). A received envelope's BinaryContent is checked three times (the parse, the rules, the MSH's read of the
 * payload) and the round trip's text is as large as the BinaryContent each time: the last few texts found canonical
 * (up to 256 Ki characters) are kept, and the same text again is answered from them.
 */
export function isCanonicalBase64(clean: string, bytes?: Buffer): boolean {
  if (canonicalSeen.includes(clean)) return true;
  if ((bytes ?? Buffer.from(clean, 'base64')).toString('base64') !== clean) return false;
  if (clean.length > CANONICAL_KEPT_CHARS) return true;
  if (canonicalSeen.length >= CANONICAL_KEPT) canonicalSeen.shift();
  canonicalSeen.push(clean);
  return true;
}

/** Texts found canonical lately, oldest first (a few messages in flight at once each check their own). */
const canonicalSeen: string[] = [];
const CANONICAL_KEPT = 4;
/** Longer texts are not kept (four of them would be memory a node holds for nothing between messages). */
const CANONICAL_KEPT_CHARS = 256 * 1024;

const WHITESPACE = /\s/;
const WHITESPACES = /\s+/g;
