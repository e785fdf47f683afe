/** Strict base64 (RFC 4648 §4, whitespace ignored): the bytes, or undefined when the text does not decode. */
export function decodeBase64(text: string): Buffer | undefined {
  const clean = text.replace(/\s+/g, '');
  if (clean === '' || clean.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(clean)) return undefined;
  const bytes = Buffer.from(clean, 'base64');
  // Node ignores trailing garbage bits silently; a round trip catches non-canonical padding.
  return bytes.toString('base64') === clean ? bytes : undefined;
}
