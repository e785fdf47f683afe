import { z } from 'zod';
import { DEFAULT_HTTP_TIMEOUTS } from '../http/timeouts.ts';

const port = z.number().int().min(0).max(65535);
const positiveMs = z.number().int().positive();

/**
 * The node's own settings, shared by its roles; each role adds its section under its name (`msh`, `ap`, …, see
 * {@link composeConfigSchema}). Every key can come from the config file (JSON) or from an `EHMI_*` environment
 * variable named after its path (`http.port` → `EHMI_HTTP_PORT`, `queue.leaseMs` → `EHMI_QUEUE_LEASE_MS`); the
 * environment wins. `DATABASE_URL` is also read, for the database URL.
 */
const nodeShape = {
  /** Folder for the SQLite database, payload blobs and generated keys. */
  dataDir: z.string().min(1).default('.ehmi'),
  database: z
    .object({
      /** PostgreSQL connection URL; when absent the node uses embedded SQLite in `dataDir`. */
      url: z
        .string()
        .regex(/^postgres(ql)?:\/\//, 'expected a postgres:// or postgresql:// URL')
        .optional(),
      /** PostgreSQL schema for this node's tables (several nodes can share one database). */
      schema: z
        .string()
        .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected a lower-case SQL identifier')
        .default('public'),
      /** How long SQLite waits for a lock held by another process before giving up. */
      busyTimeoutMs: positiveMs.default(5000),
      /** Largest number of pooled PostgreSQL connections. */
      poolSize: z.number().int().min(1).max(100).default(10),
    })
    .strict()
    .prefault({}),
  /** The node's blob store (payloads, envelopes), shared by its roles. */
  blobs: z
    .object({
      /** How often blobs that no row names are looked for and removed. */
      gcIntervalMs: positiveMs.default(3_600_000),
      /**
       * A blob written (or written again) within this period is kept even when no row names it: the transaction
       * that will name it may still be running. After it, a blob of a transaction that rolled back goes.
       */
      graceMs: positiveMs.default(3_600_000),
    })
    .strict()
    .prefault({}),
  /** The node's audit log (`src/audit/`): every call to every server of the node, as IHE BALP AuditEvents. */
  audit: z
    .object({
      /**
       * Records older than this are deleted. Default 400 days: a year and a month, so that a citizen's or a
       * supervisory authority's question about "who looked me up last year" (a yearly MinLog report, an inspection
       * a year back) is still answerable when it arrives, and no longer than that (data minimisation).
       */
      retentionDays: z.number().int().min(1).max(36_500).default(400),
      /** How often the retention sweep runs. */
      sweepIntervalMs: positiveMs.default(3_600_000),
      /** Buffered records are written at least this often (one multi-row insert per flush). */
      flushIntervalMs: positiveMs.default(200),
      /** A flush writes at most this many records in one insert; a buffer this full is flushed at once. */
      batchSize: z.number().int().min(1).max(2000).default(500),
      /**
       * At most this many records wait in memory (the database is slow or down); beyond it the oldest are dropped,
       * counted in `ehmi_audit_records_dropped_total` and logged.
       */
      bufferLimit: z.number().int().min(1).default(50_000),
    })
    .strict()
    .prefault({}),
  http: z
    .object({
      host: z.string().min(1).default('127.0.0.1'),
      /** 0 picks a free port. */
      port: port.default(8700),
      /** Largest accepted request body (FHIR/REST APIs); AS4 has its own limits. */
      bodyLimitBytes: z
        .number()
        .int()
        .min(1024)
        .default(10 * 1024 * 1024),
      /** Time to receive a request's headers; a client that trickles them (slow loris) is cut after it. */
      headersTimeoutMs: positiveMs.default(DEFAULT_HTTP_TIMEOUTS.headersTimeoutMs),
      /**
       * The window of the minimum body rate: a request body that brings fewer than `minBodyBytesPerWindow` octets in
       * one, while the server waits for it, is cut (408). No total request time: large uploads may take as long as
       * they keep moving.
       */
      bodyRateWindowMs: positiveMs.default(DEFAULT_HTTP_TIMEOUTS.bodyRateWindowMs),
      /** Octets a request body must bring per `bodyRateWindowMs`. */
      minBodyBytesPerWindow: z.number().int().min(1).default(DEFAULT_HTTP_TIMEOUTS.minBodyBytesPerWindow),
      /** A connection silent in both directions for this long, while the client has the turn, is closed. */
      idleTimeoutMs: positiveMs.default(DEFAULT_HTTP_TIMEOUTS.idleTimeoutMs),
      /** An idle keep-alive connection between requests is closed after this. */
      keepAliveTimeoutMs: positiveMs.default(DEFAULT_HTTP_TIMEOUTS.keepAliveTimeoutMs),
      /** On close: how long requests in flight may finish before the connections still open are ended. */
      closeGraceMs: positiveMs.default(DEFAULT_HTTP_TIMEOUTS.closeGraceMs),
      /**
       * TLS-terminating proxies in front of the node's servers that forward the client's certificate (RFC 9440
       * `Client-Cert`): each by its own TLS client certificate (a PEM file), which it must present on its TLS
       * connection to the node and which must chain to the server's client CAs. Only on such a connection is the
       * header taken, and the forwarded certificate is checked like a presented one (chain to the same CAs,
       * validity, purpose, revocation) and is the one tokens are bound to. Empty (the default): TLS ends at the
       * node, and a request carrying the header is refused (docs/operations.md).
       */
      trustedProxies: z.array(z.object({ certificate: z.string().min(1) }).strict()).default([]),
      /** The header the trusted proxies forward the client certificate in (RFC 9440 encoding). */
      clientCertificateHeader: z
        .string()
        .regex(/^[A-Za-z0-9-]{1,64}$/, 'expected an HTTP header name')
        .default('Client-Cert'),
    })
    .strict()
    .prefault({}),
  /** The organisation this node serves (needed by the MSH and AP roles). */
  organisation: z
    .object({
      /** Short name without spaces (logs, CLI). */
      name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'expected a short name without spaces'),
      /** GLN (13 digits, GS1 check digit): the eDelivery participant `0088:<GLN>`. */
      gln: z.string().regex(/^\d{13}$/, 'expected a 13-digit GLN'),
      /** SOR code of the organisation (SOR: urn:oid:1.2.208.176.1.1). */
      sor: z.string().regex(/^\d{1,18}$/, 'expected a SOR code (digits)'),
    })
    .strict()
    .optional(),
  /** TLS of the role servers (MSH, AP): PEM certificate (chain after it) and key. Without it they speak HTTP. */
  tls: z
    .object({
      cert: z.string().min(1),
      key: z.string().min(1),
      /** PEM files of CAs trusted when this node is a TLS client (calling other access points). */
      ca: z.array(z.string().min(1)).default([]),
      /**
       * The TLS client credential (PEM certificate and key) this node presents when it calls other services (access
       * points, registers). Default: `cert` and `key`.
       */
      clientCert: z.string().min(1).optional(),
      clientKey: z.string().min(1).optional(),
    })
    .strict()
    .refine((t) => (t.clientCert === undefined) === (t.clientKey === undefined), {
      message: 'tls.clientCert and tls.clientKey go together',
    })
    .optional(),
  /**
   * Development only, never in production: the MSH, EER, EAS and the SMP's admin API may serve without
   * `authorization` (the MSH on mTLS alone, or without client certificates; the admin APIs behind their static
   * tokens), and the AP may send to an `http://` endpoint that discovery returns. Every role that relies on it logs
   * an INSECURE warning at start.
   */
  insecure: z.boolean().default(false),
  /** Revocation checking of the certificates this node relies on (AS4 signers, TLS clients, the SMP's signer). */
  revocation: z
    .object({
      /** A fetched CRL (or OCSP answer) is used for at most this long before it is fetched again. */
      refreshMs: positiveMs.default(600_000),
      /** Refuse a certificate that names no CRL distribution point and no OCSP responder. */
      requireRevocationInfo: z.boolean().default(false),
    })
    .strict()
    .prefault({}),
  /**
   * The authorization server whose access tokens the node's resource servers accept (FAPI 2.0 §5.3.3: certificate-
   * bound JWTs, `cnf.x5t#S256`; see `src/authz.ts`). Required by the MSH, EER, EAS and the SMP (its admin API):
   * without it they refuse to start, unless `insecure` is set.
   */
  authorization: z
    .object({
      /** The issuer identifier: the tokens' `iss`, and where its metadata (RFC 8414) is found. */
      issuer: z.string().url(),
      /**
       * The JWKS the tokens are signed with. Default: the `jwks_uri` of the issuer's
       * `/.well-known/oauth-authorization-server` metadata, or `<issuer>/jwks` when it publishes none.
       */
      jwksUrl: z.string().url().optional(),
      /** Clock skew tolerated on `exp`, `nbf` and `iat` (FAPI 2.0 §5.3.2.1 accepts up to 60 s into the future). */
      skewSeconds: z.number().int().min(0).max(300).default(30),
      /** The JWS algorithms accepted (FAPI 2.0 §5.4: PS256, ES256 or EdDSA; never `none`, never HS*). */
      algorithms: z
        .array(z.enum(['PS256', 'ES256', 'EdDSA']))
        .min(1)
        .default(['PS256', 'ES256', 'EdDSA']),
      /**
       * The operator's clients (their `client_id`): they read `/metrics` on every server of the node (with the scope
       * `ehmi/metrics.read`, `src/metrics-access.ts`), and, at an MSH, its messages and inbox across organisations
       * (with `msh.operatorClients`, which adds to these).
       */
      operatorClients: z.array(z.string().min(1)).default([]),
    })
    .strict()
    .optional(),
  /**
   * Where this node reports the steps its stations take to EHMI Delivery Status (ehmi-core §1.2, §3): every step of
   * the MSH (and of the EUA through its API) and of the AP becomes an EDS AuditEvent, queued durably (`eds.report`)
   * in the transaction of the step and POSTed to `<url>/AuditEvent`. Without `url` the node reports nothing.
   */
  deliveryStatus: z
    .object({
      /** The EDS FHIR base URL (`https://…/eds`); absent: no reporting. */
      url: z.string().url().optional(),
      /**
       * The node's client at the authorization server (`authorization.issuer`): it asks for certificate-bound
       * tokens with `system/AuditEvent.c` for the EDS URL, presenting the node's TLS client certificate. Required
       * with `url` and `authorization`.
       */
      clientId: z.string().min(1).optional(),
      /** The EER Device id of each station (`ehmiDEVICEID`); default `<SOR>-EUA`, `<SOR>-MSH`, `<SOR>-AP`. */
      devices: z
        .object({
          eua: z.string().min(1).optional(),
          msh: z.string().min(1).optional(),
          ap: z.string().min(1).optional(),
        })
        .strict()
        .prefault({}),
      /** One POST to EDS may take this long before it counts as failed (and is retried). */
      timeoutMs: positiveMs.default(10_000),
      /** First retry delay while EDS is unreachable; doubles per try up to backoffMaxMs. Retries never end. */
      backoffBaseMs: positiveMs.default(1000),
      backoffMaxMs: positiveMs.default(300_000),
      /** POSTs to EDS at once (each a single report or a batch). */
      concurrency: z.number().int().min(1).max(64).default(4),
      /**
       * The most due reports one POST carries (a FHIR batch Bundle; EDS takes 200 by default). A single due report
       * is POSTed alone.
       */
      batchSize: z.number().int().min(1).max(1000).default(100),
      /**
       * Reports fall due at the end of a window of this length: the steps a node takes within one window go to EDS
       * in one POST (one claim, one request, one completion), not one each. EDS is told at most this much later;
       * 0 reports each step at once.
       */
      batchWindowMs: z.number().int().min(0).max(60_000).default(1000),
      /** Finished report jobs (done, and dead-lettered ones for the operator) are removed after this long. */
      retentionMs: positiveMs.default(7 * 86_400_000),
      /**
       * When a step of a message's journey is late (track'n'trace: `GET /messages/{id}/journey`, `ehmi track`): a
       * step the table expects and EDS does not hold by then is `missing`.
       */
      due: z
        .object({
          /** One hop: a step inside a node, or from one station to the next (the AS4 transfer included). */
          hopSeconds: z.number().int().min(1).default(60),
          /** From the AS4 receipt (03.2) to the EnvelopeReceipt at the sender's MSH (10.1): ehmi-core §2.4, §6.1. */
          receiptMinutes: z.number().int().min(1).default(10),
          /**
           * From the message's creation (01.1) to its acknowledgement at the sender's MSH (15.1), as the MSH's
           * `acknowledgementTimeoutMs` (MedCom 020 §1.1): 30 minutes.
           */
          acknowledgementMinutes: z.number().int().min(1).default(30),
        })
        .strict()
        .prefault({}),
    })
    .strict()
    .prefault({}),
  log: z
    .object({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .strict()
    .prefault({}),
  queue: z
    .object({
      /** How long a claimed job is reserved for its worker before another may take it. */
      leaseMs: positiveMs.default(30_000),
      /**
       * The longest an idle worker waits before looking for jobs again: a safety net only. Enqueues in this process
       * wake workers when they commit, other instances on a shared PostgreSQL database wake them by LISTEN/NOTIFY
       * (every queue looks again when the listening connection is re-opened), and a retry, a job enqueued for later
       * or an expired lease wakes them at its time; so an idle node does not poll (each poll is three statements
       * per queue).
       */
      pollIntervalMs: positiveMs.default(60_000),
      /** Tries before a job is dead-lettered. */
      maxAttempts: z.number().int().min(1).max(1000).default(10),
      /** First retry delay; doubles per try up to backoffMaxMs. */
      backoffBaseMs: positiveMs.default(1000),
      backoffMaxMs: positiveMs.default(3_600_000),
    })
    .strict()
    .prefault({}),
};

export const nodeConfigSchema = z.object(nodeShape).strict();

/** The node's own settings, as every role sees them. */
export type NodeConfig = z.infer<typeof nodeConfigSchema>;

/**
 * The whole config of a node: its own settings and one section per role, each under the role's name and with the
 * role's schema.
 */
export function composeConfigSchema<const Sections extends Record<string, z.ZodType>>(sections: Sections) {
  for (const name of Object.keys(sections)) {
    if (name in nodeShape) throw new Error(`a role may not be named after the node setting "${name}"`);
  }
  return z.object({ ...nodeShape, ...sections }).strict();
}
