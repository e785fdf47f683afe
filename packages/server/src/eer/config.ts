import { z } from 'zod';

/** A service EER pushes its register to (SMP admin API, EAS admin API). */
const target = z
  .object({
    /**
     * Base URL of the service's admin API (no trailing slash needed): with the node's `authorization`, also the
     * resource (RFC 8707) the access tokens are asked for.
     */
    url: z.string().url(),
    /**
     * Static bearer token of the service, for development only: sent as `Authorization: Bearer <adminToken>` when
     * the node has no `authorization` (the `insecure` switch), and then required. With `authorization`, EER sends
     * access tokens of `eer.propagation.clientId` instead.
     */
    adminToken: z.string().min(1).optional(),
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
        /**
         * With the node's `authorization`: the client id EER is registered with at the authorization server. EER
         * asks for access tokens as this client (client credentials, `tls_client_auth`) for the SMP's admin API
         * (`smp/publication.write`) and EAS's (`eas/index.write`). Required then, when `smp` or `eas` is set.
         */
        clientId: z.string().min(1).optional(),
        /**
         * PEM files of the TLS client certificate and key the client authenticates with (and its tokens are bound
         * to); default the node's TLS client certificate (`tls.clientCert`, else `tls.cert`).
         */
        tls: z
          .object({ cert: z.string().min(1), key: z.string().min(1) })
          .strict()
          .optional(),
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
