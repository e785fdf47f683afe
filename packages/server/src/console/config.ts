import { z } from 'zod';

/**
 * The console role: the web console's server side, a backend-for-frontend. People sign in at the authorization
 * server (`issuer`) through it; it keeps their tokens and calls the network's public APIs (`services`) for them.
 */
export const consoleConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
    host: z.string().min(1).default('127.0.0.1'),
    /** Port of the console (HTTPS with the node's tls); 0 picks a free one. */
    port: z.number().int().min(0).max(65535).default(8707),
    /**
     * The console's URL as browsers reach it (its origin is the one state-changing calls must come from, and its
     * `/auth/callback` the redirect URI registered at the authorization server); default the listen URL.
     */
    publicUrl: z.string().url().optional(),
    /** The authorization server's issuer identifier. */
    issuer: z.string().url().optional(),
    /** The console's client id at the authorization server (a confidential client, `tls_client_auth`). */
    clientId: z.string().min(1).default('console'),
    /**
     * The scopes the console asks the person's grant for, space-separated, beside `openid profile`: those of the
     * resources it calls that it is registered for (the authorization server grants of them what the person's
     * roles allow).
     */
    scope: z
      .string()
      .trim()
      .regex(/^\S+( \S+)*$/, 'expected scopes separated by single spaces')
      .optional(),
    /**
     * PEM files of the console's own TLS client certificate and key: it authenticates to the authorization server
     * with it and the users' tokens are bound to it. Default the node's TLS client certificate.
     */
    tls: z
      .object({ cert: z.string().min(1), key: z.string().min(1) })
      .strict()
      .optional(),
    /**
     * The public APIs the console calls, by name → base URL: `eds`, `eer`, `eas`, `smp` (the SMP's read API),
     * `smp-admin`, `msh:<organisation>`, `ap:<organisation>`, `node:<organisation>`, `node:central`, and the
     * document archive's node: `archive` (its FHIR API), `ap:archive`, `node:archive`. Each https one is a resource
     * at the authorization server (its base URL is the token's audience).
     */
    services: z
      .record(z.string().regex(/^[a-z][a-z0-9-]*(:[A-Za-z0-9._-]+)?$/), z.string().url())
      .default({}),
    /**
     * The health page's charts of the last hour: the console reads every node's `/metrics` (its `services`, but the
     * SMP's plain-HTTP read API) on an interval, whether anyone looks or not, and keeps the readings in its database.
     * It reads them as a client of its own (`clientId`: client credentials over mTLS with the console's certificate,
     * registered for `ehmi/metrics.read` and named among every node's `authorization.operatorClients`), never with
     * a person's token.
     */
    sampling: z
      .object({
        /** Off: no readings, so no charts (the health page's current state still shows). */
        enabled: z.boolean().default(true),
        /** The sampler's client id at the authorization server; required while sampling is on. */
        clientId: z.string().min(1).optional(),
        /** Seconds between two readings of every node. */
        intervalSeconds: z.number().min(1).max(3600).default(15),
        /** How long readings are kept (and the charts span). */
        retentionMinutes: z
          .number()
          .int()
          .min(1)
          .max(7 * 24 * 60)
          .default(60),
      })
      .strict()
      .prefault({}),
    /** The console's built pages; default `packages/console/dist`. */
    staticDir: z.string().min(1).optional(),
    session: z
      .object({
        /** A session not used for this long ends. */
        idleMinutes: z
          .number()
          .int()
          .min(1)
          .max(24 * 60)
          .default(30),
        /** A session ends this long after sign-in, used or not (and its refresh token lives no longer). */
        maxHours: z.number().min(0.1).max(24).default(8),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({});

export type ConsoleConfig = z.infer<typeof consoleConfigSchema>;
