import { createHash, generateKeyPairSync, type JsonWebKey } from 'node:crypto';
import type { AuthStore } from './tables.ts';

export type SigningAlg = 'PS256' | 'ES256';

/** A signing key as the provider takes it: a private JWK with `kid`, `alg` and `use`. */
export interface SigningKey {
  kid: string;
  alg: SigningAlg;
  jwk: JsonWebKey & { kid: string; alg: string; use: 'sig' };
  createdAt: number;
}

const DAY_MS = 86_400_000;
/** Clock skew allowed for an expired token at a resource server (FAPI 2.0 §5.3.2.1: up to 60 s). */
const SKEW_MS = 60_000;

/** RFC 7638 JWK thumbprint (SHA-256, base64url) of an RSA or EC public key. */
export function jwkThumbprint(jwk: JsonWebKey): string {
  const members =
    jwk.kty === 'RSA'
      ? { e: jwk.e, kty: jwk.kty, n: jwk.n }
      : { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

/** A new key for `alg` (FAPI 2.0 §5.4: RSA at least 2048 bits, EC at least 224; here P-256). */
export function generateSigningKey(alg: SigningAlg, now: number): SigningKey {
  const { privateKey } =
    alg === 'PS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const exported = privateKey.export({ format: 'jwk' });
  const kid = jwkThumbprint(exported);
  return { kid, alg, jwk: { ...exported, kid, alg, use: 'sig' }, createdAt: now };
}

/**
 * The role's signing keys, kept in `auth_signing_keys` so every instance on one database signs with the same key
 * and publishes the same JWKS. The newest key signs. A key that has been replaced stays until every token it can
 * have signed has expired (replacement time + token lifetime + clock skew), so resource servers can still verify
 * them; then it is deleted.
 */
export class SigningKeys {
  constructor(
    private readonly store: AuthStore,
    private readonly options: {
      alg: SigningAlg;
      rotationDays: number;
      tokenTtlSeconds: number;
      now: () => number;
    },
  ) {}

  /** Every key kept, oldest first. */
  async list(): Promise<SigningKey[]> {
    const rows = await this.store.db
      .selectFrom('auth_signing_keys')
      .selectAll()
      .orderBy('created_at')
      .orderBy('kid')
      .execute();
    return rows.map((r) => ({
      kid: r.kid,
      alg: r.alg as SigningAlg,
      jwk: JSON.parse(r.private_jwk) as SigningKey['jwk'],
      createdAt: Number(r.created_at),
    }));
  }

  /**
   * Bring the keys up to date: a first key when there is none, a new one when the signer is `rotationDays` old or
   * signs with another algorithm than the configured one, and drop keys whose tokens have all expired. Returns the
   * keys, oldest first (the last one signs).
   */
  async maintain(): Promise<SigningKey[]> {
    const now = this.options.now();
    const keys = await this.list();
    const signer = keys.at(-1);
    if (
      !signer ||
      signer.alg !== this.options.alg ||
      now - signer.createdAt >= this.options.rotationDays * DAY_MS
    ) {
      return this.rotate();
    }
    return this.prune(keys, now);
  }

  /** Add a new key, which becomes the signer at once (operators rotate after a suspected compromise, tests). */
  async rotate(): Promise<SigningKey[]> {
    const now = this.options.now();
    // Strictly newer than the signer, so the new key signs even when the clock has not moved since it was made.
    const newest = (await this.list()).at(-1)?.createdAt ?? Number.NEGATIVE_INFINITY;
    const key = generateSigningKey(this.options.alg, Math.max(now, newest + 1));
    await this.store.db
      .insertInto('auth_signing_keys')
      .values({ kid: key.kid, alg: key.alg, private_jwk: JSON.stringify(key.jwk), created_at: key.createdAt })
      .execute();
    return this.prune(await this.list(), now);
  }

  private async prune(keys: SigningKey[], now: number): Promise<SigningKey[]> {
    const keep = this.options.tokenTtlSeconds * 1000 + SKEW_MS;
    // A key stopped signing when the next one was created; its last token expires `keep` later.
    const expired = keys.filter((_k, i) => i < keys.length - 1 && keys[i + 1]!.createdAt + keep < now);
    if (expired.length === 0) return keys;
    await this.store.db
      .deleteFrom('auth_signing_keys')
      .where(
        'kid',
        'in',
        expired.map((k) => k.kid),
      )
      .execute();
    return keys.filter((k) => !expired.includes(k));
  }
}
