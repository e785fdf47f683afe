import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EhmiError } from '@ehmi/errors';

/** File name of an organisation's secrets in its folder (`<data>/<org>/secrets.json`). */
export const SECRETS_FILE = 'secrets.json';

/**
 * An organisation's secrets, generated on first start and kept in `<data>/<org>/secrets.json` (mode 0600): the
 * admin token of its access point's evidence API (`ap.adminToken`).
 */
export interface OrganisationSecrets {
  apAdminToken: string;
}

function parse(file: string): OrganisationSecrets | undefined {
  try {
    const s = JSON.parse(readFileSync(file, 'utf8')) as Partial<OrganisationSecrets>;
    if (typeof s.apAdminToken === 'string' && s.apAdminToken.length >= 16) {
      return { apAdminToken: s.apAdminToken };
    }
  } catch {
    // Unreadable or incomplete: the caller decides.
  }
  return undefined;
}

/**
 * Read an organisation's secrets file, or create it (mode 0600, written atomically) with a fresh random token, as
 * `ensureCentralSecrets` does for the central node.
 */
export function ensureOrganisationSecrets(dataDir: string, organisation: string): OrganisationSecrets {
  const dir = join(dataDir, organisation);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, SECRETS_FILE);
  if (existsSync(file)) {
    // Unreadable: a new token below (only this organisation's AP and the CLI read it, both from here).
    const s = parse(file);
    if (s) return s;
  }
  const secrets: OrganisationSecrets = { apAdminToken: randomBytes(24).toString('base64url') };
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
  return secrets;
}

/** An organisation's secrets as the running network wrote them; none → `EHMI_UNAVAILABLE` (exit 4). */
export function readOrganisationSecrets(dataDir: string, organisation: string): OrganisationSecrets {
  const file = join(dataDir, organisation, SECRETS_FILE);
  if (!existsSync(file)) {
    throw new EhmiError(
      'EHMI_UNAVAILABLE',
      `no secrets for ${organisation} in ${dataDir} (no ${file}): start the network with 'ehmi up --data ${dataDir}'`,
    );
  }
  const s = parse(file);
  if (!s) throw new EhmiError('EHMI_CONFIG_INVALID', `${file} holds no apAdminToken`);
  return s;
}
