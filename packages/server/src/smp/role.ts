import { defineRole } from '../roles.ts';
import { smpConfigSchema } from './config.ts';
import { smpMigrations } from './migrations.ts';
import type { SmpTables } from './tables.ts';

/** The service metadata publisher, with the SML/BDXL DNS zone of the participants it serves. */
export const smpRole = defineRole<SmpTables>()({
  name: 'smp',
  configSchema: smpConfigSchema,
  migrations: smpMigrations,
  blobReferences: [],
  queues: [],
  enabled: (config) => config.enabled,
  async create(ctx) {
    const { createSmpRole } = await import('./index.ts');
    return createSmpRole(ctx);
  },
});
