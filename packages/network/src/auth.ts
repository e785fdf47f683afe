import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Config } from '@ehmi/server';
import type { OrganisationSpec } from './organisations.ts';
import type { NetworkClientName } from './pki-files.ts';

/**
 * The scopes of an organisation's MSH API (the EUA's interface; no EHMI document names them, so these are the
 * network's own, one per route group and direction): `msh/messages.write` submit and resend (`POST /messages`,
 * `POST /messages/{id}/$resend`), `msh/messages.read` track (`GET /messages`, `GET /messages/{id}`),
 * `msh/inbox.read` the inbox (`GET /inbox`, `/inbox/stream`, `/inbox/{id}`), `msh/inbox.write` acknowledge and
 * remove (`POST /inbox/{id}/$acknowledge`, `DELETE /inbox/{id}`), `msh/webhooks.read` list webhooks and their
 * failures, `msh/webhooks.write` register, remove and retry (`/webhooks`), `msh/messages.resend` resend and retry a
 * message's dead-lettered jobs without submitting anything (`POST /messages/{id}/$resend`, `/$retry`).
 */
export const MSH_SCOPES = [
  'msh/messages.write',
  'msh/messages.read',
  'msh/inbox.read',
  'msh/inbox.write',
  'msh/webhooks.read',
  'msh/webhooks.write',
  'msh/messages.resend',
];
/** Reading the MSH API: what the operator may. */
export const MSH_READ_SCOPES = ['msh/messages.read', 'msh/inbox.read', 'msh/webhooks.read'];
/**
 * What the network's operator (its support desk) may do at an organisation's MSH beside reading: resend a message
 * and retry its dead-lettered jobs. Acknowledging is the receiving organisation's act, submitting the sender's.
 */
export const MSH_SUPPORT_SCOPES = ['msh/messages.resend'];
/** EER reads (docs/specs/security.md: `system/Endpoint.rs system/Organization.rs`, and Device). */
export const EER_READ_SCOPES = ['system/Organization.rs', 'system/Endpoint.rs', 'system/Device.rs'];
/** EER writes (create, read, update, delete, search), the maintainer's. */
export const EER_WRITE_SCOPES = ['system/Organization.cruds', 'system/Endpoint.cruds', 'system/Device.cruds'];
/**
 * Reading and searching EHMI Delivery Status (ehmi-core §3, SMART v2; the server's `EDS_READ_SCOPE`): the operator
 * reads every event, an organisation's client the events of the messages it took part in.
 */
export const EDS_READ_SCOPES = ['system/AuditEvent.rs'];
/** EAS lookups (docs/specs/security.md: `system/Organization.rs`). */
export const EAS_SCOPES = ['system/Organization.rs'];
/**
 * The EAS lookup by CPR (`$getReceivingOrganizationByPatientId`), personal data, so a scope of its own
 * (the server's `EAS_PATIENT_SCOPE`; written out here so that this module does not load the server): the organisations' EUAs address by patient; the operator does not.
 */
export const EAS_PATIENT_SCOPES = ['eas/patient-gp.r'];
/** EAS's admin API, EER's feed (the server's `EAS_ADMIN_SCOPE`). */
export const EAS_ADMIN_SCOPES = ['eas/index.write'];
/** The SMP's admin API, EER's publication (the server's `SMP_ADMIN_SCOPE`). */
export const SMP_ADMIN_SCOPES = ['smp/publication.write'];
/**
 * EDS (docs/specs/security.md: `EDS system/AuditEvent.crs`): registering a delivery status event and reading them
 * (the server's `EDS_CREATE_SCOPE` and `EDS_READ_SCOPE`, written out here so that this module does not load it),
 * and EHMI's own scope for both (`EDS_ALL_SCOPE`), which a client written to EHMI's security specification asks
 * for and EDS takes.
 */
export const EDS_SCOPES = ['system/AuditEvent.c', 'system/AuditEvent.rs', 'system/AuditEvent.crs'];
/**
 * The document archive's FHIR API (the server's `ARCHIVE_READ_SCOPE` and `ARCHIVE_BINARY_SCOPE`, written out here so
 * that this module does not load the server): searching and reading DocumentReferences, reading the documents.
 */
export const ARCHIVE_SCOPES = ['system/DocumentReference.rs', 'system/Binary.r'];
/** The central node's EER as a client: it publishes to the SMP and feeds EAS. */
export const EER_CLIENT_ID = 'central-eer';

/**
 * The console's sampler as a client (`console.sampling.clientId`): it reads every node's `/metrics` for the health
 * page's charts with the console's TLS client certificate, `ehmi/metrics.read` only, and is among every node's
 * `authorization.operatorClients`.
 */
export const CONSOLE_SAMPLER_CLIENT_ID = 'console-sampler';

/**
 * Reading `/metrics` on every server of a node (the server's `METRICS_SCOPE`, `src/metrics-access.ts`; written out
 * here so that this module does not load the server): the operator's.
 */
export const METRICS_SCOPES = ['ehmi/metrics.read'];

/**
 * Searching a node's audit log, `GET /audit/AuditEvent` on its own server (the server's `AUDIT_SCOPE`,
 * `src/audit/search.ts`): the operator's.
 */
export const AUDIT_SCOPES = ['ehmi/audit.read'];

/** Where the authorization server and the resource servers it issues tokens for are. */
export interface AuthUrls {
  /** The authorization server's URL: its issuer identifier. */
  auth: string;
  eer: string;
  eas: string;
  eds: string;
  /** The SMP's admin API (HTTPS). */
  smpAdmin: string;
  /** The central node's own server (health, queue metrics). */
  node: string;
  /** The web console: the `console` client's redirect URI is its `/auth/callback`. */
  console?: string;
}

type AuthConfig = Config['auth'];

/** An organisation's OAuth client as the network registers it. */
export interface AuthOrganisation {
  spec: OrganisationSpec;
  clientId: string;
  /** Its MSH's base URL: a resource. */
  msh: string;
  /** Its access point's and its node's own server's base URLs: resources for their `/metrics`. */
  ap: string;
  node: string;
  /** The TLS client certificate its EUA presents (PEM file). */
  tlsClientCert: string;
}

/** A network-level client (`operator`, `maintainer`). */
export interface AuthNetworkClient {
  name: NetworkClientName;
  clientId: string;
  tlsClientCert: string;
}

/** The central node's EER as a client (`central-eer`): the central node's TLS client certificate. */
export interface AuthEerClient {
  tlsClientCert: string;
}

/** The document archive as the authorization server knows it: its servers (resources) and its node's client. */
export interface AuthArchive {
  spec: OrganisationSpec;
  clientId: string;
  /** The archive's FHIR API, its access point and its node's own server. */
  archive: string;
  ap: string;
  node: string;
  tlsClientCert: string;
}

/** What the central node's authorization server registers, and what network.json tells each client. */
export interface AuthPlan {
  /** `auth.resources`, `auth.clients` and `auth.userScopes` of the central node's config. */
  config: Pick<AuthConfig, 'resources' | 'clients' | 'userScopes'>;
  /** The registered scopes of each client, space-separated, by client id. */
  scopes: Record<string, string>;
}

/** RFC 4514 §2.4: escape a value's special characters (and a leading `#` or space, a trailing space). */
function escapeDnValue(value: string): string {
  return value
    .replace(/[\\,+"<>;=]/g, (c) => `\\${c}`)
    .replace(/^([#\s])/, '\\$1')
    .replace(/(\s)$/, '\\$1');
}

/**
 * The subject DN of a certificate as `auth.clients[].subjectDn` takes it (`tls_client_auth_subject_dn`, RFC 8705
 * §2.1.2): RFC 4514, the last RDN first, e.g. `serialNumber=UI:DK-S:G:…, CN=EHMI gp TLS client,
 * organizationIdentifier=NTRDK-30466519, O=Skødstrup Lægepraksis, C=DK`. Every RDN, the serialNumber with its UUID
 * too, is in it: the authorization server matches the whole subject, so a certificate issued again is registered
 * again at the next start.
 */
export function certificateSubjectDn(certFile: string): string {
  const cert = new X509Certificate(readFileSync(certFile));
  return cert.subject
    .split('\n')
    .reverse()
    .map((rdn) =>
      rdn
        .split(/(?<!\\) \+ /)
        .map((ava) => {
          const at = ava.indexOf('=');
          const value = ava.slice(at + 1).replace(/\\(.)/g, '$1');
          return `${ava.slice(0, at)}=${escapeDnValue(value)}`;
        })
        .join('+'),
    )
    .join(', ');
}

const join = (scopes: readonly string[]) => [...new Set(scopes)].join(' ');

/** The OpenID Connect scopes of the console's sign-in (an id token with the person's claims, a refresh token). */
const OIDC_SCOPES = ['openid', 'profile', 'offline_access'];

/**
 * What the roles of a person's account may be granted (`auth.userScopes`): a network operator reads what the
 * network's `operator` client reads; an organisation's operator uses its MSH as its EUA does (the MSH and EDS see
 * the organisation in the token) and reads the registers; support reads only; `patient-data` adds the lookup of a
 * patient's GP. What a person sees of each resource is then decided there, by the person's roles and organisation.
 */
export const USER_SCOPES = {
  'network-operator': join([
    ...MSH_READ_SCOPES,
    ...MSH_SUPPORT_SCOPES,
    ...EER_READ_SCOPES,
    ...EAS_SCOPES,
    'system/AuditEvent.rs',
    ...METRICS_SCOPES,
    ...AUDIT_SCOPES,
  ]),
  'org-operator': join([...MSH_SCOPES, ...EER_READ_SCOPES, ...EAS_SCOPES, 'system/AuditEvent.rs']),
  support: join([...MSH_READ_SCOPES, ...EER_READ_SCOPES, ...EAS_SCOPES, 'system/AuditEvent.rs']),
  'patient-data': join([...EAS_PATIENT_SCOPES, ...ARCHIVE_SCOPES]),
};

/**
 * The authorization server's static registrations (docs/specs/security.md 1c) for the local network: the resources
 * (each organisation's MSH, EER, EAS; for `/metrics` every HTTPS server of every node) with the scopes each offers, and the clients, each authenticated by the
 * subject DN of its TLS client certificate:
 *
 * - each organisation's EUA system client (`<org>-eua`): its MSH API, EER and EAS reads and the EAS lookup by CPR,
 *   registering and reading its organisation's EDS events, with the organisation's claims (GLN, SOR, CVR, name);
 *   it may ask for a token restricted to one patient (RFC 9396 `authorization_details` of type `ehmi_patient`);
 * - `operator` (the network operator and support desk): read scopes across the network (every MSH, EER, EAS), EDS
 *   registration and reading of any event (test loads, support), and every server's `/metrics`;
 * - `maintainer`: EER writes;
 * - `console` (people sign in through it) and `console-sampler`, the console's own reading of every server's
 *   `/metrics` (the console's TLS client certificate);
 * - `central-eer`, the central node's EER (its TLS client certificate): the SMP's and EAS's admin APIs, which its
 *   propagation calls.
 */
export function planAuthRegistrations(
  urls: AuthUrls,
  organisations: readonly AuthOrganisation[],
  clients: readonly AuthNetworkClient[],
  eer?: AuthEerClient,
  archive?: AuthArchive,
): AuthPlan {
  const resources: Record<string, string> = {};
  for (const o of organisations) {
    resources[o.msh] = join([...MSH_SCOPES, ...METRICS_SCOPES]);
    resources[o.ap] = join(METRICS_SCOPES);
    resources[o.node] = join([...METRICS_SCOPES, ...AUDIT_SCOPES]);
  }
  resources[urls.eer] = join([...EER_READ_SCOPES, ...EER_WRITE_SCOPES, ...METRICS_SCOPES]);
  resources[urls.eas] = join([...EAS_SCOPES, ...EAS_PATIENT_SCOPES, ...EAS_ADMIN_SCOPES, ...METRICS_SCOPES]);
  resources[urls.eds] = join([...EDS_SCOPES, ...METRICS_SCOPES]);
  // The SMP's read API speaks plain HTTP, where no token can be bound to a certificate: its /metrics is served to
  // no one; its admin API's HTTPS server serves them to the operator.
  resources[urls.smpAdmin] = join([...SMP_ADMIN_SCOPES, ...METRICS_SCOPES]);
  resources[urls.auth] = join(METRICS_SCOPES);
  resources[urls.node] = join([...METRICS_SCOPES, ...AUDIT_SCOPES]);
  if (archive) {
    resources[archive.archive] = join([...ARCHIVE_SCOPES, ...METRICS_SCOPES]);
    resources[archive.ap] = join(METRICS_SCOPES);
    resources[archive.node] = join([...METRICS_SCOPES, ...AUDIT_SCOPES]);
  }
  // The organisations' systems and the operator read the archive when there is one.
  const archiveReads = archive ? ARCHIVE_SCOPES : [];
  const scopes: Record<string, string> = {};
  const registered: AuthConfig['clients'] = [];
  for (const o of organisations) {
    scopes[o.clientId] = join([
      ...MSH_SCOPES,
      ...EER_READ_SCOPES,
      ...EAS_SCOPES,
      ...EAS_PATIENT_SCOPES,
      ...EDS_SCOPES,
      ...archiveReads,
    ]);
    registered.push({
      clientId: o.clientId,
      subjectDn: certificateSubjectDn(o.tlsClientCert),
      scope: scopes[o.clientId]!,
      authorizationDetailsTypes: ['ehmi_patient'],
      grantTypes: ['client_credentials'],
      redirectUris: [],
      organisation: { gln: o.spec.gln, sor: o.spec.sor, cvr: o.spec.cvr, name: o.spec.title },
    });
  }
  const network: Record<NetworkClientName, string[]> = {
    operator: [
      ...MSH_READ_SCOPES,
      ...MSH_SUPPORT_SCOPES,
      ...EER_READ_SCOPES,
      ...EAS_SCOPES,
      ...EDS_SCOPES,
      ...METRICS_SCOPES,
      ...AUDIT_SCOPES,
      ...archiveReads,
    ],
    maintainer: EER_WRITE_SCOPES,
    console: [],
  };
  for (const c of clients) {
    if (c.name === 'console') {
      // The console signs people in (authorization code, PAR, PKCE, refresh tokens) as a confidential client on
      // mTLS; the scopes it may hold are its users' (auth.userScopes).
      if (!urls.console) continue;
      // Without an archive no resource offers its scopes: the console is not registered for them.
      scopes[c.clientId] = join([
        ...OIDC_SCOPES,
        ...Object.values(USER_SCOPES)
          .flatMap((s) => s.split(' '))
          .filter((s) => archive !== undefined || !ARCHIVE_SCOPES.includes(s)),
      ]);
      registered.push({
        clientId: c.clientId,
        subjectDn: certificateSubjectDn(c.tlsClientCert),
        scope: scopes[c.clientId]!,
        authorizationDetailsTypes: [],
        grantTypes: ['authorization_code', 'refresh_token'],
        redirectUris: [`${urls.console}/auth/callback`],
      });
      // Its sampler: a client of its own (client credentials, the same certificate), so that a person's grant and
      // the console's own reading of /metrics never share a registration.
      scopes[CONSOLE_SAMPLER_CLIENT_ID] = join(METRICS_SCOPES);
      registered.push({
        clientId: CONSOLE_SAMPLER_CLIENT_ID,
        subjectDn: certificateSubjectDn(c.tlsClientCert),
        scope: scopes[CONSOLE_SAMPLER_CLIENT_ID]!,
        authorizationDetailsTypes: [],
        grantTypes: ['client_credentials'],
        redirectUris: [],
      });
      continue;
    }
    scopes[c.clientId] = join(network[c.name]);
    registered.push({
      clientId: c.clientId,
      subjectDn: certificateSubjectDn(c.tlsClientCert),
      scope: scopes[c.clientId]!,
      authorizationDetailsTypes: [],
      grantTypes: ['client_credentials'],
      redirectUris: [],
    });
  }
  if (eer) {
    scopes[EER_CLIENT_ID] = join([...SMP_ADMIN_SCOPES, ...EAS_ADMIN_SCOPES]);
    registered.push({
      clientId: EER_CLIENT_ID,
      subjectDn: certificateSubjectDn(eer.tlsClientCert),
      scope: scopes[EER_CLIENT_ID]!,
      authorizationDetailsTypes: [],
      grantTypes: ['client_credentials'],
      redirectUris: [],
    });
  }
  if (archive) {
    // The archive's node reports its steps of the copies to EDS as the archive's organisation.
    scopes[archive.clientId] = join([...EER_READ_SCOPES, ...EDS_SCOPES]);
    registered.push({
      clientId: archive.clientId,
      subjectDn: certificateSubjectDn(archive.tlsClientCert),
      scope: scopes[archive.clientId]!,
      authorizationDetailsTypes: [],
      grantTypes: ['client_credentials'],
      redirectUris: [],
      organisation: {
        gln: archive.spec.gln,
        sor: archive.spec.sor,
        cvr: archive.spec.cvr,
        name: archive.spec.title,
      },
    });
  }
  return { config: { resources, clients: registered, userScopes: USER_SCOPES }, scopes };
}
