/** Strict base64 (RFC 4648 §4, whitespace ignored): the bytes, or undefined when the text does not decode. */
export function decodeBase64(text: string): Buffer | undefined {
  const clean = WHITESPACE.test(text) ? text.replace(WHITESPACES, '') : text;
  if (clean === '' || clean.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(clean, 'base64');
  // Node skips characters outside the alphabet, reads the URL-safe one too and ignores trailing garbage bits,
  // silently: a round trip keeps only text that is exactly the canonical encoding of its bytes, so it also refuses
  // any other character and misplaced or non-canonical padding (a regular expression over the whole text cost more
  // than the round trip itself).
  return bytes.toString('base64') === clean ? bytes : undefined;
}

const WHITESPACE = /\s/;
const WHITESPACES = /\s+/g;
