import { defineRole } from '../roles.ts';
import { eerConfigSchema } from './config.ts';
import { eerMigrations } from './migrations.ts';
import type { EerTables } from './tables.ts';

/** Queue of the jobs that push one organisation to one target (ehmi-core §4.1: EER is the master of SMP and EAS). */
export const PROPAGATE_QUEUE = 'eer.propagate';

/** The endpoint register (EER): FHIR Organization, Endpoint and Device, propagated to the SMP and to EAS. */
export const eerRole = defineRole<EerTables>()({
  name: 'eer',
  configSchema: eerConfigSchema,
  migrations: eerMigrations,
  blobReferences: [],
  queues: [PROPAGATE_QUEUE],
  enabled: (config) => config.enabled,
  async create(ctx) {
    const { createEerRole } = await import('./index.ts');
    return createEerRole(ctx);
  },
});
