import type { FastifyRequest } from 'fastify';
import { EER_TYPES } from './profiles.ts';

/**
 * The scopes of EER (docs/specs/security.md 1c, SMART v2 scope syntax): a read (read, vread, history, search) of a
 * type needs `system/<Type>.rs`, or `system/<Type>.cruds`, which includes reading; a write (create, update, delete)
 * needs `system/<Type>.cruds`.
 */
export const readScopes = (type: string): string[] => [`system/${type}.rs`, `system/${type}.cruds`];
export const writeScope = (type: string): string => `system/${type}.cruds`;

/**
 * The scopes a request to EER needs, any one of which suffices (the `scope` of `requireAccessToken`). A transaction
 * Bundle (`POST /`) needs the write scope of every type it writes; its body is not read yet, so here it needs one
 * of them, and the route checks each type once the Bundle is parsed.
 */
export function eerScopes(request: FastifyRequest): string[] | undefined {
  const type = (request.params as { type?: string } | undefined)?.type;
  const read = request.method === 'GET' || request.method === 'HEAD';
  if (type === undefined) {
    if (request.routeOptions.url === '/' && request.method === 'POST') return EER_TYPES.map(writeScope);
    // No route (404) or a route of no type: a valid token suffices.
    return undefined;
  }
  return read ? readScopes(type) : [writeScope(type)];
}
