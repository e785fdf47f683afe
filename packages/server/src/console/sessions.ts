import { createHash, randomBytes } from 'node:crypto';
import type { ConsoleUser } from './session.ts';
import type { ConsoleStore } from './tables.ts';

/** The session cookie: `__Host-` (Secure, Path=/, no Domain), HttpOnly, SameSite=Strict (docs/architecture.md "The console"). */
export const SESSION_COOKIE = '__Host-ehmi-session';
/** The cookie of a sign-in under way: SameSite=Lax, since it must come back on the authorization server's redirect. */
export const LOGIN_COOKIE = '__Host-ehmi-login';
/** A sign-in must come back within this long. */
export const LOGIN_TTL_MS = 10 * 60_000;
/** How often a session's last use is written (not on every call). */
const TOUCH_MS = 60_000;

/** A new opaque cookie value: 256 random bits. */
export const newSecret = () => randomBytes(32).toString('base64url');
/** What the database keeps of a cookie value. */
export const hashOf = (secret: string) => createHash('sha256').update(secret).digest('base64url');

/** The cookie header of `name`'s value, when the request has it once. */
export function cookieOf(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  let found: string | undefined;
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at < 0 || part.slice(0, at).trim() !== name) continue;
    // A cookie sent twice (one set by another path or a sibling site) is not trusted.
    if (found !== undefined) return undefined;
    found = part.slice(at + 1).trim();
  }
  return found && /^[A-Za-z0-9_-]{20,100}$/.test(found) ? found : undefined;
}

export function setCookie(
  name: string,
  value: string,
  sameSite: 'Strict' | 'Lax',
  maxAgeSeconds?: number,
): string {
  return [
    `${name}=${value}`,
    'Path=/',
    'Secure',
    'HttpOnly',
    `SameSite=${sameSite}`,
    ...(maxAgeSeconds !== undefined ? [`Max-Age=${maxAgeSeconds}`] : []),
  ].join('; ');
}

export const clearCookie = (name: string, sameSite: 'Strict' | 'Lax') => setCookie(name, '', sameSite, 0);

export interface SessionLimits {
  idleMs: number;
  maxMs: number;
}

/** A live session. */
export interface ConsoleSession {
  readonly idHash: string;
  readonly user: ConsoleUser;
  readonly refreshToken: string;
  readonly expiresAt: number;
}

/** The console's sessions and sign-ins under way, in the node's database (`console_sessions`, `console_logins`). */
export class ConsoleSessions {
  constructor(
    private readonly store: ConsoleStore,
    private readonly limits: SessionLimits,
    private readonly now: () => number,
  ) {}

  /** Start a sign-in; returns the login cookie's value. */
  async startLogin(login: {
    state: string;
    nonce: string;
    codeVerifier: string;
    returnTo: string;
  }): Promise<string> {
    const secret = newSecret();
    await this.store.db
      .insertInto('console_logins')
      .values({
        id_hash: hashOf(secret),
        state: login.state,
        nonce: login.nonce,
        code_verifier: login.codeVerifier,
        return_to: login.returnTo,
        expires_at: this.now() + LOGIN_TTL_MS,
      })
      .execute();
    return secret;
  }

  /** The sign-in of this login cookie, taken (it can be used once), when it has not expired. */
  async takeLogin(
    secret: string,
  ): Promise<{ state: string; nonce: string; codeVerifier: string; returnTo: string } | undefined> {
    const idHash = hashOf(secret);
    const row = await this.store.db
      .selectFrom('console_logins')
      .selectAll()
      .where('id_hash', '=', idHash)
      .executeTakeFirst();
    if (!row) return undefined;
    const taken = await this.store.db
      .deleteFrom('console_logins')
      .where('id_hash', '=', idHash)
      .executeTakeFirst();
    // Two callbacks racing with one cookie: only the one that deleted it goes on.
    if (Number(taken.numDeletedRows) !== 1 || Number(row.expires_at) <= this.now()) return undefined;
    return { state: row.state, nonce: row.nonce, codeVerifier: row.code_verifier, returnTo: row.return_to };
  }

  /** A new session for a signed-in user; returns the session cookie's value. */
  async create(user: ConsoleUser, refreshToken: string): Promise<string> {
    const secret = newSecret();
    const now = this.now();
    await this.store.db
      .insertInto('console_sessions')
      .values({
        id_hash: hashOf(secret),
        subject: user.subject,
        user: JSON.stringify(user),
        refresh_token: refreshToken,
        created_at: now,
        last_seen_at: now,
        expires_at: now + this.limits.maxMs,
      })
      .execute();
    return secret;
  }

  /** The live session of a cookie value: not past its end, not idle too long (an expired one is deleted). */
  async find(secret: string): Promise<ConsoleSession | undefined> {
    const idHash = hashOf(secret);
    const row = await this.store.db
      .selectFrom('console_sessions')
      .selectAll()
      .where('id_hash', '=', idHash)
      .executeTakeFirst();
    if (!row) return undefined;
    const now = this.now();
    if (Number(row.expires_at) <= now || now - Number(row.last_seen_at) >= this.limits.idleMs) {
      await this.end(idHash);
      return undefined;
    }
    if (now - Number(row.last_seen_at) >= TOUCH_MS) {
      await this.store.db
        .updateTable('console_sessions')
        .set({ last_seen_at: now })
        .where('id_hash', '=', idHash)
        .execute();
    }
    return {
      idHash,
      user: JSON.parse(row.user) as ConsoleUser,
      refreshToken: row.refresh_token,
      expiresAt: Number(row.expires_at),
    };
  }

  async end(idHash: string): Promise<void> {
    await this.store.db.deleteFrom('console_sessions').where('id_hash', '=', idHash).execute();
  }

  /** Delete expired sessions and sign-ins; returns how many. */
  async purge(): Promise<number> {
    const now = this.now();
    const a = await this.store.db
      .deleteFrom('console_sessions')
      .where((eb) => eb.or([eb('expires_at', '<=', now), eb('last_seen_at', '<=', now - this.limits.idleMs)]))
      .executeTakeFirst();
    const b = await this.store.db
      .deleteFrom('console_logins')
      .where('expires_at', '<=', now)
      .executeTakeFirst();
    return Number(a.numDeletedRows) + Number(b.numDeletedRows);
  }
}
