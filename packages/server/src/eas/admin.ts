import { EhmiError } from '@ehmi/errors';
import type { FastifyInstance } from 'fastify';
import { StaticBearerToken } from '../http/index.ts';
import { gpReferenceSchema } from './config.ts';
import { normaliseCpr } from './cpr.ts';
import { FHIR_ID, isObject, type Json } from './fhir.ts';
import type { TablePatientGpRegistry } from './registry.ts';
import { schemas } from './schemas.ts';
import type { EasIndex, EerFeed } from './store.ts';

function pathId(id: string): string {
  if (!FHIR_ID.test(id)) {
    throw new EhmiError('EHMI_USAGE', `${JSON.stringify(id)} is not a FHIR id ([A-Za-z0-9-.]{1,64})`);
  }
  return id;
}

function resources(body: Json, key: 'endpoints' | 'devices', type: string): Json[] {
  const list = body[key];
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw new EhmiError('EHMI_USAGE', `${key} must be an array of ${type} resources`);
  return list.map((r, i) => {
    if (!isObject(r) || r.resourceType !== type || typeof r.id !== 'string' || !FHIR_ID.test(r.id)) {
      throw new EhmiError('EHMI_USAGE', `${key}[${i}] must be a ${type} resource with an id`, {
        expression: [`${key}[${i}]`],
      });
    }
    return r;
  });
}

/** The body of `PUT /admin/organizations/{id}`: `{organization, endpoints, devices}` as EER sends it. */
export function parseFeed(id: string, body: unknown): EerFeed {
  if (!isObject(body)) {
    throw new EhmiError('EHMI_INPUT_UNREADABLE', 'expected a JSON object {organization, endpoints, devices}');
  }
  for (const key of Object.keys(body)) {
    if (!['organization', 'endpoints', 'devices'].includes(key)) {
      throw new EhmiError(
        'EHMI_USAGE',
        `unknown member ${JSON.stringify(key)} (expected organization, endpoints, devices)`,
      );
    }
  }
  const org = body.organization;
  if (!isObject(org) || org.resourceType !== 'Organization') {
    throw new EhmiError('EHMI_USAGE', 'organization must be an Organization resource', {
      expression: ['organization'],
    });
  }
  if (org.id !== undefined && org.id !== id) {
    throw new EhmiError(
      'EHMI_USAGE',
      `organization.id ${JSON.stringify(org.id)} is not the id in the path (${id})`,
      {
        expression: ['organization.id'],
      },
    );
  }
  return {
    organization: { ...org, id },
    endpoints: resources(body, 'endpoints', 'Endpoint'),
    devices: resources(body, 'devices', 'Device'),
  };
}

/**
 * The admin API EER's propagation job calls (and, for patients, tests and the local network):
 * - `PUT /admin/organizations/{eerOrganizationId}` `{organization, endpoints, devices}`: replace; 201 new, 200 replaced.
 * - `GET /admin/organizations/{id}`: what EAS holds; `DELETE /admin/organizations/{id}`: 204 (also when unknown).
 * - `PUT /admin/patients/{cpr}` `{sor?, ydernummer?, gln?}` and `DELETE /admin/patients/{cpr}`: the local CPR → GP table.
 * With the node's `authorization` every route needs an access token with `eas/index.write` (the role's hook);
 * without it (the `insecure` development switch) `Authorization: Bearer <eas.adminToken>`, else 401.
 */
export async function adminRoutes(
  app: FastifyInstance,
  opts: { token?: string; index: EasIndex; patients: TablePatientGpRegistry },
): Promise<void> {
  if (opts.token !== undefined) {
    const token = new StaticBearerToken(opts.token);
    app.addHook('onRequest', async (request, reply) => {
      if (!token.matches(request.headers.authorization)) {
        reply.header('www-authenticate', 'Bearer realm="eas-admin"');
        throw new EhmiError(
          'EHMI_UNAUTHORIZED',
          'the EAS admin API needs Authorization: Bearer <eas.adminToken>',
        );
      }
    });
  }

  app.put<{ Params: { id: string } }>(
    '/admin/organizations/:id',
    { schema: schemas.putOrganization },
    async (request, reply) => {
      const id = pathId(request.params.id);
      const feed = parseFeed(id, request.body);
      const { created, keys } = await opts.index.put(id, feed);
      request.log.info({ organization: id, created, keys: keys.length }, 'eas: organisation indexed');
      return reply.status(created ? 201 : 200).send({ id, created, keys });
    },
  );

  app.get<{ Params: { id: string } }>(
    '/admin/organizations/:id',
    { schema: schemas.getOrganization },
    async (request) => {
      const id = pathId(request.params.id);
      const held = await opts.index.get(id);
      if (!held) throw new EhmiError('EHMI_NOT_FOUND', `EAS holds no organisation ${id}`);
      return { organization: held.organization, endpoints: held.endpoints, devices: held.devices };
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/admin/organizations/:id',
    { schema: schemas.deleteOrganization },
    async (request, reply) => {
      const id = pathId(request.params.id);
      const removed = await opts.index.remove(id);
      request.log.info({ organization: id, removed }, 'eas: organisation removed');
      return reply.status(204).send();
    },
  );

  app.put<{ Params: { cpr: string } }>(
    '/admin/patients/:cpr',
    { schema: schemas.putPatient },
    async (request, reply) => {
      const cpr = normaliseCpr(request.params.cpr);
      const parsed = gpReferenceSchema.safeParse(request.body);
      if (!parsed.success) {
        throw new EhmiError(
          'EHMI_USAGE',
          `expected {sor?, ydernummer?, gln?} naming the GP: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`,
        );
      }
      const created = await opts.patients.put(cpr, parsed.data);
      return reply.status(created ? 201 : 200).send({ created });
    },
  );

  app.delete<{ Params: { cpr: string } }>(
    '/admin/patients/:cpr',
    { schema: schemas.deletePatient },
    async (request, reply) => {
      await opts.patients.remove(normaliseCpr(request.params.cpr));
      return reply.status(204).send();
    },
  );
}
