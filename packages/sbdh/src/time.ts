import { EhmiError } from '@ehmi/errors';

/** Default zone for envelope timestamps: the Danish infrastructure's local time, written with its UTC offset. */
export const DEFAULT_TIME_ZONE = 'Europe/Copenhagen';

/**
 * An `xs:dateTime` with a numeric UTC offset and whole seconds, e.g. `2025-04-01T16:19:00+01:00`
 * ("CreationDateAndTime: Always in this format: [YYYY-MM-DD]T[TT-MM-SS]+[offset-to-UTC]", colons as xs:dateTime needs).
 */
export function formatDateTime(date: Date, timeZone: string = DEFAULT_TIME_ZONE): string {
  const parts = formatterFor(timeZone).formatToParts(date);
  let year = '';
  let month = '';
  let day = '';
  let hour = '';
  let minute = '';
  let second = '';
  let zone = '';
  for (const p of parts) {
    if (p.type === 'year') year = p.value;
    else if (p.type === 'month') month = p.value;
    else if (p.type === 'day') day = p.value;
    else if (p.type === 'hour') hour = p.value;
    else if (p.type === 'minute') minute = p.value;
    else if (p.type === 'second') second = p.value;
    else if (p.type === 'timeZoneName') zone = p.value.replace(/^GMT/, '');
  }
  const offset = zone === '' ? '+00:00' : zone;
  return `${year}-${month}-${day}T${hour}:${minute}:${second}${offset}`;
}

// Building an Intl.DateTimeFormat loads locale and zone data: the most expensive step by far, so one per zone.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'longOffset',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

const DATE_TIME = /^(-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})?$/;

/** True for a lexically valid `xs:dateTime`. */
export function isXsdDateTime(value: string): boolean {
  return DATE_TIME.test(value) && !Number.isNaN(Date.parse(value.replace(/(\.\d{3})\d+/, '$1')));
}

/** True when an `xs:dateTime` carries a time zone (MedCom: all timestamps SHALL include one). */
export function hasOffset(value: string): boolean {
  return /(Z|[+-]\d{2}:\d{2})$/.test(value);
}

/**
 * `value` plus `minutes`, written in the same UTC offset as `value` (so `16:19:00+01:00` + 10 → `16:29:00+01:00`).
 */
export function addMinutes(value: string, minutes: number): string {
  const m = DATE_TIME.exec(value);
  if (!m?.[3])
    throw new EhmiError('EHMI_VALIDATION_FAILED', `'${value}' is not an xs:dateTime with an offset`);
  const zone = m[3];
  const offsetMinutes =
    zone === 'Z'
      ? 0
      : (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  const utc = Date.parse(value.replace(/(\.\d{3})\d+/, '$1')) + minutes * 60_000;
  const local = new Date(utc + offsetMinutes * 60_000).toISOString().slice(0, 19);
  return `${local}${m[2] ?? ''}${zone}`;
}

/** Milliseconds between two xs:dateTime values (b − a). */
export function diffMs(a: string, b: string): number {
  return Date.parse(b) - Date.parse(a);
}
