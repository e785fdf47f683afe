import { EhmiError } from '@ehmi/errors';
import { type ExpressionBuilder, type Kysely, sql } from 'kysely';
import { splitSearchValues } from '../http/fhir-rest.ts';
import { type EerType, isEerType } from './profiles.ts';
import type { Json } from './repository.ts';
import { type ParamDef, referenceKey, SEARCH_PARAMS } from './search-params.ts';
import type { EerTables } from './tables.ts';

/** One parameter of a search: its values are ORed (comma), parameters are ANDed (FHIR R4 search.html §3.1.1.4). */
interface Criterion {
  code: string;
  def: ParamDef | undefined;
  modifier: string | undefined;
  values: string[];
}

export interface IncludeSpec {
  /** The type whose reference parameter is followed (`Endpoint` in `Endpoint:organization`). */
  source: EerType;
  param: string;
  target: EerType | undefined;
}

export interface SearchRequest {
  criteria: Criterion[];
  ids: string[] | undefined;
  count: number;
  offset: number;
  summaryCount: boolean;
  include: IncludeSpec[];
  revinclude: IncludeSpec[];
}

export interface SearchResult {
  total: number;
  matches: { type: EerType; id: string; resource: Json }[];
  included: { type: EerType; id: string; resource: Json }[];
}

/** Parameters that change the result's shape, not its content; accepted and ignored. */
const IGNORED = new Set(['_format', '_pretty', '_total', '_elements', '_sort']);

function bad(message: string, expression?: string): EhmiError {
  return new EhmiError('EHMI_USAGE', message, expression ? { expression: [expression] } : {});
}

function parseInclude(value: string, name: string): IncludeSpec {
  const [source, param, target] = value.split(':');
  if (!source || !param || !isEerType(source))
    throw bad(`${name}=${value}: expected <Type>:<reference parameter>`, name);
  const def = SEARCH_PARAMS[source][param];
  if (def?.kind !== 'reference') {
    throw bad(`${name}=${value}: ${source} has no reference parameter '${param}'`, name);
  }
  if (target !== undefined && (!isEerType(target) || !def.targets?.includes(target))) {
    throw bad(`${name}=${value}: '${target}' is not a target of ${source}.${param}`, name);
  }
  return { source, param, target };
}

/**
 * Reads a search's query parameters. An unknown parameter is refused (400) rather than ignored, so a typo does not
 * silently widen the result (FHIR R4 search.html §3.1.1.3.2 allows either; we take `handling=strict`).
 */
export function parseSearch(
  type: EerType,
  query: Record<string, string | string[] | undefined>,
  limits: { defaultCount: number; maxCount: number },
): SearchRequest {
  const req: SearchRequest = {
    criteria: [],
    ids: undefined,
    count: limits.defaultCount,
    offset: 0,
    summaryCount: false,
    include: [],
    revinclude: [],
  };
  for (const [key, raw] of Object.entries(query)) {
    if (raw === undefined) continue;
    const values = Array.isArray(raw) ? raw : [raw];
    const [code = '', modifier] = key.split(':');
    if (IGNORED.has(code)) continue;
    for (const value of values) {
      if (code === '_count' || code === '_offset') {
        if (!/^\d{1,9}$/.test(value)) throw bad(`${code}=${value}: expected a non-negative integer`, code);
        const n = Number(value);
        if (code === '_count') req.count = Math.min(n, limits.maxCount);
        else req.offset = n;
      } else if (code === '_summary') {
        if (value !== 'count' && value !== 'false')
          throw bad(`_summary=${value}: only 'count' is supported`, code);
        req.summaryCount = value === 'count';
      } else if (code === '_include') {
        req.include.push(parseInclude(value, '_include'));
      } else if (code === '_revinclude') {
        req.revinclude.push(parseInclude(value, '_revinclude'));
      } else if (code === '_id') {
        const ids = value.split(',').filter(Boolean);
        req.ids = req.ids ? req.ids.filter((i) => ids.includes(i)) : ids;
      } else {
        const def = SEARCH_PARAMS[type][code];
        if (!def) {
          const known = Object.keys(SEARCH_PARAMS[type]).join(', ');
          throw bad(`${type} has no search parameter '${code}' (supported: _id, ${known})`, code);
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

type SearchEb = ExpressionBuilder<EerTables, 'eer_search'>;

function likeEscape(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** A token `[system]|[code]` (search.html §3.1.1.5.5); `sor` and `gln` match the value under either GLN system. */
function tokenMatch(eb: SearchEb, code: string, value: string) {
  const bar = value.indexOf('|');
  if (bar < 0 || code === 'sor' || code === 'gln') {
    return eb('value', '=', bar < 0 ? value : value.slice(bar + 1));
  }
  const system = value.slice(0, bar);
  const v = value.slice(bar + 1);
  if (v === '') return eb('system', '=', system);
  return eb.and([eb('system', '=', system), eb('value', '=', v)]);
}

function matchCondition(eb: SearchEb, c: Criterion, value: string, base: string | undefined) {
  const def = c.def!;
  if (def.kind === 'string') {
    const v = value.toLowerCase();
    // `name` matches anywhere in the name, case-insensitively; `:exact` the whole name.
    if (c.modifier === 'exact') return eb('value', '=', v);
    return eb('value', 'like', sql<string>`${`%${likeEscape(v)}%`} escape '\\'`);
  }
  if (def.kind === 'reference') {
    const target = def.targets?.[0];
    const key =
      referenceKey(value, base) ??
      (target && /^[A-Za-z0-9\-.]{1,64}$/.test(value) ? `${target}/${value}` : value);
    return eb('value', '=', key);
  }
  return tokenMatch(eb, c.code, value);
}

/** Runs a search over the current, not deleted versions. */
export async function runSearch(
  db: Kysely<EerTables>,
  type: EerType,
  req: SearchRequest,
  base: string | undefined,
): Promise<SearchResult> {
  let q = db.selectFrom('eer_resources').where('resource_type', '=', type).where('deleted', '=', 0);
  if (req.ids) q = q.where('id', 'in', req.ids.length > 0 ? req.ids : ['\u0000']);
  for (const c of req.criteria) {
    const def = c.def!;
    if (def.via) {
      const via = def.via;
      const sub = { ...c, code: via.param, def: SEARCH_PARAMS.Endpoint[via.param] };
      const endpoints = db
        .selectFrom('eer_search')
        .select(sql<string>`'Endpoint/' || resource_id`.as('ref'))
        .where('resource_type', '=', via.type)
        .where('param', '=', via.param)
        .where((eb) => eb.or(c.values.map((v) => matchCondition(eb, sub, v, base))));
      const owners = db
        .selectFrom('eer_search')
        .select('resource_id')
        .where('resource_type', '=', type)
        .where('param', '=', 'endpoint')
        .where('value', 'in', endpoints);
      q = q.where('id', 'in', owners);
    } else {
      const matching = db
        .selectFrom('eer_search')
        .select('resource_id')
        .where('resource_type', '=', type)
        .where('param', '=', c.code)
        .where((eb) => eb.or(c.values.map((v) => matchCondition(eb, c, v, base))));
      q = q.where('id', 'in', matching);
    }
  }
  const countRow = await q.select((eb) => eb.fn.countAll().as('n')).executeTakeFirst();
  const total = Number(countRow?.n ?? 0);
  if (req.summaryCount || req.count === 0) return { total, matches: [], included: [] };
  const rows = await q
    .select(['id', 'content'])
    .orderBy('last_updated', 'asc')
    .orderBy('id', 'asc')
    .limit(req.count)
    .offset(req.offset)
    .execute();
  const matches = rows.map((r) => ({ type, id: r.id, resource: JSON.parse(r.content ?? '{}') as Json }));
  const included = await includes(db, type, matches, req);
  return { total, matches, included };
}

async function includes(
  db: Kysely<EerTables>,
  type: EerType,
  matches: SearchResult['matches'],
  req: SearchRequest,
): Promise<SearchResult['included']> {
  if (matches.length === 0) return [];
  const seen = new Set(matches.map((m) => `${m.type}/${m.id}`));
  const wanted: string[] = [];
  const ids = matches.map((m) => m.id);
  for (const inc of req.include) {
    if (inc.source !== type) continue;
    const refs = await db
      .selectFrom('eer_search')
      .select('value')
      .where('resource_type', '=', type)
      .where('resource_id', 'in', ids)
      .where('param', '=', inc.param)
      .execute();
    for (const r of refs) if (!inc.target || r.value.startsWith(`${inc.target}/`)) wanted.push(r.value);
  }
  for (const rev of req.revinclude) {
    if (rev.target && rev.target !== type) continue;
    const refs = await db
      .selectFrom('eer_search')
      .select('resource_id')
      .where('resource_type', '=', rev.source)
      .where('param', '=', rev.param)
      .where(
        'value',
        'in',
        ids.map((i) => `${type}/${i}`),
      )
      .execute();
    for (const r of refs) wanted.push(`${rev.source}/${r.resource_id}`);
  }
  const out: SearchResult['included'] = [];
  for (const key of new Set(wanted)) {
    if (seen.has(key)) continue;
    seen.add(key);
    const [t, id] = key.split('/') as [EerType, string];
    const row = await db
      .selectFrom('eer_resources')
      .select('content')
      .where('resource_type', '=', t)
      .where('id', '=', id)
      .where('deleted', '=', 0)
      .executeTakeFirst();
    if (row?.content) out.push({ type: t, id, resource: JSON.parse(row.content) as Json });
  }
  return out;
}
