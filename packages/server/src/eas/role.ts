import { defineRole } from '../roles.ts';
import { easConfigSchema } from './config.ts';
import { easMigrations } from './migrations.ts';
import type { EasTables } from './tables.ts';

/** The addressing service (EAS): who receives a message type for a patient or an organisation. */
export const easRole = defineRole<EasTables>()({
  name: 'eas',
  configSchema: easConfigSchema,
  migrations: easMigrations,
  blobReferences: [],
  queues: [],
  enabled: (config) => config.enabled,
  async create(ctx) {
    const { createEasRole } = await import('./index.ts');
    return createEasRole(ctx);
  },
});
