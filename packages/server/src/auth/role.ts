import { defineRole } from '../roles.ts';
import { authConfigSchema } from './config.ts';
import { authMigrations } from './migrations.ts';
import type { AuthTables } from './tables.ts';

/** The authorization server (FAPI 2.0, mTLS, certificate-bound client-credentials tokens). */
export const authRole = defineRole<AuthTables>()({
  name: 'auth',
  configSchema: authConfigSchema,
  migrations: authMigrations,
  blobReferences: [],
  queues: [],
  enabled: (config) => config.enabled,
  async create(ctx) {
    const { createAuthRole } = await import('./index.ts');
    return createAuthRole(ctx);
  },
});
