// The authorization server's people: password hashing (scrypt, its parameters stored with each hash, compared in
// constant time), accounts and the throttling of failed sign-ins, the OIDC records' database adapter
// (`auth_oidc_records`), on both engines; and the sign-in page's choice of language.
import assert from 'node:assert/strict';
import { randomBytes, scryptSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Accounts } from '../../src/auth/accounts.ts';
import { databaseAdapter, purgeExpiredOidcRecords } from '../../src/auth/adapter.ts';
import { loginLanguage } from '../../src/auth/login.ts';
import { DUMMY_HASH, generatePassword, hashPassword, verifyPassword } from '../../src/auth/passwords.ts';
import type { AuthStore } from '../../src/auth/tables.ts';
import { engines, type TestStore } from '../helpers/engines.ts';

const PASSWORD = 'a long enough password 1';

describe('password hashes (scrypt)', () => {
  it('stores scrypt with N=2^15, r=8, p=3, a 16-octet salt of its own and a 32-octet key; verifies only the password', async () => {
    const [first, second] = await Promise.all([hashPassword(PASSWORD), hashPassword(PASSWORD)]);
    const parts = first.split('$');
    assert.deepEqual(parts.slice(0, 4), ['scrypt', '15', '8', '3']);
    assert.equal(Buffer.from(parts[4]!, 'base64url').length, 16);
    assert.equal(Buffer.from(parts[5]!, 'base64url').length, 32);
    assert.notEqual(first, second, 'a new salt each time');
    assert.equal(await verifyPassword(PASSWORD, first), true);
    assert.equal(await verifyPassword(`${PASSWORD} `, first), false);
  });

  it('verifies with the parameters stored in the hash, so a cost raised later keeps older hashes valid', async () => {
    const salt = randomBytes(16);
    const key = scryptSync(PASSWORD, salt, 32, { N: 2 ** 10, r: 8, p: 1 });
    const older = ['scrypt', 10, 8, 1, salt.toString('base64url'), key.toString('base64url')].join('$');
    assert.equal(await verifyPassword(PASSWORD, older), true);
    // The same key under other parameters is no match: they are part of what is checked.
    assert.equal(await verifyPassword(PASSWORD, older.replace('scrypt$10$8$1$', 'scrypt$11$8$1$')), false);
  });

  it('compares the whole key: one octet off, a key of another length, a malformed or oversized hash are false', async () => {
    const salt = randomBytes(16);
    const key = scryptSync(PASSWORD, salt, 32, { N: 2 ** 10, r: 8, p: 1 });
    const last = Buffer.from(key);
    last[31] = last[31]! ^ 1;
    const stored = (k: Buffer) =>
      ['scrypt', 10, 8, 1, salt.toString('base64url'), k.toString('base64url')].join('$');
    assert.equal(await verifyPassword(PASSWORD, stored(last)), false);
    assert.equal(await verifyPassword(PASSWORD, stored(key.subarray(0, 31))), false);
    for (const bad of ['', 'bcrypt$10$x', 'scrypt$15$8$3$salt', 'scrypt$30$8$3$a$b', 'scrypt$x$8$3$a$b']) {
      assert.equal(await verifyPassword(PASSWORD, bad), false, bad);
    }
    // The hash of no password, checked when an account does not exist, matches nothing.
    assert.equal(await verifyPassword('', DUMMY_HASH), false);
  });

  it('generates passwords of 24 base64url characters, each new', () => {
    const a = generatePassword();
    assert.match(a, /^[A-Za-z0-9_-]{24}$/);
    assert.notEqual(a, generatePassword());
  });
});

describe('the sign-in page’s language', () => {
  it('English by default; lang, then ui_locales, then Accept-Language in its order of preference', () => {
    assert.equal(loginLanguage({}), 'en');
    assert.equal(loginLanguage({ acceptLanguage: 'fr-FR,de;q=0.8' }), 'en');
    assert.equal(loginLanguage({ acceptLanguage: 'da-DK,da;q=0.9,en;q=0.8' }), 'da');
    assert.equal(loginLanguage({ acceptLanguage: 'en;q=0.5, da;q=0.9' }), 'da');
    assert.equal(loginLanguage({ acceptLanguage: 'da;q=0, en' }), 'en');
    assert.equal(loginLanguage({ uiLocales: 'de da', acceptLanguage: 'en' }), 'da');
    assert.equal(loginLanguage({ lang: 'en', uiLocales: 'da', acceptLanguage: 'da' }), 'en');
    assert.equal(loginLanguage({ lang: 'xx', uiLocales: 'da-DK' }), 'da');
  });
});

for (const engine of engines()) {
  describe(`accounts and sign-in throttling (${engine.name})`, { skip: engine.skip }, () => {
    let t: TestStore;
    let clock = Date.parse('2026-12-07T08:00:00Z');
    const now = () => clock;
    let accounts: Accounts;

    before(async () => {
      t = await engine.open();
      accounts = new Accounts(t.store as unknown as AuthStore, {
        now,
        limits: {
          accountFailures: 2,
          lockMs: 60_000,
          maxLockMs: 240_000,
          addressFailures: 4,
          addressWindowMs: 600_000,
        },
      });
      await accounts.create({
        username: 'GP-Operator',
        password: PASSWORD,
        name: 'GP operator',
        roles: ['org-operator', 'patient-data'],
        organisation: { gln: '5790000127092', sor: '52581000016005' },
      });
    });
    after(async () => {
      await t?.cleanup();
    });

    it('creates an account under its lower-case name, never storing the password; refuses bad ones', async () => {
      const found = await accounts.find('gp-operator');
      assert.equal(found?.username, 'gp-operator');
      assert.deepEqual(found?.roles, ['org-operator', 'patient-data']);
      assert.equal(found?.disabled, false);
      const row = await (t.store as unknown as AuthStore).db
        .selectFrom('auth_accounts')
        .selectAll()
        .where('username', '=', 'gp-operator')
        .executeTakeFirstOrThrow();
      assert.match(row.password_hash, /^scrypt\$15\$8\$3\$/);
      assert.ok(!row.password_hash.includes(PASSWORD));
      await assert.rejects(
        accounts.create({
          username: 'gp-operator',
          password: PASSWORD,
          name: 'again',
          roles: ['support'],
          organisation: { gln: '5790000127092', sor: '1' },
        }),
        (err: { code?: string }) => err.code === 'EHMI_CONFLICT',
      );
      await assert.rejects(
        accounts.create({ username: 'short', password: 'too short', name: 'x', roles: ['network-operator'] }),
        (err: { code?: string }) => err.code === 'EHMI_USAGE',
      );
      await assert.rejects(
        accounts.create({ username: 'orgless', password: PASSWORD, name: 'x', roles: ['support'] }),
        (err: { code?: string }) => err.code === 'EHMI_USAGE',
      );
    });

    it('signs in with the right password, whatever the case of the name; a wrong one counts against the account', async () => {
      const ok = await accounts.signIn('GP-operator', PASSWORD, '10.0.0.1');
      assert.equal(ok.ok, true);
      const wrong = await accounts.signIn('gp-operator', 'not it at all', '10.0.0.1');
      assert.deepEqual(wrong, { ok: false, reason: 'wrong-credentials' });
      assert.deepEqual(await accounts.signIn('nobody', PASSWORD, '10.0.0.1'), {
        ok: false,
        reason: 'wrong-credentials',
      });
      // A success clears the count.
      assert.equal((await accounts.signIn('gp-operator', PASSWORD, '10.0.0.2')).ok, true);
    });

    it('after the allowed failures even the right password waits, the wait doubling, then passes', async () => {
      for (let i = 0; i < 2; i++) await accounts.signIn('gp-operator', 'wrong password here', `10.1.0.${i}`);
      assert.deepEqual(await accounts.signIn('gp-operator', PASSWORD, '10.1.1.1'), {
        ok: false,
        reason: 'account-throttled',
      });
      clock += 60_000;
      // The wait is over: one more wrong password makes the next wait twice as long.
      assert.equal((await accounts.signIn('gp-operator', 'wrong password here', '10.1.2.1')).ok, false);
      clock += 60_000;
      assert.deepEqual(await accounts.signIn('gp-operator', PASSWORD, '10.1.3.1'), {
        ok: false,
        reason: 'account-throttled',
      });
      clock += 60_000;
      assert.equal((await accounts.signIn('gp-operator', PASSWORD, '10.1.4.1')).ok, true);
    });

    it('an address with too many failures is refused before any password is looked at, until its window passes', async () => {
      for (let i = 0; i < 4; i++) await accounts.signIn(`nobody-${i}`, 'x', '10.9.9.9');
      assert.deepEqual(await accounts.signIn('gp-operator', PASSWORD, '10.9.9.9'), {
        ok: false,
        reason: 'address-throttled',
      });
      assert.equal((await accounts.signIn('gp-operator', PASSWORD, '10.9.9.8')).ok, true, 'another address');
      clock += 600_000;
      assert.equal((await accounts.signIn('gp-operator', PASSWORD, '10.9.9.9')).ok, true);
    });

    it('a disabled account signs in no more', async () => {
      await accounts.setDisabled('gp-operator', true);
      assert.deepEqual(await accounts.signIn('gp-operator', PASSWORD, '10.2.0.1'), {
        ok: false,
        reason: 'disabled',
      });
      await accounts.setDisabled('gp-operator', false);
    });
  });

  describe(`the OIDC records adapter, auth_oidc_records (${engine.name})`, { skip: engine.skip }, () => {
    let t: TestStore;
    let clock = Date.parse('2026-12-07T08:00:00Z');
    const now = () => clock;
    let Adapter: ReturnType<typeof databaseAdapter>;

    before(async () => {
      t = await engine.open();
      Adapter = databaseAdapter(t.store as unknown as AuthStore, now);
    });
    after(async () => {
      await t?.cleanup();
    });

    it('keeps a record per model and id, replaces it on upsert, finds it by uid, and not after its expiry', async () => {
      const sessions = new Adapter('Session');
      const interactions = new Adapter('Interaction');
      await sessions.upsert('s1', { uid: 'u1', accountId: 'gp-operator' }, 60);
      await interactions.upsert('s1', { uid: 'u2', kind: 'Interaction' }, 60);
      assert.deepEqual(await sessions.find('s1'), { uid: 'u1', accountId: 'gp-operator' });
      assert.deepEqual(await interactions.find('s1'), { uid: 'u2', kind: 'Interaction' }, 'models apart');
      await sessions.upsert('s1', { uid: 'u1', accountId: 'gp-operator', amr: ['pwd'] }, 120);
      assert.deepEqual(await sessions.find('s1'), { uid: 'u1', accountId: 'gp-operator', amr: ['pwd'] });
      assert.deepEqual(await sessions.findByUid('u1'), { uid: 'u1', accountId: 'gp-operator', amr: ['pwd'] });
      assert.equal(await sessions.findByUid('u2'), undefined);
      clock += 120_000;
      assert.equal(await sessions.find('s1'), undefined, 'expired: never found');
      assert.equal(await sessions.findByUid('u1'), undefined);
    });

    it('consume stamps a code, which is then found consumed (a replay is seen)', async () => {
      const codes = new Adapter('AuthorizationCode');
      await codes.upsert('c1', { grantId: 'g1', accountId: 'gp-operator' }, 60);
      assert.equal((await codes.find('c1'))?.consumed, undefined);
      await codes.consume('c1');
      assert.equal((await codes.find('c1'))?.consumed, Math.floor(clock / 1000));
    });

    it('revokeByGrantId deletes the grant and everything issued under it, nothing else; destroy one record', async () => {
      const grants = new Adapter('Grant');
      const refresh = new Adapter('RefreshToken');
      const codes = new Adapter('AuthorizationCode');
      await grants.upsert('g2', { accountId: 'a' }, 600);
      await refresh.upsert('r2', { grantId: 'g2' }, 600);
      await codes.upsert('c2', { grantId: 'g2' }, 600);
      await refresh.upsert('r3', { grantId: 'g3' }, 600);
      await grants.upsert('g3', { accountId: 'b' }, 600);
      await grants.revokeByGrantId('g2');
      assert.equal(await grants.find('g2'), undefined);
      assert.equal(await refresh.find('r2'), undefined);
      assert.equal(await codes.find('c2'), undefined);
      assert.deepEqual(await refresh.find('r3'), { grantId: 'g3' });
      assert.deepEqual(await grants.find('g3'), { accountId: 'b' });
      await refresh.destroy('r3');
      assert.equal(await refresh.find('r3'), undefined);
      assert.deepEqual(await grants.find('g3'), { accountId: 'b' });
    });

    it('the purge deletes the expired records only; a record without expiry stays', async () => {
      const models = new Adapter('ReplayDetection');
      await models.upsert('old', { a: 1 }, 1);
      await models.upsert('new', { a: 2 }, 3600);
      await models.upsert('forever', { a: 3 }, 0);
      clock += 2_000;
      const store = t.store as unknown as AuthStore;
      const purged = await purgeExpiredOidcRecords(store, clock);
      assert.ok(purged >= 1);
      const left = await store.db
        .selectFrom('auth_oidc_records')
        .select('id')
        .where('model', '=', 'ReplayDetection')
        .orderBy('id')
        .execute();
      assert.deepEqual(
        left.map((r) => r.id),
        ['forever', 'new'],
      );
    });
  });
}
