import { QUEUES } from '../path.ts';
import { defineRole } from '../roles.ts';
import { mshConfigSchema } from './config.ts';
import { mshMigrations } from './migrations.ts';
import { MSH_BLOB_REFERENCES, type MshTables } from './tables.ts';

/**
 * The message service handler: the EUA API (submit, inbox, acknowledge, track). It hands envelopes to the access
 * point of the same node (`ap.gateway`, so the ap role must run beside it) and provides `msh.backend`, where that
 * access point delivers.
 */
export const mshRole = defineRole<MshTables>()({
  name: 'msh',
  configSchema: mshConfigSchema,
  migrations: mshMigrations,
  blobReferences: MSH_BLOB_REFERENCES,
  queues: [QUEUES.dispatch, QUEUES.webhook],
  enabled: (config) => config.enabled,
  async create(ctx) {
    const { createMsh } = await import('./index.ts');
    const accessPoint = ctx.services.need(
      'ap.gateway',
      'msh.enabled: the message service handler needs ap.enabled on the same node',
    );
    const msh = await createMsh(ctx, { accessPoint });
    ctx.services.provide('msh.backend', msh.backend);
    return msh;
  },
});
