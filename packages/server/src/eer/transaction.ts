import { randomUUID } from 'node:crypto';
import { EhmiError, type OperationOutcome } from '@ehmi/errors';
import { type EerType, type EerValidator, isEerType } from './profiles.ts';
import { type EerRepository, ID_RE, type Json, type WriteOp } from './repository.ts';

const bad = (message: string, expression: string) =>
  new EhmiError('EHMI_INPUT_UNREADABLE', message, { expression: [expression] });

/** Replaces every `reference` equal to a key of `map` (R4 bundle.html §2.36.4.1: resolving urn:uuid fullUrls). */
function rewriteReferences(value: unknown, map: Map<string, string>): unknown {
  if (Array.isArray(value)) return value.map((v) => rewriteReferences(v, map));
  if (value === null || typeof value !== 'object') return value;
  const out: Json = {};
  for (const [k, v] of Object.entries(value as Json)) {
    out[k] =
      k === 'reference' && typeof v === 'string' && map.has(v) ? map.get(v) : rewriteReferences(v, map);
  }
  return out;
}

interface Planned extends WriteOp {
  index: number;
}

/**
 * A FHIR transaction Bundle (R4 http.html §3.1.0.11): POST, PUT and DELETE entries of EER resources, references
 * between them by `fullUrl` (urn:uuid:… or absolute) rewritten to the ids the server assigns, every resource
 * validated first (any failure: 422, nothing written), then all written in one database transaction.
 */
export async function processTransaction(
  bundle: Json,
  o: {
    repository: EerRepository;
    validator: EerValidator;
    baseUrl: string;
    minimal: boolean;
    /** Called with the types the Bundle writes before anything is validated or written; throws to refuse. */
    authorize?: (types: readonly EerType[]) => void;
    /**
     * Called for each entry once its references are rewritten, before anything is written, with every resource the
     * Bundle writes (`Type/id` →); throws to refuse the whole Bundle.
     */
    authorizeEntry?: (
      entry: { type: EerType; id: string; resource: Json | undefined },
      pending: ReadonlyMap<string, Json>,
    ) => Promise<void>;
  },
): Promise<{ response: Json; writes: number }> {
  if (bundle.resourceType !== 'Bundle') throw bad('POST [base] takes a transaction Bundle', 'resourceType');
  if (bundle.type !== 'transaction') {
    throw new EhmiError(
      'EHMI_NOT_SUPPORTED',
      `Bundle.type '${String(bundle.type)}': EER processes transaction Bundles only`,
      {
        expression: ['Bundle.type'],
      },
    );
  }
  const entries = Array.isArray(bundle.entry) ? (bundle.entry as Json[]) : [];
  const planned: Planned[] = [];
  const references = new Map<string, string>();
  entries.forEach((entry, index) => {
    const at = `Bundle.entry[${index}]`;
    const request = entry.request as Json | undefined;
    const method = request?.method;
    const url = typeof request?.url === 'string' ? request.url.replace(/^\/+/, '') : undefined;
    if (method !== 'POST' && method !== 'PUT' && method !== 'DELETE') {
      throw bad(`${at}.request.method must be POST, PUT or DELETE`, `${at}.request.method`);
    }
    if (!url || url.includes('?'))
      throw bad(`${at}.request.url must be [type] or [type]/[id]`, `${at}.request.url`);
    const [type, id, more] = url.split('/');
    if (!type || !isEerType(type)) {
      throw new EhmiError(
        'EHMI_NOT_FOUND',
        `${at}: EER serves Organization, Endpoint and Device, not '${type}'`,
        {
          expression: [`${at}.request.url`],
        },
      );
    }
    if (more !== undefined || (method === 'POST' ? id !== undefined : !id || !ID_RE.test(id))) {
      throw bad(`${at}.request.url '${url}' does not fit ${method}`, `${at}.request.url`);
    }
    const resource = entry.resource as Json | undefined;
    if (method !== 'DELETE') {
      if (!resource || typeof resource !== 'object' || resource.resourceType !== type) {
        throw bad(`${at}.resource must be a ${type}`, `${at}.resource`);
      }
      if (method === 'PUT' && resource.id !== id) {
        throw bad(`${at}.resource.id is not the id of ${url}`, `${at}.resource.id`);
      }
    }
    const assigned = method === 'POST' ? randomUUID() : id!;
    if (method === 'POST' && typeof entry.fullUrl === 'string')
      references.set(entry.fullUrl, `${type}/${assigned}`);
    const ifMatch = typeof request?.ifMatch === 'string' ? /(\d+)/.exec(request.ifMatch)?.[1] : undefined;
    planned.push({
      index,
      method,
      type: type as EerType,
      id: assigned,
      ...(resource ? { resource: { ...resource, id: assigned } } : {}),
      ...(ifMatch ? { ifMatch: Number(ifMatch) } : {}),
    });
  });
  o.authorize?.([...new Set(planned.map((p) => p.type))]);
  for (const p of planned) if (p.resource) p.resource = rewriteReferences(p.resource, references) as Json;
  if (o.authorizeEntry) {
    const pending = new Map(planned.flatMap((p) => (p.resource ? [[`${p.type}/${p.id}`, p.resource]] : [])));
    for (const p of planned)
      await o.authorizeEntry({ type: p.type, id: p.id, resource: p.resource }, pending);
  }
  const issues: OperationOutcome['issue'] = [];
  for (const p of planned) {
    if (!p.resource) continue;
    const { ok, outcome } = o.validator.validate(p.type, p.resource);
    if (ok) continue;
    const prefix = `Bundle.entry[${p.index}].resource`;
    for (const i of outcome.issue) {
      if (i.severity !== 'error' && i.severity !== 'fatal') continue;
      issues.push({
        ...i,
        ...(i.expression ? { expression: i.expression.map((e) => e.replace(p.type, prefix)) } : {}),
      });
    }
  }
  if (issues.length > 0) {
    throw new EhmiError(
      'EHMI_VALIDATION_FAILED',
      'a resource of the transaction does not conform to its EER profile',
      {
        details: { outcome: { resourceType: 'OperationOutcome', issue: issues } },
      },
    );
  }
  // R4 http.html §3.1.0.11.2 processing order: DELETE, then POST, then PUT.
  const order = { DELETE: 0, POST: 1, PUT: 2 } as const;
  const sorted = [...planned].sort((a, b) => order[a.method] - order[b.method] || a.index - b.index);
  const results = await o.repository.transaction(sorted);
  const byIndex = new Map(sorted.map((p, i) => [p.index, results[i]!]));
  const response = {
    resourceType: 'Bundle',
    type: 'transaction-response',
    entry: planned.map((p) => {
      const r = byIndex.get(p.index)!;
      const v = r.version;
      return {
        ...(p.method !== 'DELETE' ? { fullUrl: `${o.baseUrl}/${p.type}/${p.id}` } : {}),
        ...(v.resource && !o.minimal ? { resource: v.resource } : {}),
        response: {
          status: p.method === 'DELETE' ? '204 No Content' : r.created ? '201 Created' : '200 OK',
          ...(p.method !== 'DELETE' ? { location: `${p.type}/${p.id}/_history/${v.versionId}` } : {}),
          etag: `W/"${v.versionId}"`,
          lastModified: new Date(v.lastUpdated).toISOString(),
        },
      };
    }),
  };
  return { response, writes: planned.length };
}
