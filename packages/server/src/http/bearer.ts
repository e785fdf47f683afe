import { createHash, timingSafeEqual } from 'node:crypto';

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * A static bearer token of an admin API (`smp.adminToken`, `eas.adminToken`, `ap.adminToken`): `matches(header)` is
 * true for `Authorization: Bearer <that token>`. Compared as SHA-256 digests, so in constant time and without
 * leaking the token's length; `bearer(header)` tells a missing or malformed header from a wrong token.
 */
export class StaticBearerToken {
  readonly #hash: Buffer;

  constructor(token: string) {
    this.#hash = sha256(token);
  }

  /** The token of an `Authorization: Bearer <token>` header, undefined when there is none of that form. */
  static bearer(header: string | undefined): string | undefined {
    return /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1];
  }

  matches(header: string | undefined): boolean {
    const token = StaticBearerToken.bearer(header);
    return token !== undefined && timingSafeEqual(sha256(token), this.#hash);
  }
}
