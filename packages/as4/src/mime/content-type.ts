/**
 * A parsed MIME header value such as `multipart/related; boundary="x"; type="application/soap+xml"` (RFC 2045 §5.1).
 *
 * @example
 * const { type, parameters } = parseMediaType(contentType);
 */
export interface MediaType {
  /** Lower-case `type/subtype`. */
  type: string;
  /** Parameters with lower-case names; quoted values unquoted. */
  parameters: Record<string, string>;
}

/**
 * Parse a Content-Type value (RFC 2045 §5.1, quoted strings per RFC 822). Tolerates folding whitespace.
 *
 * @example
 * parseMediaType('multipart/related; boundary="b1"; type="application/soap+xml"').parameters.boundary; // 'b1'
 */
export function parseMediaType(value: string): MediaType {
  const text = value.replace(/\r?\n[ \t]+/g, ' ');
  const semi = text.indexOf(';');
  const type = (semi < 0 ? text : text.slice(0, semi)).trim().toLowerCase();
  const parameters: Record<string, string> = {};
  let i = semi < 0 ? text.length : semi + 1;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    if (eq < 0) break;
    const name = text
      .slice(i, eq)
      .replace(/^[\s;]+/, '')
      .trim()
      .toLowerCase();
    let j = eq + 1;
    while (text[j] === ' ' || text[j] === '\t') j++;
    let val = '';
    if (text[j] === '"') {
      j++;
      while (j < text.length && text[j] !== '"') {
        if (text[j] === '\\' && j + 1 < text.length) j++;
        val += text[j];
        j++;
      }
      j++;
      const next = text.indexOf(';', j);
      i = next < 0 ? text.length : next + 1;
    } else {
      const next = text.indexOf(';', j);
      val = (next < 0 ? text.slice(j) : text.slice(j, next)).trim();
      i = next < 0 ? text.length : next + 1;
    }
    if (name !== '' && !(name in parameters)) parameters[name] = val;
  }
  return { type, parameters };
}

/**
 * Format a media type with parameters, quoting every value (RFC 2045 §5.1).
 *
 * @example
 * formatMediaType('multipart/related', { boundary: 'b1', type: 'application/soap+xml' });
 * // 'multipart/related; boundary="b1"; type="application/soap+xml"'
 */
export function formatMediaType(type: string, parameters: Record<string, string>): string {
  const params = Object.entries(parameters).map(([k, v]) => `; ${k}="${v.replace(/(["\\])/g, '\\$1')}"`);
  return type + params.join('');
}

/** A Content-ID header value without surrounding angle brackets (RFC 2392). */
export function stripAngles(contentId: string): string {
  const t = contentId.trim();
  return t.startsWith('<') && t.endsWith('>') ? t.slice(1, -1).trim() : t;
}
