/** A NAPTR record as node:dns returns it (RFC 3403 §4.1). */
export interface NaptrRecord {
  flags: string;
  service: string;
  regexp: string;
  replacement: string;
  order: number;
  preference: number;
}

/**
 * The U-NAPTR service of an SMP (OASIS BDXL 1.0 U-NAPTR service; Peppol SML 1.x).
 *
 * @example
 * smpUrlFromNaptr(records, name, SMP_NAPTR_SERVICE);
 */
export const SMP_NAPTR_SERVICE = 'Meta:SMP';

/**
 * The SMP base URL from a participant's NAPTR records (U-NAPTR, RFC 4848 §2): records with flag `U` and the
 * service, lowest order then preference first; the first whose regular expression turns the queried name into an
 * http(s) URL wins. Undefined when none does (the participant has no SMP registration under this service).
 *
 * @example
 * smpUrlFromNaptr([{ flags: 'U', service: 'Meta:SMP', regexp: '!^.*$!https://smp.example/!', replacement: '.', order: 100, preference: 10 }], name);
 * // 'https://smp.example/'
 */
export function smpUrlFromNaptr(
  records: readonly NaptrRecord[],
  queriedName: string,
  service = SMP_NAPTR_SERVICE,
): string | undefined {
  const candidates = records
    .filter((r) => r.flags.toUpperCase() === 'U' && r.service.toLowerCase() === service.toLowerCase())
    .sort((a, b) => a.order - b.order || a.preference - b.preference);
  for (const r of candidates) {
    const url = applyNaptrRegexp(r.regexp, queriedName);
    if (url && /^https?:\/\/[^\s/]+/i.test(url)) return url;
  }
  return undefined;
}

/**
 * Applies a NAPTR substitution expression `<delim>ere<delim>replacement<delim>[i]` (RFC 3402 §3.2) to a string;
 * undefined when it is malformed or does not match.
 *
 * @example
 * applyNaptrRegexp('!^.*$!https://smp.example/!', 'abc.zone'); // 'https://smp.example/'
 */
export function applyNaptrRegexp(expression: string, input: string): string | undefined {
  if (expression.length < 3) return undefined;
  const delim = expression[0]!;
  if (/[0-9\\i]/.test(delim)) return undefined; // RFC 3402 §3.2: the delimiter is not a digit, backslash or 'i'
  const parts: string[] = [''];
  for (let i = 1; i < expression.length; i++) {
    const ch = expression[i]!;
    if (ch === '\\' && expression[i + 1] === delim) {
      parts[parts.length - 1] += delim;
      i++;
    } else if (ch === delim) parts.push('');
    else parts[parts.length - 1] += ch;
  }
  if (parts.length !== 3 || (parts[2] !== '' && parts[2] !== 'i')) return undefined;
  let re: RegExp;
  try {
    re = new RegExp(parts[0]!, parts[2] === 'i' ? 'i' : '');
  } catch {
    return undefined;
  }
  const m = re.exec(input);
  if (!m) return undefined;
  // Back-references are \1…\9; a backslash escapes the next character.
  return parts[1]!.replace(/\\(\d|.)/g, (_, c: string) => (/\d/.test(c) ? (m[Number(c)] ?? '') : c));
}
