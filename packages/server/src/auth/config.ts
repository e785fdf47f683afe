import { z } from 'zod';

/** A space-separated list of scopes (SMART style, `system/Endpoint.rs`), at least one. */
const scopeList = z
  .string()
  .trim()
  .regex(/^\S+( \S+)*$/, 'expected scopes separated by single spaces');

/**
 * A statically registered client (docs/specs/security.md 1c, EHMI PDF §3.3: static enrolment of confidential
 * clients, `token_endpoint_auth_method` fixed to `tls_client_auth`, `grant_types` `["client_credentials"]`).
 */
export const authClientSchema = z
  .object({
    /** `client_id` the client sends in its token request. */
    clientId: z.string().min(1),
    /**
     * `tls_client_auth_subject_dn` (RFC 8705 §2.1.2): the subject DN of the client's OCES3 system certificate, e.g.
     * `CN=msh.gp, O=Lægehuset, C=DK` (RFC 4514 order or the certificate's own order; each RDN must match).
     */
    subjectDn: z.string().min(1),
    /** The scopes the client may be granted, space-separated. */
    scope: scopeList,
    /**
     * The RFC 9396 authorization details types the client may ask for (client metadata
     * `authorization_details_types`, RFC 9396 §10). `ehmi_patient`: a token restricted to one patient
     * (`{"type":"ehmi_patient","cpr":"<10 digits>"}`, see `patient.ts`). Default none.
     */
    authorizationDetailsTypes: z.array(z.enum(['ehmi_patient'])).default([]),
    /**
     * The organisation the client acts for: its access tokens carry it (claims `ehmi:org_context`, `cvr`,
     * `org_name`, `ehmi:eer:device_id`; see `claims.ts`).
     */
    /**
     * The grants the client may use: `client_credentials` (system clients, the default) or, for a client that
     * signs people in (the console), `authorization_code` with `refresh_token` (FAPI 2.0: PAR and PKCE S256
     * required; its scope then also names `openid`, `profile` and `offline_access`).
     */
    grantTypes: z
      .array(z.enum(['client_credentials', 'authorization_code', 'refresh_token']))
      .min(1)
      .default(['client_credentials']),
    /** The redirect URIs of a client of the authorization code grant (https, exact match). */
    redirectUris: z.array(z.string().url()).default([]),
    organisation: z
      .object({
        gln: z.string().regex(/^\d{13}$/, 'expected a 13-digit GLN'),
        sor: z.string().regex(/^\d{1,18}$/, 'expected a SOR code (digits)'),
        cvr: z
          .string()
          .regex(/^\d{8}$/, 'expected an 8-digit CVR number')
          .optional(),
        name: z.string().min(1).optional(),
        /** The client's EER Device id (EDS registrations check it). */
        deviceId: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

/**
 * The authorization server role (FAPI 2.0 with mTLS only, client credentials, certificate-bound JWT access tokens).
 * It stands in for the national authorization server; resource servers take its issuer and JWKS from their config.
 */
export const authConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
    host: z.string().min(1).default('127.0.0.1'),
    /** Port of the authorization server (HTTPS; it refuses to start without the node's tls); 0 picks a free one. */
    port: z.number().int().min(0).max(65535).default(8716),
    /** The issuer identifier (`iss`, metadata `issuer`); default the listen URL. */
    issuer: z.string().url().optional(),
    /**
     * Lifetime of an access token. FAPI 2.0 leaves it to the ecosystem; the EHMI example token lives 600 s
     * (`exp - iat`, EHMI PDF §3.5) and answers `expires_in: 300` (§3.4.1).
     */
    accessTokenTtlSeconds: z.number().int().min(60).max(3600).default(600),
    /** A new signing key is generated, and becomes the signer, when the current one is this many days old. */
    keyRotationDays: z.number().positive().default(30),
    /** The JWS algorithm of access tokens (FAPI 2.0 §5.4: PS256, ES256 or EdDSA; EHMI uses the first two). */
    signingAlg: z.enum(['PS256', 'ES256']).default('PS256'),
    /**
     * The resource servers (RFC 8707 resource indicator = the token's `aud`) and the scopes each offers,
     * space-separated: e.g. `{ "https://eer.example": "system/Organization.rs system/Endpoint.rs system/Device.rs
     * system/Endpoint.cruds" }`.
     */
    resources: z.record(z.string().url(), scopeList).default({}),
    /** The statically registered clients. */
    clients: z.array(authClientSchema).default([]),
    /**
     * The scopes each role of a person's account may be granted, space-separated (`accounts.ts`): a user's token
     * for a resource carries the scopes of the user's roles that the resource offers and the client is registered
     * for. A role named nowhere grants nothing.
     */
    userScopes: z
      .partialRecord(z.enum(['network-operator', 'org-operator', 'support', 'patient-data']), scopeList)
      .default({}),
    /**
     * Accounts made at start when they do not exist yet (an existing one is left as it is): the first operator of
     * a network. The password is read from `passwordFile` (its first line), a file only the node's user can read.
     */
    accounts: z
      .array(
        z
          .object({
            username: z.string().min(1),
            name: z.string().min(1),
            roles: z.array(z.enum(['network-operator', 'org-operator', 'support', 'patient-data'])).min(1),
            organisation: z
              .object({ gln: z.string(), sor: z.string(), name: z.string().min(1).optional() })
              .strict()
              .optional(),
            passwordFile: z.string().min(1),
          })
          .strict(),
      )
      .default([]),
    /** Lifetime of a person's sign-in (the session, its grant and refresh token): default 8 hours. */
    userSessionTtlSeconds: z.number().int().min(300).max(86_400).default(28_800),
  })
  .strict()
  .prefault({});

export type AuthConfig = z.infer<typeof authConfigSchema>;
export type AuthClient = z.infer<typeof authClientSchema>;
