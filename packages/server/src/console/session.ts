// The console's signed-in user and its calls to the network's public APIs: the interface between the console role
// (sign-in, sessions, tokens: `console/index.ts`) and the console's data routes (`console/api/`).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { ServerAudit } from '../audit/http.ts';
import type { ConsoleReadings } from './readings.ts';

/**
 * The roles of a console user (an account at the authorization server, `auth/accounts.ts`):
 * `network-operator` sees the whole network (what the network's `operator` client may read);
 * `org-operator` and `support` see their own organisation only (`org-operator` may also act: acknowledge, resend).
 */
export const USER_ROLES = ['network-operator', 'org-operator', 'support'] as const;
export type UserRole = (typeof USER_ROLES)[number];

/** The entitlement to see patient data (a role of its own, given beside one of {@link USER_ROLES}). */
export const PATIENT_DATA = 'patient-data';

/** The signed-in user, as the id token and the account say. */
export interface ConsoleUser {
  /** The account's user name (`sub` of its tokens). */
  readonly subject: string;
  /** Display name. */
  readonly name: string;
  readonly roles: readonly UserRole[];
  /** Whether the user may see patient data (the `patient-data` entitlement). */
  readonly patientData: boolean;
  /** The organisation of an `org-operator` or `support` user; none for a network operator. */
  readonly organisation?: { readonly gln: string; readonly sor: string; readonly name?: string };
}

/**
 * A public API of the network by name, as network.json `services` and `organisations` name them: `eds`, `eer`,
 * `eas`, `smp` (the SMP's read API, plain HTTP, called without a token), `smp-admin`, `auth`, `msh:<organisation>`,
 * `ap:<organisation>`, `node:<organisation>` or `node:central` (health, metrics, the audit log's search). The console
 * knows them from its config (`console.services`).
 */
export type ConsoleService = string;

/**
 * Call a public API as the signed-in user: `path` (with its query) on the service's base URL, with an access token
 * for that service (RFC 8707 `resource` = its base URL) bound to the console's client certificate, which it
 * presents. The token is the user's (its `sub`, roles and organisation), got or renewed with the session's refresh
 * token; the resource server decides what the user may see. Returns the service's Response as it is (4xx and 5xx
 * too). Throws EHMI_UNAUTHORIZED when the session can get no token any more (then the user must sign in again:
 * the console answers 401), EHMI_USAGE for a service it does not know, EHMI_UNAVAILABLE when the service cannot be
 * reached.
 *
 * @example
 * const res = await request.callApi('eds', '/AuditEvent?_count=50');
 * const bundle = await res.json();
 */
export type CallApi = (service: ConsoleService, path: string, init?: RequestInit) => Promise<Response>;

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in user of a console API request (set before the console's data routes run). */
    consoleUser?: ConsoleUser;
    /** Call a public API as the signed-in user (see {@link CallApi}); set with `consoleUser`. */
    callApi: CallApi;
  }
}

/** What the console role gives the data routes (`registerConsoleApi`). */
export interface ConsoleApiDeps {
  /** The public APIs the console may call, by service name → base URL (no trailing slash). */
  readonly services: Readonly<Record<ConsoleService, string>>;
  /** The node's audit log, for what the console itself records (each view of patient data, say). */
  readonly audit?: ServerAudit;
  readonly logger: Logger;
  /**
   * The console's own readings of the nodes' counters (`console_readings`, taken by its sampler) and how far back
   * the health page's charts reach; none: no charts.
   */
  readonly history?: { readonly readings: ConsoleReadings; readonly spanMs: number };
}

/**
 * Registers the console's data routes (written in `console/api/`). The role calls it inside a fastify scope with
 * the prefix `/api` whose every route already has, before its handler: a valid session (else 401
 * `{ error: "unauthenticated" }`), `request.consoleUser` and `request.callApi`, and, for every method but GET and
 * HEAD, the CSRF checks (the `Origin` is the console's own, and the header `x-ehmi-console: 1`; else 403). Routes
 * are registered relative to the prefix (`app.get('/messages', …)` serves `GET /api/messages`). `GET /api/session`
 * is the role's own.
 */
export type RegisterConsoleApi = (app: FastifyInstance, deps: ConsoleApiDeps) => Promise<void>;

/** The request header a state-changing console API call carries (the CSRF defence beside the Origin check). */
export const CSRF_HEADER = 'x-ehmi-console';

/** A `preHandler` that refuses a request without a signed-in user (401); the role's scope of `/api` has it. */
export type RequireUser = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
