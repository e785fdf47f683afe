import { defineRole } from '../roles.ts';
import { archiveConfigSchema } from './config.ts';
import { archiveMigrations } from './migrations.ts';
import { ARCHIVE_BLOB_REFERENCES, type ArchiveTables } from './tables.ts';

/**
 * The document archive (EMR/DDS, ehmi-core §1.3): receives the copies of shared messages through the access point of
 * its node, which it serves as `msh.backend` (so the ap role runs beside it and the msh role does not), and offers
 * them over FHIR (DocumentReference, Binary).
 */
export const archiveRole = defineRole<ArchiveTables>()({
  name: 'archive',
  configSchema: archiveConfigSchema,
  migrations: archiveMigrations,
  blobReferences: ARCHIVE_BLOB_REFERENCES,
  queues: [],
  enabled: (config) => config.enabled,
  async create(ctx) {
    const { createArchiveRole } = await import('./index.ts');
    const archive = await createArchiveRole(ctx);
    ctx.services.provide('msh.backend', archive.backend);
    return archive;
  },
});
