import { EhmiError } from '@ehmi/errors';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  type AccessClaims,
  type AccessTokenVerifier,
  isNetworkOperator,
  mayReadPatientData,
  requireAccessToken,
} from '../authz.ts';

/**
 * The scopes of the EUA API, one per route group and direction (no EHMI document names them; the local network's
 * authorization server registers the same, `packages/network/src/auth.ts`).
 */
export const MSH_SCOPE = {
  /** Submit and resend: `POST /messages`, `POST /payloads`, `POST /messages/{id}/$resend`; `POST /ping`. */
  messagesWrite: 'msh/messages.write',
  /** Track: `GET /messages`, `GET /messages/{id}`, `GET /messages/{id}/journey`; `GET /pings`. */
  messagesRead: 'msh/messages.read',
  /** The inbox: `GET /inbox`, `/inbox/stream`, `/inbox/{id}`. */
  inboxRead: 'msh/inbox.read',
  /** Acknowledge and remove: `POST /inbox/{id}/$acknowledge`, `DELETE /inbox/{id}`. */
  inboxWrite: 'msh/inbox.write',
  /** List webhooks and their failures: `GET /webhooks`, `/webhooks/{id}`, `/webhooks/{id}/failures`. */
  webhooksRead: 'msh/webhooks.read',
  /** Register, remove and retry: `POST /webhooks`, `DELETE /webhooks/{id}`, `POST …/failures/{id}/$retry`. */
  webhooksWrite: 'msh/webhooks.write',
  /**
   * Resend a message and retry its dead-lettered jobs (`POST /messages/{id}/$resend`, `/$retry`) without submitting
   * anything new: what a support desk does for an organisation (DESIGN-NOTES.md "The operator's actions").
   */
  messagesResend: 'msh/messages.resend',
} as const;

/**
 * The scopes a client that acts for no organisation (the network's operator, its support desk) may use: reading
 * (webhooks too), resending and retrying. Never submitting, acknowledging, removing or registering: those are the
 * organisation's own acts.
 */
const OPERATOR_SCOPES: ReadonlySet<string> = new Set([
  MSH_SCOPE.messagesRead,
  MSH_SCOPE.inboxRead,
  MSH_SCOPE.webhooksRead,
  MSH_SCOPE.messagesResend,
]);

/** Resending and retrying: the organisation's EUA with its write scope, or the support desk with its own. */
const RESEND_SCOPES = [MSH_SCOPE.messagesWrite, MSH_SCOPE.messagesResend] as const;

/** The scope each route needs, by `<METHOD> <route>` (fastify's route pattern). */
const ROUTE_SCOPES: Readonly<Record<string, string | readonly string[]>> = {
  'POST /messages': MSH_SCOPE.messagesWrite,
  'POST /payloads': MSH_SCOPE.messagesWrite,
  'POST /messages/:id/$resend': RESEND_SCOPES,
  'POST /messages/:id/$retry': RESEND_SCOPES,
  'POST /ping': MSH_SCOPE.messagesWrite,
  'GET /pings': MSH_SCOPE.messagesRead,
  'GET /messages': MSH_SCOPE.messagesRead,
  'GET /messages/:id': MSH_SCOPE.messagesRead,
  'GET /messages/:id/journey': MSH_SCOPE.messagesRead,
  'GET /messages/:id/dead-letters': MSH_SCOPE.messagesRead,
  'GET /inbox': MSH_SCOPE.inboxRead,
  'GET /inbox/stream': MSH_SCOPE.inboxRead,
  'GET /inbox/:id': MSH_SCOPE.inboxRead,
  'POST /inbox/:id/$acknowledge': MSH_SCOPE.inboxWrite,
  'DELETE /inbox/:id': MSH_SCOPE.inboxWrite,
  'POST /webhooks': MSH_SCOPE.webhooksWrite,
  'GET /webhooks': MSH_SCOPE.webhooksRead,
  'GET /webhooks/:id': MSH_SCOPE.webhooksRead,
  'DELETE /webhooks/:id': MSH_SCOPE.webhooksWrite,
  'GET /webhooks/:id/failures': MSH_SCOPE.webhooksRead,
  'POST /webhooks/:id/failures/:deliveryId/$retry': MSH_SCOPE.webhooksWrite,
};

/**
 * The scope a request needs; undefined for a path no route serves (a valid token of this organisation then gets
 * the 404). HEAD is GET's (fastify serves HEAD for every GET route).
 */
export function mshScopeOf(request: FastifyRequest): string | readonly string[] | undefined {
  const method = request.method === 'HEAD' ? 'GET' : request.method;
  const route = request.routeOptions.url;
  return route === undefined ? undefined : ROUTE_SCOPES[`${method} ${route}`];
}

/**
 * Who may use this MSH, once the token is valid and grants the scope: a client acting for this MSH's organisation
 * (its GLN among the token's `ehmi:org_context`), or a client that acts for no organisation, is one of the node's
 * `authorization.operatorClients` or `msh.operatorClients` (or a person with the `network-operator` role) and only
 * reads, resends and retries. A token for another organisation, or an
 * operator asking to write, is refused with 403 (`forbidden`): the token is valid, this MSH does not serve its
 * holder that request.
 */
export function checkOrganisation(
  claims: AccessClaims,
  options: {
    gln: string;
    scope: string | readonly string[] | undefined;
    operatorClients: ReadonlySet<string>;
  },
): void {
  const contexts = claims.organisation?.contexts ?? [];
  if (contexts.some((c) => c.gln === options.gln)) return;
  if (contexts.length > 0) {
    throw new EhmiError(
      'EHMI_FORBIDDEN',
      `the access token is for another organisation (GLN ${contexts.map((c) => c.gln).join(', ')}), not this MSH's (GLN ${options.gln})`,
    );
  }
  if (!isNetworkOperator(claims, options.operatorClients)) {
    throw new EhmiError(
      'EHMI_FORBIDDEN',
      `the access token names no organisation, and client ${claims.clientId} is not one of authorization.operatorClients or msh.operatorClients`,
    );
  }
  const needed =
    options.scope === undefined ? [] : typeof options.scope === 'string' ? [options.scope] : options.scope;
  if (needed.length > 0 && !needed.some((s) => OPERATOR_SCOPES.has(s))) {
    throw new EhmiError(
      'EHMI_FORBIDDEN',
      `client ${claims.clientId} acts for no organisation: it may read this MSH's messages, inbox and webhooks, resend and retry, not ${needed.join(' ')} (submitting, acknowledging, removing and registering webhooks are the organisation's own acts)`,
    );
  }
}

/**
 * The patient the request's access token is restricted to (its CPR), or undefined: every patient (a token without
 * the restriction, or no token where the node has no `authorization`). With one, the MSH lists only messages about
 * that patient, answers 404 for any other as for one that does not exist (their ids are not guessed, and a 403
 * would tell that the message exists and is about someone else), and refuses (403) a submission about another
 * patient or whose patient it cannot read.
 */
export function restrictedPatient(request: FastifyRequest): string | undefined {
  return request.access?.patient?.cpr;
}

/** `POST /payloads` with a token restricted to one patient: the MSH cannot read a payload's patient. */
export function refusePayloadForPatient(request: FastifyRequest): void {
  if (restrictedPatient(request) !== undefined) {
    throw new EhmiError(
      'EHMI_FORBIDDEN',
      'the access token is restricted to one patient, and the MSH cannot read the patient of a payload: submit a MedCom FHIR message with POST /messages',
    );
  }
}

/**
 * The `onRequest` hook of the EUA API when the node has `authorization`: a valid access token for this MSH (its
 * audience, bound to the client certificate, with the route's scope: `requireAccessToken`), then the organisation
 * check ({@link checkOrganisation}). The verifier is given once the MSH listens (its audience is its URL, known
 * then); a request before that is answered 503.
 */
export function requireMshAccess(options: {
  verifier: () => AccessTokenVerifier | undefined;
  gln: string;
  operatorClients: readonly string[];
  open: ReadonlySet<string>;
}): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  const operatorClients = new Set(options.operatorClients);
  let hook: ReturnType<typeof requireAccessToken> | undefined;
  let hookOf: AccessTokenVerifier | undefined;
  return async (request, reply) => {
    if (options.open.has(request.url.split('?')[0]!)) return;
    const verifier = options.verifier();
    if (!verifier) throw new EhmiError('EHMI_UNAVAILABLE', 'the message service handler is starting');
    if (hookOf !== verifier) {
      // A token restricted to one patient is served that patient's messages only (restrictedPatient, routes.ts).
      hook = requireAccessToken(verifier, {
        scope: mshScopeOf,
        open: options.open,
        honoursPatientRestriction: true,
      });
      hookOf = verifier;
    }
    await hook!(request, reply);
    checkOrganisation(request.access!, {
      gln: options.gln,
      scope: mshScopeOf(request),
      operatorClients,
    });
    // Patient data is read by a person (a console user) only with `patient-data`: an inbox item's content, and a
    // search of the messages by patient (which says which messages are about that patient).
    if (request.method === 'GET' && !mayReadPatientData(request.access)) {
      if (request.routeOptions.url === '/inbox/:id') {
        throw new EhmiError(
          'EHMI_FORBIDDEN',
          'the content of an inbox item is patient data, and the signed-in user is not entitled to patient data',
        );
      }
      if (
        request.routeOptions.url === '/messages' &&
        (request.query as { patient?: unknown }).patient !== undefined
      ) {
        throw new EhmiError('EHMI_FORBIDDEN', 'a search by patient needs the patient-data entitlement');
      }
    }
  };
}
