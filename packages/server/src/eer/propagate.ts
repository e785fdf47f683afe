import { EhmiError } from '@ehmi/errors';
import { medcomDocumentId, medcomDocumentType } from '@ehmi/smp';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { JobQueue } from '../store/index.ts';
import type { Job } from '../store/queue.ts';
import { EXT, GLN_SYSTEMS } from './profiles.ts';
import type { Json, WriteHook } from './repository.ts';
import { PROPAGATE_QUEUE } from './role.ts';
import { referenceKey } from './search-params.ts';
import type { EerStore, EerTables } from './tables.ts';

export { PROPAGATE_QUEUE };

export type PropagationTarget = 'smp' | 'eas';

export interface PropagateJob {
  organizationId: string;
  target: PropagationTarget;
}

/** What EER needs of an SMP admin client (`SmpAdminClient` in smp-admin-client.ts has this shape). */
export interface SmpPublisher {
  publishServiceGroup(participant: string): Promise<boolean>;
  publishServiceMetadata(input: {
    participant: string;
    documentType: string;
    process: string;
    endpointUrl: string;
    certificatePem: Uint8Array;
    serviceActivationDate?: Date;
    serviceExpirationDate?: Date;
    serviceDescription?: string;
  }): Promise<boolean>;
  removeServiceMetadata(participant: string, documentType: string): Promise<boolean>;
  removeServiceGroup(participant: string): Promise<boolean>;
}

/** What EER sends to EAS for one organisation (`PUT {eas}/admin/organizations/{id}`). */
export interface EasFeed {
  organization: Json;
  endpoints: Json[];
  devices: Json[];
}

export interface EasPublisher {
  put(organizationId: string, feed: EasFeed): Promise<void>;
  remove(organizationId: string): Promise<void>;
}

/** ehmiSBDH PROCESSID (ehmi-core §2.3): the one process every MedCom message travels in. */
export const EHMI_PROCESS = 'urn:ehmi:sdn-emergence';

/** Endpoint.connectionType codes (CodeSystem eer-endpoint-connection-type) that mean "through an eDelivery AP". */
export const EDELIVERY_CONNECTION_TYPES = new Set(['EerMessagingEdelivery', 'EerMessagingEdeliveryFhir']);

const asArray = (v: unknown): Json[] =>
  (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v]).filter(
    (x): x is Json => typeof x === 'object' && x !== null,
  );

export async function current(db: Kysely<EerTables>, type: string, id: string): Promise<Json | undefined> {
  const row = await db
    .selectFrom('eer_resources')
    .select('content')
    .where('resource_type', '=', type)
    .where('id', '=', id)
    .where('deleted', '=', 0)
    .executeTakeFirst();
  return row?.content ? (JSON.parse(row.content) as Json) : undefined;
}

export async function referrers(
  db: Kysely<EerTables>,
  type: string,
  param: string,
  key: string,
): Promise<string[]> {
  const rows = await db
    .selectFrom('eer_search')
    .select('resource_id')
    .where('resource_type', '=', type)
    .where('param', '=', param)
    .where('value', '=', key)
    .execute();
  return rows.map((r) => r.resource_id);
}

function refIds(refs: unknown, type: string, base: string | undefined): string[] {
  return asArray(refs)
    .map((r) => referenceKey(r.reference as string | undefined, base))
    .filter((k): k is string => k?.startsWith(`${type}/`) === true)
    .map((k) => k.slice(type.length + 1));
}

function extensionRefIds(resource: Json, urls: readonly string[], base: string | undefined): string[] {
  return refIds(
    asArray(resource.extension)
      .filter((e) => urls.includes(e.url as string))
      .map((e) => e.valueReference),
    'Device',
    base,
  );
}

/** The organisations whose published state a write may change (run inside the write's transaction). */
export async function affectedOrganizations(
  db: Kysely<EerTables>,
  change: Parameters<WriteHook>[1],
  base: string | undefined,
): Promise<string[]> {
  const orgs = new Set<string>();
  const ofEndpoint = async (id: string, versions: (Json | undefined)[]) => {
    for (const v of versions)
      if (v) for (const o of refIds(v.managingOrganization, 'Organization', base)) orgs.add(o);
    for (const o of await referrers(db, 'Organization', 'endpoint', `Endpoint/${id}`)) orgs.add(o);
  };
  if (change.type === 'Organization') orgs.add(change.id);
  else if (change.type === 'Endpoint') await ofEndpoint(change.id, [change.before, change.after]);
  else {
    const key = `Device/${change.id}`;
    for (const e of await referrers(db, 'Endpoint', 'device', key))
      await ofEndpoint(e, [await current(db, 'Endpoint', e)]);
    for (const o of await referrers(db, 'Organization', 'device', key)) orgs.add(o);
  }
  return [...orgs].sort();
}

/** An organisation as the targets see it: its current version, its endpoints and the devices they name. */
export async function organizationView(
  db: Kysely<EerTables>,
  organizationId: string,
  base: string | undefined,
): Promise<EasFeed | undefined> {
  const organization = await current(db, 'Organization', organizationId);
  if (!organization) return undefined;
  const endpointIds = new Set([
    ...refIds(organization.endpoint, 'Endpoint', base),
    ...(await referrers(db, 'Endpoint', 'organization', `Organization/${organizationId}`)),
  ]);
  const endpoints: Json[] = [];
  for (const id of [...endpointIds].sort()) {
    const e = await current(db, 'Endpoint', id);
    if (e) endpoints.push(e);
  }
  const deviceIds = new Set([
    ...extensionRefIds(organization, [EXT.euaSystem, EXT.mshSystem], base),
    ...endpoints.flatMap((e) => extensionRefIds(e, [EXT.apSystem, EXT.mshSystem], base)),
  ]);
  const devices: Json[] = [];
  for (const id of [...deviceIds].sort()) {
    const d = await current(db, 'Device', id);
    if (d) devices.push(d);
  }
  return { organization, endpoints, devices };
}

/** One ServiceMetadata EER wants the SMP to hold. */
export interface SmpEntry {
  participant: string;
  documentType: string;
  endpointUrl: string;
  certificateDer: Buffer;
  activation?: Date;
  expiration?: Date;
  /** The Endpoint it comes from. */
  endpointId: string;
}

/**
 * The SMP document type of an Endpoint.payloadType code. The codes of `ehmi-message-definition-uri` are already
 * ehmiSBDH DOCUMENTIDs in the current form (ehmi-core §2.3); an older spelling of a MedCom message (`…:homecare-
 * observation:1.1`, `…homecareobservation#…:1.1`) is rewritten to the current form (`medcomDocumentId` of
 * @ehmi/smp) because that is what a sender's ehmiSBDH carries; anything else is published as written.
 */
export function documentTypeOf(code: string): string {
  const known = medcomDocumentType(code);
  if (!known || known.form === 'current') return code;
  const name =
    known.canonicalName === 'ehmisbdh-acknowledgement'
      ? known.canonicalName
      : `${known.canonicalName}-message`;
  return medcomDocumentId(name, known.version).value;
}

/** The AP certificate (DER) a Device or Endpoint carries in its `smp-public-key` extension. */
export function certificateOf(resource: Json | undefined): Buffer | undefined {
  if (!resource) return undefined;
  for (const ext of asArray(resource.extension)) {
    if (ext.url !== EXT.smpPublicKey) continue;
    for (const part of asArray(ext.extension)) {
      if (
        (part.url === EXT.smpPublicCertificate || part.url === 'certificate') &&
        typeof part.valueBase64Binary === 'string'
      ) {
        return Buffer.from(part.valueBase64Binary, 'base64');
      }
    }
  }
  return undefined;
}

/**
 * What the SMP should hold for an organisation (ehmi-core §4.1 "EER will be the master register for SMP
 * registrations"): for each active eDelivery Endpoint, participant `iso6523-actorid-upis::0088:<GLN>` from its
 * GLN-ID ("SOR-GLN is now the primary identifier of an EER-Endpoint"), one ServiceMetadata per payloadType, with
 * the AP's URL (the AP Device's `url` when it has one, as in the EER pilot's EER_AP_Technical_Details, else
 * Endpoint.address) and the AP certificate (`smp-public-key` on the Endpoint, else on its AP Device).
 */
export function smpEntries(view: EasFeed, now: number, log?: (msg: string) => void): SmpEntry[] {
  const devices = new Map(view.devices.map((d) => [d.id as string, d]));
  const out = new Map<string, SmpEntry>();
  for (const e of view.endpoints) {
    const id = e.id as string;
    const connection = e.connectionType as Json | undefined;
    if (e.status !== 'active' || !EDELIVERY_CONNECTION_TYPES.has(connection?.code as string)) continue;
    const period = (e.period as Json | undefined) ?? {};
    const end = typeof period.end === 'string' ? new Date(period.end) : undefined;
    const start = typeof period.start === 'string' ? new Date(period.start) : undefined;
    if (end && end.getTime() <= now) continue;
    const gln = asArray(e.identifier).find((i) =>
      (GLN_SYSTEMS as readonly string[]).includes(i.system as string),
    )?.value as string | undefined;
    if (!gln) {
      log?.(`Endpoint/${id} has no GLN identifier: not published to the SMP`);
      continue;
    }
    const apId = asArray(e.extension)
      .filter((x) => x.url === EXT.apSystem)
      .map((x) => ((x.valueReference as Json | undefined)?.reference as string | undefined)?.split('/').pop())
      .find((x) => x !== undefined && devices.has(x));
    const ap = apId ? devices.get(apId) : undefined;
    const endpointUrl =
      (typeof ap?.url === 'string' ? ap.url : undefined) ?? (e.address as string | undefined);
    const certificateDer = certificateOf(e) ?? certificateOf(ap);
    if (!endpointUrl || !certificateDer) {
      log?.(
        `Endpoint/${id} has no ${endpointUrl ? 'AP certificate (smp-public-key)' : 'address'}: not published to the SMP`,
      );
      continue;
    }
    const participant = `iso6523-actorid-upis::0088:${gln}`;
    for (const pt of asArray(e.payloadType)) {
      for (const c of asArray(pt.coding)) {
        if (typeof c.code !== 'string') continue;
        const documentType = documentTypeOf(c.code);
        const key = `${participant}\u0000${documentType}`;
        if (out.has(key)) continue;
        out.set(key, {
          participant,
          documentType,
          endpointUrl,
          certificateDer,
          endpointId: id,
          ...(start && !Number.isNaN(start.getTime()) ? { activation: start } : {}),
          ...(end && !Number.isNaN(end.getTime()) ? { expiration: end } : {}),
        });
      }
    }
  }
  return [...out.values()];
}

export interface PropagatorOptions {
  store: EerStore;
  logger: Logger;
  baseUrl: () => string | undefined;
  smp?: SmpPublisher | undefined;
  eas?: EasPublisher | undefined;
  now?: () => number;
}

/** Runs `eer.propagate` jobs: reads the organisation's current state and makes the target match it. */
export class Propagator {
  readonly #o: PropagatorOptions;

  constructor(options: PropagatorOptions) {
    this.#o = options;
  }

  get targets(): PropagationTarget[] {
    return [...(this.#o.smp ? (['smp'] as const) : []), ...(this.#o.eas ? (['eas'] as const) : [])];
  }

  /** The write hook: enqueue one job per affected organisation and configured target, in the write's transaction. */
  hook(queue: JobQueue): WriteHook {
    return async (trx, change) => {
      if (this.targets.length === 0) return;
      for (const organizationId of await affectedOrganizations(trx, change, this.#o.baseUrl())) {
        for (const target of this.targets) {
          await queue.enqueue(trx, { queue: PROPAGATE_QUEUE, payload: { organizationId, target } });
        }
      }
    };
  }

  async run(job: Job<PropagateJob>): Promise<void> {
    const { organizationId, target } = job.payload;
    const db = this.#o.store.db;
    const view = await organizationView(db, organizationId, this.#o.baseUrl());
    const log = this.#o.logger.child({ organizationId, target, job: job.id });
    if (target === 'eas') {
      if (!this.#o.eas) return log.warn('EAS is not configured (eer.eas): not propagated');
      if (view) await this.#o.eas.put(organizationId, view);
      else await this.#o.eas.remove(organizationId);
      log.info(
        { endpoints: view?.endpoints.length ?? 0 },
        view ? 'organisation pushed to EAS' : 'organisation removed from EAS',
      );
      return;
    }
    if (!this.#o.smp) return log.warn('SMP is not configured (eer.smp): not propagated');
    const smp = this.#o.smp;
    const wanted = view ? smpEntries(view, (this.#o.now ?? Date.now)(), (m) => log.warn(m)) : [];
    const before = await db
      .selectFrom('eer_smp_published')
      .select(['participant', 'document_type'])
      .where('organization_id', '=', organizationId)
      .execute();
    for (const participant of new Set(wanted.map((w) => w.participant)))
      await smp.publishServiceGroup(participant);
    for (const w of wanted) {
      await smp.publishServiceMetadata({
        participant: w.participant,
        documentType: w.documentType,
        process: EHMI_PROCESS,
        endpointUrl: w.endpointUrl,
        certificatePem: w.certificateDer,
        serviceDescription: `EER Endpoint/${w.endpointId}`,
        ...(w.activation ? { serviceActivationDate: w.activation } : {}),
        ...(w.expiration ? { serviceExpirationDate: w.expiration } : {}),
      });
    }
    const key = (p: string, d: string) => `${p}\u0000${d}`;
    const keep = new Set(wanted.map((w) => key(w.participant, w.documentType)));
    const stale = before.filter((b) => !keep.has(key(b.participant, b.document_type)));
    for (const s of stale) await smp.removeServiceMetadata(s.participant, s.document_type);
    const keptParticipants = new Set(wanted.map((w) => w.participant));
    for (const participant of new Set(stale.map((s) => s.participant))) {
      if (keptParticipants.has(participant)) continue;
      const others = await db
        .selectFrom('eer_smp_published')
        .select('organization_id')
        .where('participant', '=', participant)
        .where('organization_id', '!=', organizationId)
        .executeTakeFirst();
      if (!others) await smp.removeServiceGroup(participant);
    }
    await this.#o.store.transaction(async (trx) => {
      await trx.deleteFrom('eer_smp_published').where('organization_id', '=', organizationId).execute();
      if (wanted.length > 0) {
        await trx
          .insertInto('eer_smp_published')
          .values(
            wanted.map((w) => ({
              organization_id: organizationId,
              participant: w.participant,
              document_type: w.documentType,
            })),
          )
          .execute();
      }
    });
    log.info({ published: wanted.length, removed: stale.length }, 'organisation published to the SMP');
  }
}

/** The EAS admin API client (`PUT`/`DELETE {eas}/admin/organizations/{id}`, bearer token). */
export class EasAdminClient implements EasPublisher {
  readonly #base: string;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  /**
   * `token`: EAS's static `eas.adminToken` (development only); without it `fetch` authenticates each request (a
   * `TokenClient`'s fetch: mTLS and an access token with `eas/index.write`).
   */
  constructor(options: { baseUrl: string; token?: string; timeoutMs: number; fetch?: typeof fetch }) {
    this.#base = options.baseUrl.replace(/\/+$/, '');
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs;
    this.#fetch = options.fetch ?? fetch;
  }

  async put(organizationId: string, feed: EasFeed): Promise<void> {
    await this.#request('PUT', organizationId, JSON.stringify(feed));
  }

  async remove(organizationId: string): Promise<void> {
    await this.#request('DELETE', organizationId);
  }

  async #request(method: 'PUT' | 'DELETE', organizationId: string, body?: string): Promise<void> {
    const url = `${this.#base}/admin/organizations/${encodeURIComponent(organizationId)}`;
    let res: Response;
    try {
      res = await this.#fetch(url, {
        method,
        headers: {
          ...(this.#token !== undefined ? { authorization: `Bearer ${this.#token}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body } : {}),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      // The token client's own refusal (the authorization server's reason) is passed on as it is.
      if (err instanceof EhmiError) throw err;
      throw new EhmiError(
        'EHMI_UNAVAILABLE',
        `EAS admin ${method} ${url} failed: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    const text = await res.text();
    if (res.ok || (method === 'DELETE' && res.status === 404)) return;
    const message = `EAS admin ${method} ${url} answered ${res.status}: ${text.slice(0, 300)}`;
    // 5xx and 429 may pass; anything else is this request's fault and will not get better by retrying.
    if (res.status >= 500 || res.status === 429) throw new EhmiError('EHMI_UNAVAILABLE', message);
    if (res.status === 401) throw new EhmiError('EHMI_UNAUTHORIZED', message);
    if (res.status === 403) throw new EhmiError('EHMI_FORBIDDEN', message);
    throw new EhmiError('EHMI_USAGE', message);
  }
}
