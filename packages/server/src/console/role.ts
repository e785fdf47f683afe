import { defineRole } from '../roles.ts';
import { consoleConfigSchema } from './config.ts';
import { consoleMigrations } from './migrations.ts';
import type { ConsoleTables } from './tables.ts';

/** The web console's server side: sign-in at the authorization server, sessions, the console's API and pages. */
export const consoleRole = defineRole<ConsoleTables>()({
  name: 'console',
  configSchema: consoleConfigSchema,
  migrations: consoleMigrations,
  blobReferences: [],
  queues: [],
  enabled: (config) => config.enabled,
  async create(ctx) {
    const { createConsoleRole } = await import('./index.ts');
    return createConsoleRole(ctx);
  },
});
