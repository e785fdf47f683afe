import { defineRole } from '../roles.ts';
import { edsConfigSchema } from './config.ts';
import { edsMigrations } from './migrations.ts';
import type { EdsTables } from './tables.ts';

/** The delivery status service (EDS): every station's AuditEvents of each message, for track'n'trace. */
export const edsRole = defineRole<EdsTables>()({
  name: 'eds',
  configSchema: edsConfigSchema,
  migrations: edsMigrations,
  blobReferences: [],
  queues: [],
  enabled: (config) => config.enabled,
  async create(ctx) {
    const { createEdsRole } = await import('./index.ts');
    return createEdsRole(ctx);
  },
});
