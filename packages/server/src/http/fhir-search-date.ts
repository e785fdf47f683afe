import { EhmiError } from '@ehmi/errors';

/** The prefixes of a FHIR date search value (R4 search.html §3.1.1.4). */
export type DatePrefix = 'eq' | 'ne' | 'lt' | 'gt' | 'ge' | 'le' | 'sa' | 'eb';

const PREFIXES = new Set(['eq', 'ne', 'lt', 'gt', 'ge', 'le', 'sa', 'eb']);

function bad(message: string, expression?: string): EhmiError {
  return new EhmiError('EHMI_USAGE', message, expression ? { expression: [expression] } : {});
}

const DATE_RE =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/**
 * A FHIR date search value (search.html §3.1.1.5.8): an optional prefix and a date, dateTime or instant of any
 * precision, as the half-open range of epoch milliseconds it stands for (`2025` is the whole year, `2025-11-01T10:00`
 * one minute). A value without a time zone is taken as UTC. A `+` in the offset that arrived as a space (an
 * unencoded `+` in the query string) is read as the `+` it was.
 */
export function parseDateValue(raw: string, code: string): { prefix: DatePrefix; lo: number; hi: number } {
  let text = raw.trim() === raw ? raw : raw;
  let prefix: DatePrefix = 'eq';
  const p = text.slice(0, 2);
  if (/^[a-z]{2}/.test(p)) {
    if (!PREFIXES.has(p))
      throw bad(`${code}=${raw}: the prefix '${p}' is not supported (eq, ne, lt, gt, ge, le, sa, eb)`, code);
    prefix = p as DatePrefix;
    text = text.slice(2);
  }
  text = text.replace(/ (\d{2}:\d{2})$/, '+$1');
  const m = DATE_RE.exec(text);
  if (!m) throw bad(`${code}=${raw}: expected a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD or a dateTime)`, code);
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  const year = Number(y);
  const month = mo ? Number(mo) - 1 : 0;
  const day = d ? Number(d) : 1;
  if (
    month > 11 ||
    day < 1 ||
    day > 31 ||
    (h && (Number(h) > 23 || Number(mi) > 59 || Number(s ?? 0) > 59))
  ) {
    throw bad(`${code}=${raw}: not a valid date`, code);
  }
  const ms = frac ? Number(frac.slice(0, 3).padEnd(3, '0')) : 0;
  let lo = Date.UTC(year, month, day, Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0), ms);
  if (tz && tz !== 'Z') {
    const sign = tz.startsWith('-') ? -1 : 1;
    lo -= sign * (Number(tz.slice(1, 3)) * 60 + Number(tz.slice(4, 6))) * 60_000;
  }
  let hi: number;
  if (frac) hi = lo + (frac.length >= 3 ? 1 : 10 ** (3 - frac.length));
  else if (s) hi = lo + 1000;
  else if (mi) hi = lo + 60_000;
  else if (d) hi = Date.UTC(year, month, day + 1);
  else if (mo) hi = Date.UTC(year, month + 1, 1);
  else hi = Date.UTC(year + 1, 0, 1);
  return { prefix, lo, hi };
}
