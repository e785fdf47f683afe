import { z } from 'zod';

/**
 * The EDS role (EHMI Delivery Status, ehmi-core §3): a FHIR R4 server where every station registers each step of a
 * message as an AuditEvent (EdsBasicDeliveryStatus, EdsPatientDeliveryStatus), read and searched for track'n'trace.
 */
export const edsConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
    host: z.string().min(1).default('127.0.0.1'),
    /** Port of the FHIR server (HTTPS when the node has `tls`); 0 picks a free one. */
    port: z.number().int().min(0).max(65535).default(8717),
    /** Base URL clients reach EDS at (Location headers, Bundle fullUrls), when it differs from the listen address. */
    publicUrl: z.string().url().optional(),
    /** Searchset page size when `_count` is absent, and the largest `_count` honoured. */
    search: z
      .object({
        defaultCount: z.number().int().min(1).max(1000).default(50),
        maxCount: z.number().int().min(1).max(5000).default(1000),
      })
      .strict()
      .prefault({}),
    /**
     * A `batch` Bundle at `POST [base]` (FHIR R4 http.html §3.1.0.11): at most `maxEntries` entries (more: 413) and
     * `maxBytes` octets of body (more: 413). Every entry is validated and answered on its own.
     */
    batch: z
      .object({
        maxEntries: z.number().int().min(1).max(1000).default(200),
        maxBytes: z
          .number()
          .int()
          .min(1024)
          .default(16 * 1024 * 1024),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({});

export type EdsConfig = z.infer<typeof edsConfigSchema>;
