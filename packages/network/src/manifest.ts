import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EhmiError } from '@ehmi/errors';
import { z } from 'zod';
import { readJsonFile } from './json-file.ts';

/** File name of the manifest in the data folder. */
export const MANIFEST_FILE = 'network.json';

/** A certificate and its private key: absolute paths of PEM files. */
const credential = z.object({ cert: z.string().min(1), key: z.string().min(1) });

const organisationEntry = z.object({
  name: z.string().min(1),
  role: z.enum(['municipality', 'gp', 'hospital', 'archive']),
  gln: z.string().regex(/^\d{13}$/),
  sor: z.string().min(1),
  msh: z.string().url(),
  ap: z.string().url(),
  /** Its node's own server (health, metrics, the audit log's search `GET /audit/AuditEvent`). */
  node: z.string().url().optional(),
  /** The OAuth client id of its EUA at the authorization server (`services.auth`). */
  clientId: z.string().min(1),
  /** The scopes its client is registered for, space-separated. */
  scope: z.string().min(1),
  /**
   * The TLS client credential its EUA presents to its MSH (= `certificates.tlsClient`), and to the authorization
   * server (its subject DN is the client's registered `tls_client_auth_subject_dn`).
   */
  tls: credential,
  /** The organisation's certificates by purpose (absolute PEM paths), for scripts. */
  certificates: z.object({ as4: credential, tlsServer: credential, tlsClient: credential }),
});

/**
 * A network-level OAuth client: `operator` (the network operator and support desk, read access across the network)
 * or `maintainer` (EER writes); `tls` its TLS client credential.
 */
const networkClientEntry = z.object({
  name: z.string().min(1),
  clientId: z.string().min(1),
  scope: z.string().min(1),
  tls: credential,
});

/**
 * `<data>/network.json`, written by `ehmi up` when the network is ready: what scripts, tests and the CLI commands
 * need to reach it. Paths are absolute.
 */
export const networkManifestSchema = z.object({
  /**
   * Central services by name → base URL (`eer`, `eas`, `smp`, `dns`; `node`, the central node's own server (its
   * audit log's search); `crl`, the full URL of the root CA's CRL;
   * `auth`, the authorization server's issuer URL, whose `/token` takes client credentials over mTLS; `eds`,
   * `archive`, `console` as they come).
   */
  services: z.record(z.string(), z.string().url()),
  /** PEM file of the root CA every server certificate of the network chains to. */
  trustAnchor: z.string().min(1),
  organisations: z.array(organisationEntry),
  operator: networkClientEntry,
  maintainer: networkClientEntry,
});

export type NetworkManifest = z.infer<typeof networkManifestSchema>;
export type ManifestOrganisation = z.infer<typeof organisationEntry>;
export type ManifestNetworkClient = z.infer<typeof networkClientEntry>;

/** Write the manifest atomically (a reader never sees half a file). */
export function writeNetworkManifest(dataDir: string, manifest: NetworkManifest): string {
  const file = join(dataDir, MANIFEST_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(manifest, null, 2)}\n`);
  renameSync(tmp, file);
  return file;
}

/**
 * Read `<dataDir>/network.json`. No file → `EHMI_UNAVAILABLE` (no network was started there); a file that is not a
 * manifest → `EHMI_CONFIG_INVALID`.
 */
export function readNetworkManifest(dataDir: string): NetworkManifest {
  return readJsonFile(join(dataDir, MANIFEST_FILE), networkManifestSchema, 'a network manifest', () => {
    throw new EhmiError(
      'EHMI_UNAVAILABLE',
      `no local network in ${dataDir} (no ${MANIFEST_FILE}): start one with 'ehmi up --data ${dataDir}'`,
    );
  });
}
