import type { Migration } from 'kysely';
import type { z } from 'zod';
import { apRole } from './ap/role.ts';
import { archiveRole } from './archive/role.ts';
import { composeConfigSchema, configKeysOf, type LoadConfigOptions, loadConfigWith } from './config/index.ts';

export { envName, type LoadConfigOptions } from './config/index.ts';

import { AUDIT_MIGRATIONS } from './audit/migrations.ts';
import type { AuditTables } from './audit/tables.ts';
import { authRole } from './auth/role.ts';
import { consoleRole } from './console/role.ts';
import { easRole } from './eas/role.ts';
import { edsRole } from './eds/role.ts';
import { eerRole } from './eer/role.ts';
import { mshRole } from './msh/role.ts';
import type { RoleModule } from './roles.ts';
import { smpRole } from './smp/role.ts';
import type { BlobReference, CoreTables, StoreOptions } from './store/index.ts';
import { openStore, type Store } from './store/index.ts';

/**
 * The roles a node can run, in the order it creates and starts them (a role may need a service an earlier one
 * provides; the node stops them in the reverse order). Adding a role is a folder with its `role.ts` and one line
 * here.
 */
export const ROLES = [
  apRole,
  mshRole,
  archiveRole,
  smpRole,
  eerRole,
  easRole,
  edsRole,
  authRole,
  consoleRole,
] as const;

type Roles = (typeof ROLES)[number];

/** Every table of the node: the store's own and each role's. */
export type NodeTables = CoreTables & AuditTables & UnionToIntersection<TablesOf<Roles>>;

type TablesOf<R> = R extends RoleModule<string, z.ZodType, infer T> ? T : never;
type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void
  ? I
  : never;

type Sections = { [R in Roles as R['name']]: R['configSchema'] };

/**
 * The node's configuration: its own settings and one section per role. Every key can come from the config file
 * (JSON) or from an `EHMI_*` environment variable named after its path (`http.port` → `EHMI_HTTP_PORT`,
 * `msh.port` → `EHMI_MSH_PORT`); the environment wins. `DATABASE_URL` is also read, for the database URL.
 */
export const configSchema = composeConfigSchema(
  Object.fromEntries(ROLES.map((r) => [r.name, r.configSchema])) as Sections,
);

export type Config = z.infer<typeof configSchema>;
/** What a config file or a test may give: every key optional. */
export type ConfigInput = z.input<typeof configSchema>;

/**
 * Load and validate the node's configuration once, at start-up. An unknown key (in the file or as an `EHMI_*`
 * variable) or a bad value throws EHMI_CONFIG_INVALID naming the key and what is expected.
 *
 * @example
 * const config = loadConfig({ file: 'node.json' }); // EHMI_HTTP_PORT=9000 overrides the file's http.port
 */
export function loadConfig(options: LoadConfigOptions & { overrides?: ConfigInput } = {}): Config {
  return loadConfigWith(configSchema, options);
}

/** Every configuration key with its environment variable, for `--help` and docs. */
export function configKeys(): { key: string; env: string }[] {
  return configKeysOf(configSchema);
}

/** Every role's migrations, for the node's store. */
export const ROLE_MIGRATIONS: Readonly<Record<string, Migration>> = Object.assign(
  {},
  ...ROLES.map((r) => r.migrations),
);

/** Every column of every role that names a blob, for the node's blob collector. */
export const BLOB_REFERENCES: readonly BlobReference[] = ROLES.flatMap((r) => r.blobReferences);

/** Open a store with every role's tables and the audit log's (what a node opens; tests and tools that read a node's tables too). */
export function openNodeStore(options: Omit<StoreOptions, 'migrations'>): Promise<Store<NodeTables>> {
  return openStore<NodeTables>({ ...options, migrations: { ...AUDIT_MIGRATIONS, ...ROLE_MIGRATIONS } });
}
