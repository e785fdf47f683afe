import { z } from 'zod';

/** A service EER pushes its register to (SMP admin API, EAS admin API), with the bearer token it requires. */
const target = z
  .object({
    /** Base URL of the service (no trailing slash needed). */
    url: z.string().url(),
    /** Sent as `Authorization: Bearer <adminToken>`. */
    adminToken: z.string().min(1),
  })
  .strict();

/**
 * The EER role (EHMI Endpoint Register, ehmi-core §4): a FHIR R4 REST server for Organization, Endpoint and
 * Device, validated against the EER profiles, whose writes are pushed to the SMP and to EAS.
 */
export const eerConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
    host: z.string().min(1).default('127.0.0.1'),
    /** Port of the FHIR server; 0 picks a free one. */
    port: z.number().int().min(0).max(65535).default(8713),
    /** Base URL clients reach EER at (Location headers, Bundle fullUrls), when it differs from the listen address. */
    publicUrl: z.string().url().optional(),
    /** SMP whose admin API receives the messaging endpoints (ServiceGroup/ServiceMetadata); unset: not pushed. */
    smp: target.optional(),
    /**
     * PEM files of the CAs an access point's certificate must chain to before the register accepts it for the SMP
     * (senders check the same). Required with `smp`, unless the node's `insecure` development switch is set.
     */
    apTrustAnchors: z.array(z.string().min(1)).default([]),
    /** EAS whose admin API receives each organisation with its endpoints and devices; unset: not pushed. */
    eas: target.optional(),
    propagation: z
      .object({
        /**
         * Jobs of the `eer.propagate` queue run at once. Each job publishes the organisation's state as it is when
         * the job runs, so jobs run one at a time converge on the latest write; two jobs of one organisation running
         * at once could finish in the other order.
         */
        concurrency: z.number().int().min(1).max(16).default(1),
        /** Time for one call to the SMP or EAS. */
        timeoutMs: z.number().int().positive().default(30_000),
      })
      .strict()
      .prefault({}),
    /** Searchset page size when `_count` is absent, and the largest `_count` honoured. */
    search: z
      .object({
        defaultCount: z.number().int().min(1).max(1000).default(50),
        maxCount: z.number().int().min(1).max(5000).default(1000),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({});

export type EerConfig = z.infer<typeof eerConfigSchema>;
