import { EhmiError } from '@ehmi/errors';

/** CPR identifier system (dk-core `dk-core-cpr-identifier`; ehmi-core §4.3). */
export const CPR_SYSTEM = 'urn:oid:1.2.208.176.1.2';

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * A CPR number as its 10 digits (`DDMMYY-SSSS` is accepted and the hyphen dropped), or `EHMI_USAGE` naming what is
 * wrong. The first six digits must be a calendar day (29 February always allowed: the century is in the 7th digit's
 * rules, and a wrong leap day is for the register to refuse). There is **no modulus 11 check**: CPR numbers issued since
 * 1 October 2007 need not satisfy it (CPR-kontoret, "Personnummre uden kontrolciffer"), and the register, not the
 * format, decides whether a number exists.
 *
 * @example
 * normaliseCpr('010858-9995'); // '0108589995'
 */
export function normaliseCpr(value: string, what = 'CPR'): string {
  const v = value.trim();
  const m = /^(\d{2})(\d{2})(\d{2})-?(\d{4})$/.exec(v);
  if (!m)
    throw new EhmiError('EHMI_USAGE', `${what} ${JSON.stringify(value)}: expected 10 digits (DDMMYYSSSS)`);
  const day = Number(m[1]);
  const month = Number(m[2]);
  if (month < 1 || month > 12 || day < 1 || day > DAYS_IN_MONTH[month - 1]!) {
    throw new EhmiError(
      'EHMI_USAGE',
      `${what} ${JSON.stringify(value)}: the first six digits are not a date (DDMMYY)`,
    );
  }
  return `${m[1]}${m[2]}${m[3]}${m[4]}`;
}
