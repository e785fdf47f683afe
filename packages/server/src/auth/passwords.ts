import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * scrypt parameters of a new password hash (RFC 7914): N=2^15 (32 MiB), r=8, p=3, one of the equivalent settings
 * OWASP's Password Storage Cheat Sheet lists for scrypt. The cost is stored with each hash, so it can be raised
 * later without invalidating older hashes; online guessing is bounded by the throttling of `accounts.ts`.
 */
const N_LOG2 = 15;
const R = 8;
const P = 3;
const KEY_BYTES = 32;
const SALT_BYTES = 16;
/** scrypt needs 128·N·r bytes; node's default cap (32 MiB) is just too small for N=2^15, r=8. */
const maxmemOf = (n: number, r: number) => 128 * n * r * 2;

function derive(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  const options: ScryptOptions = { N: n, r, p, maxmem: maxmemOf(n, r) };
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, KEY_BYTES, options, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/**
 * A password's hash for storage: `scrypt$<log2 N>$<r>$<p>$<salt>$<key>` (salt and key base64url), with a new
 * random salt per call.
 *
 * @example
 * const stored = await hashPassword('correct horse'); // scrypt$15$8$1$…$…
 * await verifyPassword('correct horse', stored); // true
 */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, 2 ** N_LOG2, R, P);
  return ['scrypt', N_LOG2, R, P, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** Whether `password` is the one `stored` was made from (compared in constant time); false for a malformed hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [nLog2, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (![nLog2, r, p].every((v) => Number.isInteger(v) && v > 0) || nLog2 > 20 || r > 32 || p > 4)
    return false;
  const expected = Buffer.from(parts[5]!, 'base64url');
  if (expected.length !== KEY_BYTES) return false;
  const key = await derive(password, Buffer.from(parts[4]!, 'base64url'), 2 ** nLog2, r, p);
  return timingSafeEqual(key, expected);
}

/** A stored hash of no password: verified against when the account does not exist, so both take the same time. */
export const DUMMY_HASH = `scrypt$${N_LOG2}$${R}$${P}$${Buffer.alloc(SALT_BYTES).toString('base64url')}$${Buffer.alloc(KEY_BYTES).toString('base64url')}`;

/** A new random password for a generated account: 24 characters of base64url (144 bits). */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}
