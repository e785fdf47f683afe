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

export type AuthTables = {
  auth_signing_keys: AuthSigningKeysTable;
};

/** The node's store as this role sees it. */
export type AuthStore = Store<AuthTables>;
