import { QUEUES } from '../path.ts';
import { defineRole } from '../roles.ts';
import { apConfigSchema } from './config.ts';
import { apMigrations } from './migrations.ts';
import { AP_BLOB_REFERENCES, type ApTables } from './tables.ts';

/**
 * The access point (eDelivery AS4): sends what its MSH hands over and delivers what it receives to that MSH. It
 * provides the `ap.gateway` service and delivers through `msh.backend`, looked up on each call (the MSH is created
 * after it).
 */
export const apRole = defineRole<ApTables>()({
  name: 'ap',
  configSchema: apConfigSchema,
  migrations: apMigrations,
  blobReferences: AP_BLOB_REFERENCES,
  queues: [QUEUES.send, QUEUES.deliver, QUEUES.outcome],
  enabled: (config) => config.enabled,
  async create(ctx) {
    const { createAccessPoint } = await import('./index.ts');
    const ap = await createAccessPoint(ctx, { backend: ctx.services.late('msh.backend') });
    ctx.services.provide('ap.gateway', ap.gateway);
    return ap;
  },
});
