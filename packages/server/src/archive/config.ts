import { z } from 'zod';

/**
 * The archive role (the document archive, EMR/DDS, ehmi-core §1.3): the participant that receives the copies of
 * messages configured for sharing (an ehmiSBDH with XDS-METADATA) through the access point of its node, stores each
 * document with its MedCom DocumentReference, and serves them over FHIR R4 (DocumentReference search and read,
 * Binary read).
 */
export const archiveConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
    host: z.string().min(1).default('127.0.0.1'),
    /** Port of the FHIR server (HTTPS when the node has `tls`); 0 picks a free one. */
    port: z.number().int().min(0).max(65535).default(8716),
    /** Base URL clients reach the archive at (Bundle fullUrls, the attachment URL), when it differs from the listen address. */
    publicUrl: z.string().url().optional(),
    /** Largest copy (the whole ehmiSBDH) the archive reads; it is parsed whole. */
    maxEnvelopeBytes: z
      .number()
      .int()
      .min(1024)
      .default(64 * 1024 * 1024),
    /** Searchset page size when `_count` is absent, and the largest `_count` honoured. */
    search: z
      .object({
        defaultCount: z.number().int().min(1).max(1000).default(50),
        maxCount: z.number().int().min(1).max(1000).default(200),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({});

export type ArchiveConfig = z.infer<typeof archiveConfigSchema>;
