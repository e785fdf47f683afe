import type { Store } from '../store/index.ts';
/** Tables of the auth role (times in epoch milliseconds, as in store/types.ts). Migrations: ./migrations.ts. */

/**
 * The authorization server's signing keys. The newest signs; an older one stays (and is published in the JWKS)
 * until the tokens it signed have expired, counted from when the next key took over.
 */
export interface AuthSigningKeysTable {
  /** RFC 7638 JWK thumbprint of the public key. */
  kid: string;
  /** JWS algorithm the key signs with (`PS256`, `ES256`). */
  alg: string;
  /** JSON text of the private JWK (with `kid`, `alg`, `use: "sig"`). */
  private_jwk: string;
  created_at: number;
}

/** The people who sign in at the authorization server (the console's users): `accounts.ts`. */
export interface AuthAccountsTable {
  /** The user name, lower case; the `sub` of the account's tokens. */
  username: string;
  /** `passwords.ts`: `scrypt$<log2 N>$<r>$<p>$<salt>$<key>`, a salt of its own per account. */
  password_hash: string;
  display_name: string;
  /** JSON array of the account's roles (`network-operator`, `org-operator`, `support`, `patient-data`). */
  roles: string;
  /** The organisation of an organisation user (GLN, SOR code, name); null for a network operator. */
  organisation_gln: string | null;
  organisation_sor: string | null;
  organisation_name: string | null;
  /** 1: the account may not sign in (and its refresh tokens are refused). */
  disabled: number;
  /** Failed sign-ins since the last successful one, and when the last failed (the per-account throttle). */
  failed_logins: number;
  last_failed_at: number | null;
  created_at: number;
}

/**
 * What oidc-provider keeps for the authorization code flow (`adapter.ts`): sessions, interactions, pushed
 * authorization requests, authorization codes, grants, refresh tokens, replay records, by model and id, each with
 * its expiry.
 */
export interface AuthOidcRecordsTable {
  model: string;
  id: string;
  /** JSON text of the model's payload. */
  payload: string;
  grant_id: string | null;
  uid: string | null;
  /** Epoch ms after which the record is gone (purged by the role's timer); null: no expiry. */
  expires_at: number | null;
  /** Epoch ms it was consumed (a used code or refresh token); null while not. */
  consumed_at: number | null;
}

export type AuthTables = {
  auth_signing_keys: AuthSigningKeysTable;
  auth_accounts: AuthAccountsTable;
  auth_oidc_records: AuthOidcRecordsTable;
};

/** The node's store as this role sees it. */
export type AuthStore = Store<AuthTables>;
