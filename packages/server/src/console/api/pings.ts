import type { FastifyInstance } from 'fastify';
import type { ConsoleApiDeps } from '../session.ts';
import { visibleOrganisations } from './organisations.ts';
import { jsonList } from './upstream.ts';

/** One organisation's pings of its partners, as its MSH's `GET /pings` gives them (or why it could not be read). */
export interface OrganisationPings {
  key: string;
  name: string;
  pings: Record<string, unknown>[];
  error?: string;
}

/**
 * `GET /api/pings`: each visible organisation's last ping of each partner (the AS4 test service, `ehmi ping`), read
 * from its MSH as the signed-in user. An MSH that is away or refuses is named with its reason; the others still show.
 */
export function registerPingRoutes(app: FastifyInstance, deps: ConsoleApiDeps): void {
  app.get('/pings', async (request): Promise<OrganisationPings[]> => {
    const orgs = (await visibleOrganisations(request, deps)).filter((o) => deps.services[`msh:${o.key}`]);
    return Promise.all(
      orgs.map(async (o) => {
        try {
          return { key: o.key, name: o.name, pings: await jsonList(request, `msh:${o.key}`, '/pings') };
        } catch (err) {
          return { key: o.key, name: o.name, pings: [], error: (err as Error).message };
        }
      }),
    );
  });
}
