import { EhmiError } from '@ehmi/errors';
import { type ExpressionBuilder, type Kysely, sql } from 'kysely';
import { splitSearchValues } from '../http/fhir-rest.ts';
import { type DatePrefix, parseDateValue } from '../http/fhir-search-date.ts';
import type { Viewer } from './access.ts';
import { EDS_PARAMS, type EdsParam } from './search-params.ts';
import type { EdsTables } from './tables.ts';

/** One parameter of a search: its values are ORed (comma), parameters are ANDed (FHIR R4 search.html §3.1.1.4). */
interface Criterion {
  code: string;
  def: EdsParam;
  modifier: string | undefined;
  values: string[];
}

/** A `date` or `_lastUpdated` criterion: each value is a half-open range of epoch ms and how to compare with it. */
interface DateCriterion {
  column: 'recorded' | 'last_updated';
  values: { prefix: DatePrefix; lo: number; hi: number }[];
}

export { parseDateValue };

export interface SearchRequest {
  criteria: Criterion[];
  dates: DateCriterion[];
  /** `outcome` criteria (codes of http://hl7.org/fhir/audit-event-outcome), each a list of ORed codes. */
  outcomes: string[][];
  ids: string[] | undefined;
  sort: { column: 'recorded' | 'last_updated'; desc: boolean };
  count: number;
  offset: number;
  summaryCount: boolean;
}

/** Parameters that change the result's shape, not its content; accepted and ignored. */
const IGNORED = new Set(['_format', '_pretty', '_total']);
const OUTCOME_SYSTEM = 'http://hl7.org/fhir/audit-event-outcome';

function bad(message: string, expression?: string): EhmiError {
  return new EhmiError('EHMI_USAGE', message, expression ? { expression: [expression] } : {});
}

/**
 * Reads a search's query parameters. An unknown parameter is refused (400) rather than ignored, so a typo does not
 * silently widen the result (FHIR R4 search.html §3.1.1.3.2 allows either; we take `handling=strict`).
 */
export function parseSearch(
  query: Record<string, string | string[] | undefined>,
  limits: { defaultCount: number; maxCount: number },
): SearchRequest {
  const req: SearchRequest = {
    criteria: [],
    dates: [],
    outcomes: [],
    ids: undefined,
    sort: { column: 'last_updated', desc: false },
    count: limits.defaultCount,
    offset: 0,
    summaryCount: false,
  };
  for (const [key, raw] of Object.entries(query)) {
    if (raw === undefined) continue;
    const values = Array.isArray(raw) ? raw : [raw];
    const [code = '', modifier] = key.split(':');
    if (IGNORED.has(code)) continue;
    const noModifier = () => {
      if (modifier !== undefined) throw bad(`${key}: modifier ':${modifier}' is not supported`, key);
    };
    for (const value of values) {
      if (code === '_count' || code === '_offset') {
        noModifier();
        if (!/^\d{1,9}$/.test(value)) throw bad(`${code}=${value}: expected a non-negative integer`, code);
        const n = Number(value);
        if (code === '_count') req.count = Math.min(n, limits.maxCount);
        else req.offset = n;
      } else if (code === '_summary') {
        if (value !== 'count' && value !== 'false')
          throw bad(`_summary=${value}: only 'count' is supported`, code);
        req.summaryCount = value === 'count';
      } else if (code === '_sort') {
        const m = /^(-?)(date|_lastUpdated)$/.exec(value);
        if (!m) throw bad(`_sort=${value}: EDS sorts by date, -date, _lastUpdated or -_lastUpdated`, code);
        req.sort = { column: m[2] === 'date' ? 'recorded' : 'last_updated', desc: m[1] === '-' };
      } else if (code === '_id') {
        noModifier();
        const ids = splitSearchValues(value);
        req.ids = req.ids ? req.ids.filter((i) => ids.includes(i)) : ids;
      } else if (code === 'date' || code === '_lastUpdated') {
        noModifier();
        const parts = splitSearchValues(value);
        if (parts.length === 0) throw bad(`${code} has no value`, code);
        req.dates.push({
          column: code === 'date' ? 'recorded' : 'last_updated',
          values: parts.map((v) => parseDateValue(v, code)),
        });
      } else if (code === 'outcome') {
        noModifier();
        const parts = splitSearchValues(value);
        if (parts.length === 0) throw bad('outcome has no value', code);
        // A token: `code`, `system|code` (no match under another system) or `|code` (no system: none here).
        req.outcomes.push(
          parts
            .map((v) => {
              const bar = v.indexOf('|');
              if (bar < 0) return v;
              return v.slice(0, bar) === OUTCOME_SYSTEM ? v.slice(bar + 1) : undefined;
            })
            .filter((v): v is string => v !== undefined),
        );
      } else {
        const def = EDS_PARAMS[code];
        if (!def) {
          throw bad(
            `AuditEvent has no search parameter '${code}' (supported: _id, _lastUpdated, date, outcome, ${Object.keys(EDS_PARAMS).join(', ')})`,
            code,
          );
        }
        if (
          modifier !== undefined &&
          !(def.kind === 'string' && (modifier === 'exact' || modifier === 'contains'))
        ) {
          throw bad(`${key}: modifier ':${modifier}' is not supported`, key);
        }
        const parts = splitSearchValues(value);
        if (parts.length === 0) throw bad(`${key} has no value`, key);
        req.criteria.push({ code, def, modifier, values: parts });
      }
    }
  }
  return req;
}

type SearchEb = ExpressionBuilder<EdsTables, 'eds_search'>;
type EventsEb = ExpressionBuilder<EdsTables, 'eds_events'>;

function likeEscape(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** Beyond every character: the upper end of a prefix range (`value >= p and value < p + MAX`), bytewise. */
const MAX = '\u{10FFFF}';

function valueMatch(eb: SearchEb, c: Criterion, value: string) {
  if (c.def.kind === 'token') {
    // A token on a plain string: `code` or `|code` (no system) matches the whole value, `system|code` nothing.
    const bar = value.indexOf('|');
    if (bar > 0) return eb.val(false);
    const v = bar === 0 ? value.slice(1) : value;
    return eb.and([eb('value', '=', v.toLowerCase()), eb('raw', '=', v)]);
  }
  const v = value.toLowerCase();
  if (c.modifier === 'exact') return eb.and([eb('value', '=', v), eb('raw', '=', value)]);
  if (c.modifier === 'contains') {
    return eb('value', 'like', sql<string>`${`%${likeEscape(v)}%`} escape '\\'`);
  }
  // FHIR string search: the value starts with the search text, case-insensitively (search.html §3.1.1.5.7).
  return eb.and([eb('value', '>=', v), eb('value', '<', `${v}${MAX}`)]);
}

function dateMatch(eb: EventsEb, column: 'recorded' | 'last_updated', d: DateCriterion['values'][number]) {
  // The event's time is an instant: within the search value's range (eq), outside it (ne), before or after it.
  switch (d.prefix) {
    case 'eq':
      return eb.and([eb(column, '>=', d.lo), eb(column, '<', d.hi)]);
    case 'ne':
      return eb.or([eb(column, '<', d.lo), eb(column, '>=', d.hi)]);
    case 'lt':
    case 'eb':
      return eb(column, '<', d.lo);
    case 'gt':
    case 'sa':
      return eb(column, '>=', d.hi);
    case 'ge':
      return eb(column, '>=', d.lo);
    case 'le':
      return eb(column, '<', d.hi);
  }
}

export interface SearchResult {
  total: number;
  matches: { id: string; content: string }[];
}

/** The events a search finds among those `viewer` may see. */
export async function runSearch(
  db: Kysely<EdsTables>,
  req: SearchRequest,
  viewer: Viewer,
): Promise<SearchResult> {
  let q = db.selectFrom('eds_events');
  const nothing = sql<boolean>`1 = 0`;
  if (req.ids) q = req.ids.length > 0 ? q.where('id', 'in', req.ids) : q.where(nothing);
  for (const d of req.dates) q = q.where((eb) => eb.or(d.values.map((v) => dateMatch(eb, d.column, v))));
  for (const codes of req.outcomes) q = codes.length > 0 ? q.where('outcome', 'in', codes) : q.where(nothing);
  for (const c of req.criteria) {
    const matching = db
      .selectFrom('eds_search')
      .select('event_id')
      .where('param', 'in', [...c.def.params])
      .where((eb) => eb.or(c.values.map((v) => valueMatch(eb, c, v))));
    q = q.where('id', 'in', matching);
  }
  q = visibleTo(db, q, viewer);
  const count = async () =>
    Number((await q.select((eb) => eb.fn.countAll().as('n')).executeTakeFirst())?.n ?? 0);
  if (req.summaryCount || req.count === 0) return { total: await count(), matches: [] };
  const dir = req.sort.desc ? 'desc' : 'asc';
  // The page's ids with the number of all matches (one pass), then the JSON of the page only: the sort reads no
  // event's JSON.
  const page = await q
    .select(['id', sql<number | string>`count(*) over ()`.as('total')])
    .orderBy(req.sort.column, dir)
    .orderBy('id', dir)
    .limit(req.count)
    .offset(req.offset)
    .execute();
  const total = page[0] ? Number(page[0].total) : req.offset > 0 ? await count() : 0;
  const ids = page.map((r) => r.id);
  const rows =
    ids.length === 0
      ? []
      : await db.selectFrom('eds_events').select(['id', 'content']).where('id', 'in', ids).execute();
  const content = new Map(rows.map((r) => [r.id, r.content]));
  return { total, matches: ids.map((id) => ({ id, content: content.get(id)! })) };
}

/**
 * Restricts a query of events to those `viewer` may see: a system client the events where one of its organisations
 * (SOR or GLN) is the sender or the receiver; a token restricted to a patient only that patient's.
 */
export function visibleTo<Q extends { where: (...args: never[]) => Q }>(
  db: Kysely<EdsTables>,
  query: Q,
  viewer: Viewer,
): Q {
  // biome-ignore lint/suspicious/noExplicitAny: the one query shape both callers share (select from eds_events)
  let q = query as any;
  if (viewer.kind === 'organisations') {
    const own = (params: string[], values: string[]) =>
      values.length === 0
        ? []
        : [
            (eb: SearchEb) =>
              eb.and([
                eb('param', 'in', params),
                eb(
                  'value',
                  'in',
                  values.map((v) => v.toLowerCase()),
                ),
                eb('raw', 'in', values),
              ]),
          ];
    const conditions = [
      ...own(['sender-sor', 'receiver-sor'], viewer.sors),
      ...own(['sender-gln', 'receiver-gln'], viewer.glns),
    ];
    if (conditions.length === 0) return q.where(sql<boolean>`1 = 0`) as Q;
    const mine = db
      .selectFrom('eds_search')
      .select('event_id')
      .where((eb) => eb.or(conditions.map((c) => c(eb))));
    q = q.where('id', 'in', mine);
  }
  if (viewer.patient !== undefined) {
    const theirs = db
      .selectFrom('eds_search')
      .select('event_id')
      .where('param', '=', 'cpr')
      .where('value', '=', viewer.patient.toLowerCase())
      .where('raw', '=', viewer.patient);
    q = q.where('id', 'in', theirs);
  }
  return q as Q;
}
