import { z } from 'zod';

const positiveMs = z.number().int().positive();

/** A PEM file pair: certificate (with its chain after it, if any) and private key. */
export const credentialFiles = z
  .object({
    cert: z.string().min(1),
    key: z.string().min(1),
  })
  .strict();

/** One participant the static discovery map knows (until the SMP and DNS replace it). */
const staticEndpoint = z
  .object({
    /** The receiving access point's AS4 URL. */
    url: z.string().url(),
    /** PEM file of the receiving AP's certificate (encryption and receipt signatures). */
    certificate: z.string().min(1),
    transportProfile: z.string().default('bdxr-transport-ebms3-as4-v1p0'),
  })
  .strict();

/**
 * Where the AP finds a receiver's AP (ehmi-core §1.2 step 3; eDelivery AS4 1.15 §1.5.4 Dynamic Sender): either a
 * fixed SMP (`url`) or the SML/BDXL zone (`zone`) asked through `dnsServer` (the system's resolvers when absent).
 */
const smpDiscoveryConfig = z
  .object({
    /** A fixed SMP base URL: no DNS (a network with one SMP). Either this or `zone`. */
    url: z.string().url().optional(),
    /** The SML/BDXL DNS zone participants are registered in (`sml.ehmi.internal` in the local network). */
    zone: z.string().min(1).optional(),
    /** `naptr`: BDXL U-NAPTR `Meta:SMP` (the SMP URL, port included); `cname`: Peppol SML `B-<md5>` CNAME. */
    naming: z.enum(['naptr', 'cname', 'naptr-then-cname']).default('naptr'),
    /** Port of an SMP found by CNAME (Peppol: 80). */
    cnamePort: z.number().int().min(1).max(65535).optional(),
    /** A DNS server to ask instead of the system's (the local network's authoritative zone server). */
    dnsServer: z
      .object({ host: z.string().min(1), port: z.number().int().min(1).max(65535).default(53) })
      .strict()
      .optional(),
    /** PEM files of the CAs (or pinned certificates) the SMP's signing certificate must chain to. */
    trustAnchors: z.array(z.string().min(1)).min(1, 'the SMP client needs at least one trust anchor'),
    /** How long a successful lookup is reused; 0 disables the cache. */
    cacheTtlMs: z.number().int().min(0).default(600_000),
    /** Time for one DNS or SMP request. */
    timeoutMs: positiveMs.default(10_000),
  })
  .strict()
  .refine((c) => (c.url === undefined) !== (c.zone === undefined), {
    message: 'ap.discovery.smp needs either url (a fixed SMP) or zone (SML/BDXL DNS), not both',
  });

/** The access point role (ehmiAP): AS4 over HTTPS to other access points. */
export const apConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
    host: z.string().min(1).default('127.0.0.1'),
    /** HTTPS port of the AS4 endpoint (`POST /as4`); 0 picks a free one. */
    port: z.number().int().min(0).max(65535).default(8711),
    /** Base URL others reach this AP at, when it differs from https://host:port (a proxy, a DNS name). */
    publicUrl: z.string().url().optional(),
    /** Key and certificate that sign outgoing messages and receipts, and decrypt incoming payloads. */
    signing: credentialFiles.optional(),
    /** Separate encryption key pair; by default the signing one. */
    encryption: credentialFiles.optional(),
    /**
     * Further key pairs the AP decrypts with, beside `encryption` (or `signing`): during a certificate rollover the
     * one being replaced, for senders whose SMP answer still names it (or, before the new certificate is
     * published, the new one). An incoming EncryptedKey is unwrapped with the key its KeyInfo names, never by trying
     * them in turn. An expired certificate is still accepted here (a late message was encrypted while it was
     * valid); remove the pair once every peer's SMP cache has expired (docs/operations.md).
     */
    previousEncryption: z.array(credentialFiles).default([]),
    /** PEM files of the CAs a sender's signing certificate must chain to. */
    trustAnchors: z.array(z.string().min(1)).default([]),
    /** Ask peers for a TLS client certificate on the AS4 endpoint (eDelivery AS4 1.15: configurable). */
    requireClientCertificate: z.boolean().default(false),
    /** eDelivery AS4 profile of the P-Modes. */
    profile: z.enum(['1.15', '2.0']).default('1.15'),
    send: z
      .object({
        /** Reception awareness: sends (the first and the retries) before EBMS:0301 MissingReceipt. */
        maxAttempts: z.number().int().min(1).max(100).default(8),
        backoffBaseMs: positiveMs.default(2000),
        backoffMaxMs: positiveMs.default(300_000),
        /** Time for one HTTPS exchange (connect, request, synchronous receipt). */
        timeoutMs: positiveMs.default(60_000),
        concurrency: z.number().int().min(1).max(64).default(4),
      })
      .strict()
      .prefault({}),
    discovery: z
      .object({
        /**
         * Static map: participant (`0088:<GLN>`) → endpoint. Used when no SMP is configured; with `smp` set, the
         * participants listed here are still taken from the map (an operator's override) and the rest from the SMP.
         */
        static: z.record(z.string(), staticEndpoint).default({}),
        /** Dynamic discovery: SML/BDXL DNS and the SMP (`smpDiscovery` over an `SmpClient` of @ehmi/smp). */
        smp: smpDiscoveryConfig.optional(),
        /**
         * Least time between two lookups of one participant that bypass the cache. Such a lookup is made when a
         * sender's signing certificate is not among those the cached answer names, or a receiver cannot decrypt
         * or signs its receipt with another certificate than the cached one (a certificate rollover); the limit
         * keeps forged messages from making the AP ask the SMP for each.
         */
        refreshIntervalMs: z.number().int().min(0).default(60_000),
      })
      .strict()
      .prefault({}),
    /** Days a received AS4 MessageId (and its receipt) is kept for duplicate elimination. */
    duplicateRetentionDays: z.number().int().min(1).default(30),
    /** Days a finished outbound message (sent or failed, its outcome handed to the MSH) is kept. */
    outboundRetentionDays: z.number().int().min(1).default(30),
    /**
     * Days the non-repudiation evidence (the received UserMessages' signed SOAP parts, the receipts of sent
     * messages) is kept; at least `duplicateRetentionDays`.
     */
    evidenceRetentionDays: z.number().int().min(1).default(3650),
    /**
     * Bearer token of the evidence API (`GET /evidence/…`, `Authorization: Bearer <adminToken>`). Unset: the API
     * refuses every request (401).
     */
    adminToken: z.string().min(16, 'expected at least 16 characters').optional(),
    /** How often the retention sweep runs. */
    retentionIntervalMs: positiveMs.default(3_600_000),
    /**
     * ebMS `eb:Service/@type` of outgoing messages (the Service value is the SBDH PROCESSID). ebMS3 Core §5.2.2.8:
     * without a type the value must be a URI, which `sdn-emergence` is not; `dk-medcom-messaging` is the scheme
     * ehmiSBDH writes beside PROCESSID (as Peppol types the Service with its process scheme).
     */
    serviceType: z.string().min(1).default('dk-medcom-messaging'),
    /** Hand-over of received envelopes and send outcomes to the MSH (`ap.deliver`, `ap.outcome` jobs). */
    handover: z
      .object({
        /** Tries while the MSH is unavailable before the job is dead-lettered (visible in /metrics). */
        maxAttempts: z.number().int().min(1).max(1000).default(200),
        backoffBaseMs: positiveMs.default(1000),
        backoffMaxMs: positiveMs.default(300_000),
      })
      .strict()
      .prefault({}),
    /** Overrides of the AS4 receive limits (packages/as4/src/limits.ts); the server's body limit does not apply. */
    limits: z
      .object({
        maxParts: z.number().int().positive().optional(),
        maxPartHeaderBytes: z.number().int().positive().optional(),
        maxTotalBytes: z.number().int().positive().optional(),
        maxEnvelopeBytes: z.number().int().positive().optional(),
        maxDecompressedBytes: z.number().int().positive().optional(),
        maxDecompressionRatio: z.number().int().positive().optional(),
        decompressionRatioFreeBytes: z.number().int().positive().optional(),
      })
      .strict()
      .prefault({}),
    /**
     * Bounds of the AS4 endpoint across the messages it receives at once, so that many connections (an attack, or a
     * burst) cannot exhaust memory or disk. Refusals for load are 503 with Retry-After and EBMS:0004: the sender
     * retries. The per-message limits are `limits`.
     */
    receive: z
      .object({
        /** Most messages received at once (uploading or being processed); beyond it 503 with Retry-After. */
        maxConcurrent: z.number().int().min(1).default(100),
        /** Seconds a sender refused for load is asked to wait (Retry-After). */
        retryAfterSeconds: z.number().int().min(1).max(3600).default(30),
        /**
         * Most octets of SOAP envelopes (root parts) held in memory across the messages in progress. A real envelope
         * is 10–30 KB; connections that each send most of `limits.maxEnvelopeBytes` and stop share this.
         */
        maxBufferedEnvelopeBytes: z
          .number()
          .int()
          .min(64 * 1024)
          .default(32 * 1024 * 1024),
        /**
         * Most octets of attachment parts (as received: encrypted) held in memory across the messages in progress.
         * A part up to `maxPartBytesInMemory` stays in memory, never touching the disk before its blob is written;
         * a larger one, or one the pool cannot take, goes to a temporary file. A large part read while it still
         * arrives also takes a 2 MiB window of its last writes from this pool, when there is room (else it is read
         * back from its file).
         */
        maxBufferedPartBytes: z
          .number()
          .int()
          .min(0)
          .default(32 * 1024 * 1024),
        /** The largest attachment part kept in memory (a 10 KB message's part is a few KB); 0: every part to a file. */
        maxPartBytesInMemory: z
          .number()
          .int()
          .min(0)
          .default(256 * 1024),
        /**
         * Most decompressed octets written to temporary files across the messages in progress; at least
         * `limits.maxDecompressedBytes`, so one message alone always fits.
         */
        maxDecompressedBytesInProgress: z
          .number()
          .int()
          .positive()
          .default(8 * 1024 * 1024 * 1024),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({});

export type ApConfig = z.infer<typeof apConfigSchema>;
