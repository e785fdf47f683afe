import type { Store } from '../store/index.ts';
/** Tables of the console role (times in epoch milliseconds). Migrations: ./migrations.ts. */

/**
 * A signed-in browser: its cookie's value is never stored, only its SHA-256, so that a reader of the database
 * cannot take over a session; the refresh token stays here and never reaches the browser.
 */
export interface ConsoleSessionsTable {
  /** base64url SHA-256 of the session cookie's value. */
  id_hash: string;
  /** The account (`sub`). */
  subject: string;
  /** JSON of the signed-in user (`ConsoleUser`), from the id token. */
  user: string;
  refresh_token: string;
  created_at: number;
  last_seen_at: number;
  /** The end of the session whatever its use (sign-in + `session.maxHours`). */
  expires_at: number;
}

/** A sign-in under way: what the callback checks (state, nonce, PKCE verifier), by the login cookie's hash. */
export interface ConsoleLoginsTable {
  id_hash: string;
  state: string;
  nonce: string;
  code_verifier: string;
  /** The console path to go back to after signing in. */
  return_to: string;
  expires_at: number;
}

/**
 * One reading of a node's counters (the sum over its servers' `/metrics`), taken by the console's sampler
 * (`console/sampler.ts`) on its interval; no patient data. A reading of a node that did not answer is a gap: its
 * counters are null. Kept `console.sampling.retentionMinutes` (an hour).
 */
export interface ConsoleReadingsTable {
  /** The node: an organisation's key (`gp`) or `central`. */
  node: string;
  at: number;
  /** `ehmi_http_requests_total`, every server of the node. */
  requests: number | null;
  /** Its 5xx answers. */
  failures: number | null;
  /** `ehmi_msh_receipt_seconds_sum` and `_count`: submit → EnvelopeReceipt of each receipted envelope. */
  receipt_sum: number | null;
  receipt_count: number | null;
}

export type ConsoleTables = {
  console_sessions: ConsoleSessionsTable;
  console_logins: ConsoleLoginsTable;
  console_readings: ConsoleReadingsTable;
};

export type ConsoleStore = Store<ConsoleTables>;
