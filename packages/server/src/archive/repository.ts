import type { ExpressionBuilder, Kysely, Selectable } from 'kysely';
import type { DatePrefix } from '../http/fhir-search-date.ts';
import type { AnyDb } from '../store/index.ts';
import type { ArchiveDocumentsTable, ArchiveTables } from './tables.ts';

type Db = Kysely<ArchiveTables>;
export type ArchivedDocument = Selectable<ArchiveDocumentsTable>;

const db = (d: AnyDb): Db => d as unknown as Db;

/** Whether a copy that arrived with this AS4 MessageId is archived already (a repeated delivery). */
export async function wasArchived(d: AnyDb, as4MessageId: string): Promise<boolean> {
  const row = await db(d)
    .selectFrom('archive_documents')
    .select('id')
    .where('as4_message_id', '=', as4MessageId)
    .executeTakeFirst();
  return row !== undefined;
}

/** Archive a document; false when the AS4 MessageId or the DocumentReference id is taken (nothing written). */
export async function insertDocument(d: AnyDb, row: ArchiveDocumentsTable): Promise<boolean> {
  const result = await db(d)
    .insertInto('archive_documents')
    .values(row)
    .onConflict((oc) => oc.doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
}

export async function readDocument(d: AnyDb, id: string): Promise<ArchivedDocument | undefined> {
  return db(d).selectFrom('archive_documents').selectAll().where('id', '=', id).executeTakeFirst();
}

/** One value of a `date` criterion: a FHIR date's range of epoch ms and its prefix (`parseDateValue`). */
export interface DateValue {
  prefix: DatePrefix;
  lo: number;
  hi: number;
}

/** A search as routes.ts parsed it: every criterion must hold (each list: any of its values). */
export interface DocumentQuery {
  patients?: string[];
  types?: { system?: string; code: string }[];
  authors?: string[];
  statuses?: string[];
  ids?: string[];
  /** Each criterion ANDed, its values ORed. */
  dates: DateValue[][];
  count: number;
  offset: number;
  /** Newest first (`-date`, the default) or oldest first (`date`). */
  ascending: boolean;
}

/** The matches of a search: the total and one page, newest first by default. */
export async function searchDocuments(
  d: AnyDb,
  q: DocumentQuery,
): Promise<{ total: number; page: ArchivedDocument[] }> {
  let base = db(d).selectFrom('archive_documents');
  if (q.patients) base = base.where('patient_cpr', 'in', q.patients);
  if (q.authors) base = base.where('author_sor', 'in', q.authors);
  if (q.statuses) base = base.where('status', 'in', q.statuses);
  if (q.ids) base = base.where('id', 'in', q.ids);
  if (q.types) {
    const types = q.types;
    base = base.where((eb) =>
      eb.or(
        types.map((t) =>
          t.system === undefined
            ? eb('type_code', '=', t.code)
            : eb('type_token', '=', `${t.system}|${t.code}`),
        ),
      ),
    );
  }
  for (const any of q.dates) {
    base = base.where((eb) => eb.or(any.map((d) => dateMatch(eb, d))));
  }
  const counted = await base.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirst();
  const total = Number(counted?.n ?? 0);
  const page =
    q.count === 0
      ? []
      : await base
          .selectAll()
          .orderBy('date', q.ascending ? 'asc' : 'desc')
          .orderBy('id', 'asc')
          .limit(q.count)
          .offset(q.offset)
          .execute();
  return { total, page };
}

/** The document's date is an instant: within the value's range (eq), outside it (ne), before or after it. */
function dateMatch(eb: ExpressionBuilder<ArchiveTables, 'archive_documents'>, d: DateValue) {
  switch (d.prefix) {
    case 'eq':
      return eb.and([eb('date', '>=', d.lo), eb('date', '<', d.hi)]);
    case 'ne':
      return eb.or([eb('date', '<', d.lo), eb('date', '>=', d.hi)]);
    case 'lt':
    case 'eb':
      return eb('date', '<', d.lo);
    case 'gt':
    case 'sa':
      return eb('date', '>=', d.hi);
    case 'ge':
      return eb('date', '>=', d.lo);
    case 'le':
      return eb('date', '<', d.hi);
  }
}
