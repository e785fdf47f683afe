import { z } from 'zod';

const positiveMs = z.number().int().positive();

/** The message service handler role (ehmiMSH): the REST/FHIR API for EUAs, and the ehmiSBDH layer. */
export const mshConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
    host: z.string().min(1).default('127.0.0.1'),
    /** HTTPS port of the EUA API; 0 picks a free one. */
    port: z.number().int().min(0).max(65535).default(8710),
    publicUrl: z.string().url().optional(),
    /** Largest message an EUA may submit. */
    bodyLimitBytes: z
      .number()
      .int()
      .min(1024)
      .default(32 * 1024 * 1024),
    /** PEM files of the CAs whose client certificates may use the EUA API (mTLS): required with the node's `authorization` (the tokens are bound to these certificates); empty only under `insecure`. */
    clientTrustAnchors: z.array(z.string().min(1)).default([]),
    /**
     * OAuth client ids that act for no organisation (the network's operator) and may read this MSH's messages and
     * inbox (`msh/messages.read`, `msh/inbox.read`), never submit or acknowledge, in addition to the node's
     * `authorization.operatorClients`. Only with the node's `authorization`; every other client's token must name
     * this MSH's organisation.
     */
    operatorClients: z.array(z.string().min(1)).default([]),
    /** ehmiSBDH ExpectedResponseDateTime: creation + 10 minutes (ehmi-core §2.4, §6.1). */
    receiptTimeoutMs: positiveMs.default(600_000),
    /** MedCom: no acknowledgement within 30 minutes marks the message for resending (020 §1.1, KR6.S). */
    acknowledgementTimeoutMs: positiveMs.default(1_800_000),
    /** MedCom: a message is resent at most twice (020 §1.1). */
    maxResends: z.number().int().min(0).max(10).default(2),
    /** Validate submitted FHIR messages against the MedCom profiles. */
    validateProfiles: z.boolean().default(true),
    /**
     * Before accepting a message, ask the access point's discovery (the SMP, cached) whether the receiver is
     * registered for its document type and process; a definite no is a 422 naming the receiver, and nothing is
     * stored. When discovery cannot be reached the message is accepted, and the access point retries it.
     */
    checkReceiver: z.boolean().default(true),
    /** Acknowledged inbox items, payloads and duplicate caches are purged after this many days. */
    retentionDays: z.number().int().min(1).default(30),
    /** How often receipt and acknowledgement deadlines are checked. */
    sweepIntervalMs: positiveMs.default(30_000),
    /** How often retention runs (purges of inbox items, sent messages, duplicate caches and finished jobs). */
    retentionIntervalMs: positiveMs.default(3_600_000),
    /** How often an instance with event-stream clients looks for items other instances delivered (0: never). */
    ssePollMs: z.number().int().min(0).default(1000),
    /** Envelopes handed to the access point at once by this instance. */
    dispatchConcurrency: z.number().int().min(1).max(64).default(4),
    /** Largest received envelope the MSH reads (it is parsed whole: base64 of the message inside XML). */
    maxInboundEnvelopeBytes: z
      .number()
      .int()
      .min(1024)
      .default(64 * 1024 * 1024),
    /**
     * Push delivery to the EUA by webhooks (Standard Webhooks 1.0; docs/architecture.md "Push delivery"): what
     * registrations may name, and how deliveries are tried.
     */
    webhooks: z
      .object({
        /**
         * Whether a webhook may point at a loopback, private, link-local or otherwise non-public address (checked at
         * registration, and again for every address a delivery connects to). Off: a registration could otherwise
         * make the MSH call into its own network (server-side request forgery). The local network (`ehmi up`) turns
         * it on: its EUAs listen on 127.0.0.1.
         */
        allowPrivateTargets: z.boolean().default(false),
        /**
         * PEM files of the CAs whose certificates a webhook receiver may present; none: the node's `tls.ca`, or
         * the system's CAs when the node has none.
         */
        trustAnchors: z.array(z.string().min(1)).default([]),
        /** Registrations this MSH keeps at most (its organisation's, together). */
        maxRegistrations: z.number().int().min(1).max(1000).default(20),
        /** Tries of one delivery before it goes to the failure list (Standard Webhooks: a schedule of about a day). */
        maxAttempts: z.number().int().min(1).max(50).default(15),
        /** Delay before the first retry; doubles per try, with ±10% jitter, up to `backoffMaxMs`. */
        backoffBaseMs: positiveMs.default(5_000),
        backoffMaxMs: positiveMs.default(6 * 3_600_000),
        /** Time to set up the TCP and TLS connection to the receiver. */
        connectTimeoutMs: positiveMs.default(10_000),
        /** Time for the receiver to answer (its headers, then its body): Standard Webhooks recommends 15–30 s. */
        responseTimeoutMs: positiveMs.default(15_000),
        /** Deliveries in flight at once on this instance. */
        concurrency: z.number().int().min(1).max(64).default(4),
      })
      .strict()
      .prefault({}),
    archive: z
      .object({
        /** `0088:<GLN>` of the document archive's participant; no copies when absent. */
        participant: z.string().optional(),
        /** SOR code of the archive: the copy's RECEIVERID, by which EDS names its receiver; default the message's. */
        sor: z.string().min(1).optional(),
        /** MedCom message types (MessageHeader.eventCoding codes) that are copied to the archive. */
        messageTypes: z.array(z.string()).default([]),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({});

export type MshConfig = z.infer<typeof mshConfigSchema>;
