import { EhmiError } from '@ehmi/errors';
import { DUMMY_HASH, hashPassword, verifyPassword } from './passwords.ts';
import type { AuthAccountsTable, AuthStore } from './tables.ts';

/**
 * The roles of a person's account: `network-operator` sees the whole network; `org-operator` and `support` their
 * own organisation only (an organisation is then required); `patient-data` entitles to patient data and is given
 * beside one of the others.
 */
export const ACCOUNT_ROLES = ['network-operator', 'org-operator', 'support', 'patient-data'] as const;
export type AccountRole = (typeof ACCOUNT_ROLES)[number];

/** A person who signs in at the authorization server. */
export interface Account {
  /** Lower case; the `sub` of the account's tokens. */
  readonly username: string;
  readonly name: string;
  readonly roles: readonly AccountRole[];
  readonly organisation?: { readonly gln: string; readonly sor: string; readonly name?: string };
  readonly disabled: boolean;
}

/** What a new account is made of. */
export interface NewAccount {
  username: string;
  password: string;
  name: string;
  roles: readonly AccountRole[];
  organisation?: { gln: string; sor: string; name?: string };
}

/** Throttling of failed sign-ins (OWASP Authentication Cheat Sheet: account lockout and per-source limits). */
export interface SignInLimits {
  /** Failed sign-ins of one account before each further attempt must wait; default 5. */
  accountFailures: number;
  /** The first wait, doubled with each further failure up to {@link maxLockMs}; default 30 s. */
  lockMs: number;
  maxLockMs: number;
  /** Failed sign-ins from one address within {@link addressWindowMs} before it is refused; default 20 per 15 min. */
  addressFailures: number;
  addressWindowMs: number;
}

export const DEFAULT_SIGN_IN_LIMITS: SignInLimits = {
  accountFailures: 5,
  lockMs: 30_000,
  maxLockMs: 15 * 60_000,
  addressFailures: 20,
  addressWindowMs: 15 * 60_000,
};

/** The outcome of a sign-in: the account, or why not (never shown to the person beyond "wrong user or password"). */
export type SignInResult =
  | { ok: true; account: Account }
  | { ok: false; reason: 'wrong-credentials' | 'disabled' | 'account-throttled' | 'address-throttled' };

const USERNAME = /^[a-z0-9][a-z0-9._@-]{0,63}$/;
/** Addresses remembered by the per-address throttle at most (the oldest forgotten first). */
const MAX_ADDRESSES = 10_000;

function accountOf(row: AuthAccountsTable): Account {
  const roles = (JSON.parse(row.roles) as string[]).filter((r): r is AccountRole =>
    (ACCOUNT_ROLES as readonly string[]).includes(r),
  );
  return {
    username: row.username,
    name: row.display_name,
    roles,
    ...(row.organisation_gln && row.organisation_sor
      ? {
          organisation: {
            gln: row.organisation_gln,
            sor: row.organisation_sor,
            ...(row.organisation_name ? { name: row.organisation_name } : {}),
          },
        }
      : {}),
    disabled: Number(row.disabled) !== 0,
  };
}

/** Refuse an account that cannot be used safely: a bad name, no role, an organisation missing or misplaced. */
export function checkNewAccount(account: Omit<NewAccount, 'password'>): void {
  const bad = (why: string) => new EhmiError('EHMI_USAGE', `account ${account.username}: ${why}`);
  if (!USERNAME.test(account.username)) {
    throw bad('a user name is 1–64 lower-case letters, digits and . _ @ -, starting with a letter or digit');
  }
  if (!account.name.trim()) throw bad('a display name is required');
  const unknown = account.roles.filter((r) => !(ACCOUNT_ROLES as readonly string[]).includes(r));
  if (unknown.length > 0) throw bad(`unknown roles ${unknown.join(', ')}`);
  const kinds = account.roles.filter((r) => r !== 'patient-data');
  if (kinds.length !== 1) {
    throw bad(
      'exactly one of network-operator, org-operator, support is required (and patient-data beside it)',
    );
  }
  if (kinds[0] === 'network-operator' && account.organisation) {
    throw bad('a network operator sees the whole network and belongs to no organisation');
  }
  if (kinds[0] !== 'network-operator') {
    if (!account.organisation) throw bad(`a ${kinds[0]} user belongs to an organisation (its GLN and SOR)`);
    if (!/^\d{13}$/.test(account.organisation.gln)) throw bad('the organisation GLN has 13 digits');
    if (!/^\d{1,18}$/.test(account.organisation.sor)) throw bad('the organisation SOR code is digits');
  }
}

/**
 * The accounts of people who sign in at the authorization server (`auth_accounts`), with their passwords as scrypt
 * hashes (`passwords.ts`) and the throttling of failed sign-ins: per account in the database (every instance sees
 * it), per address in this instance's memory.
 *
 * @example
 * const accounts = new Accounts(store);
 * await accounts.create({ username: 'operator', password, name: 'Operator', roles: ['network-operator'] });
 * const result = await accounts.signIn('operator', password, '127.0.0.1');
 */
export class Accounts {
  readonly #store: AuthStore;
  readonly #now: () => number;
  readonly #limits: SignInLimits;
  /** Failed sign-ins per address: the times within the window, oldest first. */
  readonly #addresses = new Map<string, number[]>();

  constructor(store: AuthStore, options: { now?: () => number; limits?: Partial<SignInLimits> } = {}) {
    this.#store = store;
    this.#now = options.now ?? Date.now;
    this.#limits = { ...DEFAULT_SIGN_IN_LIMITS, ...options.limits };
  }

  async find(username: string): Promise<Account | undefined> {
    const row = await this.#store.db
      .selectFrom('auth_accounts')
      .selectAll()
      .where('username', '=', username.toLowerCase())
      .executeTakeFirst();
    return row ? accountOf(row) : undefined;
  }

  /** Create an account; EHMI_CONFLICT when the user name is taken. */
  async create(account: NewAccount): Promise<Account> {
    const username = account.username.toLowerCase();
    checkNewAccount({ ...account, username });
    if (account.password.length < 12) {
      throw new EhmiError('EHMI_USAGE', `account ${username}: a password has at least 12 characters`);
    }
    const row: AuthAccountsTable = {
      username,
      password_hash: await hashPassword(account.password),
      display_name: account.name,
      roles: JSON.stringify([...new Set(account.roles)]),
      organisation_gln: account.organisation?.gln ?? null,
      organisation_sor: account.organisation?.sor ?? null,
      organisation_name: account.organisation?.name ?? null,
      disabled: 0,
      failed_logins: 0,
      last_failed_at: null,
      created_at: this.#now(),
    };
    const result = await this.#store.db
      .insertInto('auth_accounts')
      .values(row)
      .onConflict((oc) => oc.column('username').doNothing())
      .executeTakeFirst();
    if (Number(result.numInsertedOrUpdatedRows ?? 0n) === 0) {
      throw new EhmiError('EHMI_CONFLICT', `account ${username} exists already`);
    }
    return accountOf(row);
  }

  /** Disable or enable an account (a disabled one cannot sign in, and its refresh tokens are refused). */
  async setDisabled(username: string, disabled: boolean): Promise<void> {
    await this.#store.db
      .updateTable('auth_accounts')
      .set({ disabled: disabled ? 1 : 0 })
      .where('username', '=', username.toLowerCase())
      .execute();
  }

  /**
   * Check a sign-in. The password is hashed whether the account exists or not (the same time either way), and a
   * throttled attempt is refused before its password is looked at. A failure counts against the account (when it
   * exists) and the address; a success clears the account's count.
   */
  async signIn(username: string, password: string, address: string): Promise<SignInResult> {
    const now = this.#now();
    const name = username.trim().toLowerCase();
    if (this.#addressThrottled(address, now)) return { ok: false, reason: 'address-throttled' };
    const row = USERNAME.test(name)
      ? await this.#store.db
          .selectFrom('auth_accounts')
          .selectAll()
          .where('username', '=', name)
          .executeTakeFirst()
      : undefined;
    if (row && this.#accountThrottled(row, now)) {
      this.#noteAddressFailure(address, now);
      return { ok: false, reason: 'account-throttled' };
    }
    const matches = await verifyPassword(password, row?.password_hash ?? DUMMY_HASH);
    if (!row || !matches) {
      this.#noteAddressFailure(address, now);
      if (row) {
        await this.#store.db
          .updateTable('auth_accounts')
          .set((eb) => ({ failed_logins: eb('failed_logins', '+', 1), last_failed_at: now }))
          .where('username', '=', row.username)
          .execute();
      }
      return { ok: false, reason: 'wrong-credentials' };
    }
    if (Number(row.disabled) !== 0) return { ok: false, reason: 'disabled' };
    if (Number(row.failed_logins) !== 0) {
      await this.#store.db
        .updateTable('auth_accounts')
        .set({ failed_logins: 0, last_failed_at: null })
        .where('username', '=', row.username)
        .execute();
    }
    return { ok: true, account: accountOf(row) };
  }

  #accountThrottled(row: AuthAccountsTable, now: number): boolean {
    const failures = Number(row.failed_logins);
    if (failures < this.#limits.accountFailures || row.last_failed_at === null) return false;
    const wait = Math.min(
      this.#limits.lockMs * 2 ** (failures - this.#limits.accountFailures),
      this.#limits.maxLockMs,
    );
    return now - Number(row.last_failed_at) < wait;
  }

  #addressThrottled(address: string, now: number): boolean {
    const times = this.#addresses.get(address);
    if (!times) return false;
    while (times.length > 0 && now - times[0]! >= this.#limits.addressWindowMs) times.shift();
    if (times.length === 0) this.#addresses.delete(address);
    return times.length >= this.#limits.addressFailures;
  }

  #noteAddressFailure(address: string, now: number): void {
    const times = this.#addresses.get(address) ?? [];
    times.push(now);
    this.#addresses.delete(address);
    this.#addresses.set(address, times);
    if (this.#addresses.size > MAX_ADDRESSES) {
      const oldest = this.#addresses.keys().next().value;
      if (oldest !== undefined) this.#addresses.delete(oldest);
    }
  }
}
