import { constants, createHash, type KeyObject, privateDecrypt, webcrypto } from 'node:crypto';
import type { HashName } from './algorithms.ts';

/** WebCrypto's names of the OAEP hashes it takes (it has no SHA-224). */
const WEBCRYPTO_HASH: Partial<Record<HashName, string>> = {
  sha1: 'SHA-1',
  sha256: 'SHA-256',
  sha384: 'SHA-384',
  sha512: 'SHA-512',
};

/** Each private key as a WebCrypto RSA-OAEP key, per hash: imported once, inside this process. */
const oaepKeys = new WeakMap<KeyObject, Map<HashName, Promise<webcrypto.CryptoKey | undefined>>>();

/** The WebCrypto form of `privateKey` for RSA-OAEP with `hash`, or undefined when it has none (not an RSA key). */
function oaepKey(privateKey: KeyObject, hash: HashName): Promise<webcrypto.CryptoKey | undefined> {
  const byHash = oaepKeys.get(privateKey) ?? new Map<HashName, Promise<webcrypto.CryptoKey | undefined>>();
  oaepKeys.set(privateKey, byHash);
  let key = byHash.get(hash);
  if (!key) {
    const name = WEBCRYPTO_HASH[hash];
    key =
      name && privateKey.type === 'private' && privateKey.asymmetricKeyType === 'rsa'
        ? importOaepKey(privateKey, name)
        : Promise.resolve(undefined);
    byHash.set(hash, key);
  }
  return key;
}

async function importOaepKey(privateKey: KeyObject, hash: string): Promise<webcrypto.CryptoKey | undefined> {
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
  try {
    return await webcrypto.subtle.importKey('pkcs8', pkcs8, { name: 'RSA-OAEP', hash }, false, ['decrypt']);
  } catch {
    return undefined;
  } finally {
    pkcs8.fill(0);
  }
}

/**
 * RSAES-OAEP decryption (RFC 8017 §7.1.2) with the digest and the MGF1 hash chosen separately, as XML Encryption 1.1
 * §5.5.2 allows (`rsa-oaep-mgf1p` with a SHA-256 DigestMethod uses MGF1-SHA1; `xmlenc11#rsa-oaep` names both).
 * When they are the same (eDelivery AS4 1.15: SHA-256 for both) OpenSSL decodes, through WebCrypto, which does the
 * private-key operation (about 4 ms for RSA-3072) on libuv's thread pool, off the event loop; otherwise the raw RSA
 * result is decoded here. Returns undefined on any decoding error, without saying which check failed; the decoding
 * itself runs over every octet whatever the outcome.
 */
export async function rsaOaepDecrypt(
  privateKey: KeyObject,
  ciphertext: Buffer,
  hash: HashName,
  mgfHash: HashName,
  label: Buffer = Buffer.alloc(0),
): Promise<Buffer | undefined> {
  try {
    if (hash === mgfHash) {
      const key = await oaepKey(privateKey, hash);
      if (key) {
        return Buffer.from(await webcrypto.subtle.decrypt({ name: 'RSA-OAEP', label }, key, ciphertext));
      }
      return privateDecrypt(
        { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash, oaepLabel: label },
        ciphertext,
      );
    }
    const k = Math.ceil((privateKey.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
    if (ciphertext.length !== k) return undefined;
    const em = privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, ciphertext);
    return decodeOaep(em, k, hash, mgfHash, label);
  } catch {
    return undefined;
  }
}

/** EME-OAEP decoding, RFC 8017 §7.1.2 step 3. Exported for tests. */
export function decodeOaep(
  em: Buffer,
  k: number,
  hash: HashName,
  mgfHash: HashName,
  label: Buffer,
): Buffer | undefined {
  const lHash = createHash(hash).update(label).digest();
  const hLen = lHash.length;
  if (k < 2 * hLen + 2 || em.length > k) return undefined;
  // privateDecrypt without padding returns k octets; left-pad defensively.
  const padded = em.length === k ? em : Buffer.concat([Buffer.alloc(k - em.length), em]);
  const y = padded[0]!;
  const maskedSeed = padded.subarray(1, 1 + hLen);
  const maskedDb = padded.subarray(1 + hLen);
  const seed = xor(maskedSeed, mgf1(maskedDb, hLen, mgfHash));
  const db = xor(maskedDb, mgf1(seed, k - hLen - 1, mgfHash));
  // DB = lHash' ‖ PS (zeros) ‖ 0x01 ‖ M. Accumulate every check; no early exit.
  let bad = y;
  for (let i = 0; i < hLen; i++) bad |= db[i]! ^ lHash[i]!;
  let found = 0;
  let index = 0;
  for (let i = hLen; i < db.length; i++) {
    const b = db[i]!;
    const isOne = Number(b === 1);
    const isZero = Number(b === 0);
    const firstOne = isOne & (found ^ 1);
    index = firstOne ? i : index;
    // Before the separator only zeros may appear.
    bad |= (found ^ 1) & (isZero ^ 1) & (isOne ^ 1);
    found |= isOne;
  }
  bad |= found ^ 1;
  return bad === 0 ? Buffer.from(db.subarray(index + 1)) : undefined;
}

/** MGF1 (RFC 8017 §B.2.1). */
function mgf1(seed: Buffer, length: number, hash: HashName): Buffer {
  const blocks: Buffer[] = [];
  const counter = Buffer.alloc(4);
  let total = 0;
  for (let c = 0; total < length; c++) {
    counter.writeUInt32BE(c);
    const block = createHash(hash).update(seed).update(counter).digest();
    blocks.push(block);
    total += block.length;
  }
  return Buffer.concat(blocks).subarray(0, length);
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}
