import { createPrivateKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { KeyType } from '@ehmi/pki';

const generateRsa = promisify(generateKeyPair);

/**
 * The test runs' key cache: a folder named by `EHMI_TEST_KEY_CACHE` (set by `scripts/test.mjs` for one run of the
 * suite; never in production), where a fresh network PKI takes its RSA keys by a stable name instead of generating
 * them: 3 RSA-3072 and 12 RSA-2048 keys are ~5 s of CPU, half of a network start. Unset, nothing is cached.
 */
export const TEST_KEY_CACHE_ENV = 'EHMI_TEST_KEY_CACHE';

/** How many fresh network PKIs this process has made with cached keys: the next one takes keys of its own. */
let freshPkis = 0;

/**
 * The key namer of a network PKI made from nothing in this process, or undefined (no key cache: generate). Each
 * fresh PKI of one process gets keys of its own (`pki-<n>/…`), so two networks of one test never share a key; the
 * PKIs of other processes (other test files, `ehmi up` as a child process) take the same keys by the same names.
 */
export function testKeyNamer(): ((name: string, keyType: KeyType) => Promise<KeyObject>) | undefined {
  const dir = process.env[TEST_KEY_CACHE_ENV];
  if (!dir) return undefined;
  const pki = `pki-${freshPkis++}`;
  return (name, keyType) => cachedKey(dir, `${pki}-${name}-${keyType}`, keyType);
}

async function cachedKey(dir: string, name: string, keyType: KeyType): Promise<KeyObject> {
  const file = join(dir, `${name}.key`);
  try {
    return createPrivateKey(await readFile(file, 'utf8'));
  } catch {
    // Not made yet, by this process or another: make it.
  }
  if (keyType !== 'rsa-2048' && keyType !== 'rsa-3072') {
    throw new Error(`the test key cache holds RSA keys, not ${keyType}`);
  }
  const { privateKey } = await generateRsa('rsa', { modulusLength: keyType === 'rsa-2048' ? 2048 : 3072 });
  // Another process may make the same key meanwhile: each writes its own file and renames it into place (the last
  // one wins, whole), and each uses the key it made: the two never serve one network.
  const temporary = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  await writeFile(temporary, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  await rename(temporary, file);
  return privateKey;
}
