import type { FastifyRequest } from 'fastify';
import { type AccessClaims, isNetworkOperator } from '../authz.ts';

/**
 * The scopes of EDS (SMART v2 syntax, as EHMI's `EDS system/AuditEvent.crs`): registering an event needs
 * `system/AuditEvent.c`, reading and searching `system/AuditEvent.rs`; `system/AuditEvent.crs` grants both.
 */
export const EDS_CREATE_SCOPE = 'system/AuditEvent.c';
export const EDS_READ_SCOPE = 'system/AuditEvent.rs';
export const EDS_ALL_SCOPE = 'system/AuditEvent.crs';

/** The scopes a request to EDS needs, any one of which suffices (the `scope` of `requireAccessToken`). */
export function edsScopes(request: FastifyRequest): string[] | undefined {
  if (request.method === 'GET' || request.method === 'HEAD') return [EDS_READ_SCOPE, EDS_ALL_SCOPE];
  if (request.method === 'POST') return [EDS_CREATE_SCOPE, EDS_ALL_SCOPE];
  // PUT, PATCH, DELETE: a valid token suffices to learn that EDS allows none of them (405).
  return undefined;
}

/** Whose events a caller may register, read and search. */
export type Viewer =
  /** The node has no `authorization` (the `insecure` development switch), or the caller is the network operator. */
  | { kind: 'any'; patient?: string | undefined }
  /** A system client: events whose sender or receiver is one of its organisations (SOR or GLN). */
  | {
      kind: 'organisations';
      sors: string[];
      glns: string[];
      deviceId?: string | undefined;
      patient?: string | undefined;
    };

/**
 * Who is asking, from the token: a client of `authorization.operatorClients` sees every event; any other client
 * the events of the organisations its token names (`ehmi:org_context`), and with a patient restriction
 * (`ehmi:patient`) only that patient's; a token restricted to a patient that names no organisation (a citizen's)
 * that patient's events, whoever exchanged them. Undefined claims: the node serves without tokens (insecure).
 */
export function viewerOf(claims: AccessClaims | undefined, operatorClients: ReadonlySet<string>): Viewer {
  if (!claims) return { kind: 'any' };
  const patient = claims.patient?.cpr;
  if (isNetworkOperator(claims, operatorClients)) return { kind: 'any', patient };
  const contexts = claims.organisation?.contexts ?? [];
  // A citizen's token (restricted to one patient, no organisation): that patient's events, whoever exchanged them.
  if (patient !== undefined && contexts.length === 0) return { kind: 'any', patient };
  return {
    kind: 'organisations',
    sors: contexts.map((c) => c.sor).filter((s) => s !== ''),
    glns: contexts.map((c) => c.gln).filter((g) => g !== ''),
    deviceId: claims.organisation?.deviceId,
    patient,
  };
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {};
const list = (v: unknown): Json[] => (Array.isArray(v) ? v.map(obj) : []);

/** The identifiers of `source.observer`: its own, or those of the contained Device it points to, or its EER id. */
export function observerIds(event: Json): string[] {
  const observer = obj(obj(event.source).observer);
  const ids: string[] = [];
  const own = obj(observer.identifier).value;
  if (typeof own === 'string') ids.push(own);
  const reference = typeof observer.reference === 'string' ? observer.reference : '';
  if (reference.startsWith('#')) {
    const device = list(event.contained).find(
      (r) => r.resourceType === 'Device' && r.id === reference.slice(1),
    );
    for (const i of list(device?.identifier)) if (typeof i.value === 'string') ids.push(i.value);
  } else {
    const m = /(?:^|\/)Device\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/.*)?$/.exec(reference);
    if (m) ids.push(m[1]!);
  }
  return ids;
}

/**
 * Why `viewer` may not register `event` (undefined: it may). A system client registers only events where one of
 * its token's organisations (SOR or GLN of an `ehmi:org_context`) is the ehmiSender or the ehmiReceiver, and, when
 * its token names its EER device (`ehmi:eer:device_id`), only with that device as `source.observer`.
 */
export function registrationRefusal(
  viewer: Viewer,
  event: Json,
  parts: { sors: string[]; glns: string[] },
): string | undefined {
  if (viewer.kind === 'any') {
    if (viewer.patient !== undefined)
      return 'the access token is restricted to one patient: it reads, it does not register';
    return undefined;
  }
  if (viewer.patient !== undefined)
    return 'the access token is restricted to one patient: it reads, it does not register';
  if (viewer.sors.length === 0 && viewer.glns.length === 0) {
    return 'the access token names no organisation (ehmi:org_context): EDS cannot tell whose events it may register';
  }
  const ours =
    parts.sors.some((s) => viewer.sors.includes(s)) || parts.glns.some((g) => viewer.glns.includes(g));
  if (!ours) {
    return `the event's ehmiSender and ehmiReceiver (SOR ${parts.sors.join(', ') || 'none'}; GLN ${parts.glns.join(', ') || 'none'}) are not the organisation of the access token (SOR ${viewer.sors.join(', ') || 'none'}; GLN ${viewer.glns.join(', ') || 'none'})`;
  }
  if (viewer.deviceId !== undefined) {
    const observers = observerIds(event);
    if (!observers.includes(viewer.deviceId)) {
      return `the event's source.observer (${observers.join(', ') || 'none'}) is not the device of the access token (${viewer.deviceId})`;
    }
  }
  return undefined;
}
