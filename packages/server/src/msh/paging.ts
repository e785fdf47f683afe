import { EhmiError } from '@ehmi/errors';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { PageCursor, Paging } from './repository.ts';

/** The paging parameters of `GET /messages` and `GET /inbox` (their schemas in schemas.ts). */
export interface PagingQuery {
  limit?: number;
  after?: string;
  order?: 'asc' | 'desc';
}

/**
 * The cursor of a row: base64url of `<time in epoch ms>.<id>` (the message's `createdAt`, the item's `receivedAt`).
 * Documented, so a client that merges the lists of several MSHs (the console) can go on after any row it showed.
 */
export function encodeCursor(cursor: PageCursor): string {
  return Buffer.from(`${cursor.at}.${cursor.id}`, 'utf8').toString('base64url');
}

export function decodeCursor(text: string): PageCursor {
  const plain = Buffer.from(text, 'base64url').toString('utf8');
  const dot = plain.indexOf('.');
  const at = Number(plain.slice(0, dot));
  const id = plain.slice(dot + 1);
  if (dot <= 0 || !Number.isSafeInteger(at) || id.length === 0 || id.length > 128) {
    throw new EhmiError('EHMI_USAGE', 'after is not a cursor this list gave (take it from the Link header)', {
      expression: ['after'],
    });
  }
  return { at, id };
}

/** The repository's paging of a request: one more row than asked for, to know whether a next page exists. */
export function pagingOf(query: PagingQuery): Paging {
  return {
    ...(query.limit !== undefined ? { limit: query.limit + 1 } : {}),
    ...(query.after !== undefined ? { after: decodeCursor(query.after) } : {}),
    ...(query.order !== undefined ? { order: query.order } : {}),
  };
}

/**
 * A page's rows, and the `Link: <…>; rel="next"` header (RFC 8288) when more follow: the same request with `after`
 * the cursor of its last row. Without `limit` the list is answered whole, as before it paged.
 */
export function page<R>(
  request: FastifyRequest,
  reply: FastifyReply,
  query: PagingQuery,
  rows: R[],
  cursorOf: (row: R) => PageCursor,
): R[] {
  if (query.limit === undefined || rows.length <= query.limit) return rows;
  const shown = rows.slice(0, query.limit);
  const [path, search] = request.url.split('?') as [string, string | undefined];
  const next = new URLSearchParams(search ?? '');
  next.set('after', encodeCursor(cursorOf(shown[shown.length - 1] as R)));
  reply.header('link', `<${path}?${next}>; rel="next"`);
  return shown;
}
