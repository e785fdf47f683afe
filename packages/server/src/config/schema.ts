import { z } from 'zod';

const port = z.number().int().min(0).max(65535);
const positiveMs = z.number().int().positive();

/**
 * The node's configuration. Every key can come from the config file (JSON) or from an `EHMI_*` environment variable
 * named after its path (`http.port` → `EHMI_HTTP_PORT`, `queue.leaseMs` → `EHMI_QUEUE_LEASE_MS`); the environment
 * wins. `DATABASE_URL` is also read, for the database URL.
 */
export const configSchema = z
  .object({
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
        /** Idle workers look for new jobs this often. */
        pollIntervalMs: positiveMs.default(250),
        /** Tries before a job is dead-lettered. */
        maxAttempts: z.number().int().min(1).max(1000).default(10),
        /** First retry delay; doubles per try up to backoffMaxMs. */
        backoffBaseMs: positiveMs.default(1000),
        backoffMaxMs: positiveMs.default(3_600_000),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
/** What a config file or a test may give: every key optional. */
export type ConfigInput = z.input<typeof configSchema>;
