import { EhmiError } from '@ehmi/errors';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { fetch as undiciFetch } from 'undici';
import { nodeAgent } from '../http/client.ts';
import { createHttpServer, listen, noteAudit, timeoutsOf } from '../http/index.ts';
import { METRICS_SCOPE, metricsAccess } from '../metrics-access.ts';
import { type Role, type RoleContext, readPem } from '../roles.ts';
import { TokenClient } from '../token-client.ts';
import { registerConsoleApi } from './api/index.ts';
import type { ConsoleConfig } from './config.ts';
import { ConsoleReadings } from './readings.ts';
import { consoleNodes, MetricsSampler } from './sampler.ts';
import { type CallApi, type ConsoleUser, CSRF_HEADER } from './session.ts';
import {
  type ConsoleSession,
  ConsoleSessions,
  clearCookie,
  cookieOf,
  LOGIN_COOKIE,
  LOGIN_TTL_MS,
  SESSION_COOKIE,
  setCookie,
} from './sessions.ts';
import { SignInClient } from './signin.ts';
import { DEFAULT_STATIC_DIR, registerStatic } from './static.ts';
import type { ConsoleTables } from './tables.ts';

export type { CallApi, ConsoleApiDeps, ConsoleUser, RegisterConsoleApi } from './session.ts';

export interface ConsoleDeps {
  /** Clock of sessions; tests fix it. */
  now?: () => number;
}

export interface ConsoleRole extends Role {
  /** The console's URL as browsers reach it (`console.publicUrl`, else the listen URL). */
  readonly publicUrl: string;
  /**
   * The `callApi` of the session whose cookie has this value (what the console's API routes get as
   * `request.callApi`), undefined when it is no live session: for tools and tests.
   */
  callApiOf(sessionCookie: string): Promise<CallApi | undefined>;
  /** The sampler of the health page's readings (`console.sampling`), when it is on: its `sampled` events. */
  readonly sampler: MetricsSampler | undefined;
}

const PURGE_MS = 60_000;
const METHODS_WITHOUT_EFFECT = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The console role (docs/architecture.md "The console"): a backend-for-frontend. The browser holds only an opaque
 * session cookie; the console signs people in at the authorization server as a confidential client (PAR, PKCE,
 * mTLS), keeps their refresh tokens in the database, and calls the network's public APIs with the person's
 * certificate-bound access tokens (`callApi`), so that every resource server applies the person's roles itself.
 */
export async function createConsoleRole(
  ctx: RoleContext<ConsoleConfig, ConsoleTables>,
  deps: ConsoleDeps = {},
): Promise<ConsoleRole> {
  const cfg = ctx.config;
  const log = ctx.logger.child({ role: 'console' });
  const now = deps.now ?? Date.now;
  // Fail closed: the session cookie is `__Host-` (Secure), the tokens are bound to the console's certificate.
  if (!ctx.tls) {
    throw new EhmiError(
      'EHMI_CONFIG_INVALID',
      'tls: the console role serves HTTPS only (its session cookie is Secure) and authenticates with a TLS client certificate, so it needs the node’s tls',
    );
  }
  if (!cfg.issuer) {
    throw new EhmiError(
      'EHMI_CONFIG_INVALID',
      'console.issuer: people sign in to the console at the authorization server; name its issuer',
    );
  }
  if (cfg.sampling.enabled && !cfg.sampling.clientId) {
    throw new EhmiError(
      'EHMI_CONFIG_INVALID',
      "console.sampling.clientId: the console reads every node's /metrics for the health page's charts as a client of its own (client credentials with the console's certificate, scope ehmi/metrics.read, among the nodes' authorization.operatorClients); name it, or set console.sampling.enabled: false",
    );
  }
  const issuer = cfg.issuer.replace(/\/+$/, '');
  const clientTls = cfg.tls
    ? { cert: readPem(cfg.tls.cert, 'console.tls.cert'), key: readPem(cfg.tls.key, 'console.tls.key') }
    : ctx.tls.client;
  const agent = nodeAgent({
    connect: {
      ...(ctx.tls.ca.length > 0 ? { ca: ctx.tls.ca } : {}),
      cert: clientTls.cert,
      key: clientTls.key,
    },
  });
  const services = Object.fromEntries(
    Object.entries(cfg.services).map(([name, base]) => [name, base.replace(/\/+$/, '')]),
  );
  // Every https service is a resource the person's grant covers; plain HTTP ones (the SMP's read API) get no token.
  const resources = [...new Set(Object.values(services).filter((u) => u.startsWith('https://')))];
  const sessions = new ConsoleSessions(
    ctx.store,
    { idleMs: cfg.session.idleMinutes * 60_000, maxMs: cfg.session.maxHours * 3_600_000 },
    now,
  );

  // The health page's readings: the console's own client reads every node's /metrics on an interval (its token
  // bound to the console's certificate, kept in the sampler's memory, never handed to a route or the browser).
  const readings = new ConsoleReadings(ctx.store);
  const spanMs = cfg.sampling.retentionMinutes * 60_000;
  let sampler: MetricsSampler | undefined;
  if (cfg.sampling.enabled && cfg.sampling.clientId) {
    const tokens = new TokenClient({
      issuer,
      clientId: cfg.sampling.clientId,
      dispatcher: agent,
      name: `the console's sampler (${cfg.sampling.clientId})`,
    });
    const nodes = consoleNodes(services).filter((n) => n.services.length > 0);
    const read = async (service: string, signal: AbortSignal): Promise<string> => {
      const base = services[service] as string;
      // Never a token over plain HTTP (it could not be bound to the certificate); such a /metrics refuses anyway.
      const call = base.startsWith('https://')
        ? tokens.fetch({ resource: base, scope: METRICS_SCOPE }, agent)
        : (((u: string, init: RequestInit) =>
            undiciFetch(u, { ...(init as object), dispatcher: agent })) as unknown as typeof fetch);
      let res: Response;
      try {
        res = await call(`${base}/metrics`, { headers: { accept: 'text/plain' }, signal });
      } catch (err) {
        // A token refused or not had says so itself; a failed connection says why in its cause.
        if (err instanceof EhmiError) throw err;
        if (signal.aborted) throw new Error(`${service} did not answer: ${(signal.reason as Error).message}`);
        const cause = (err as Error).cause as Error | undefined;
        throw new Error(`${service} cannot be reached: ${cause?.message ?? (err as Error).message}`);
      }
      if (!res.ok) {
        await res.body?.cancel();
        throw new Error(`${service}: status ${res.status}`);
      }
      return await res.text();
    };
    sampler = new MetricsSampler({
      readings,
      nodes: () => nodes,
      read,
      intervalMs: cfg.sampling.intervalSeconds * 1000,
      retentionMs: spanMs,
      logger: log,
    });
  }

  let url = '';
  let publicUrl = '';
  let signIn: SignInClient | undefined;
  const metrics = metricsAccess(ctx, { service: 'console', audience: () => [url], anchorsKey: 'tls.ca' });
  const app = await createHttpServer({
    service: 'console',
    audit: ctx.audit,
    logger: log,
    bodyLimitBytes: ctx.node.http.bodyLimitBytes,
    timeouts: timeoutsOf(ctx.node.http),
    openapi: {
      title: 'EHMI console',
      description:
        'The web console: sign-in (a backend-for-frontend of the authorization server) and its API',
    },
    readiness: () => ctx.store.ping(),
    metricsAccess: metrics.hook,
    tls: { key: ctx.tls.key, cert: ctx.tls.cert },
  });

  const client = () => {
    if (!signIn) throw new EhmiError('EHMI_UNAVAILABLE', 'the console is starting');
    return signIn;
  };
  const origin = () => new URL(publicUrl).origin;

  // Access tokens per session and resource, in memory (they live minutes; a new instance asks again).
  const tokens = new Map<string, Map<string, Promise<{ token: string; expiresAt: number }>>>();
  const tokenFor = async (session: ConsoleSession, resource: string, fresh = false): Promise<string> => {
    let mine = tokens.get(session.idHash);
    if (!mine) {
      mine = new Map();
      tokens.set(session.idHash, mine);
    }
    const cached = mine.get(resource);
    if (cached && !fresh) {
      const t = await cached.catch(() => undefined);
      if (t && now() < t.expiresAt) return t.token;
    }
    if (mine.get(resource) === cached) {
      const asked = client().accessToken(session.refreshToken, resource);
      mine.set(resource, asked);
      asked.catch(() => {
        if (mine.get(resource) === asked) mine.delete(resource);
      });
    }
    try {
      return (await mine.get(resource)!).token;
    } catch (err) {
      if (err instanceof EhmiError && err.details.oauthError === 'invalid_grant') {
        // The grant is gone (revoked, expired, the account disabled): so is the session.
        await sessions.end(session.idHash);
        tokens.delete(session.idHash);
        throw new EhmiError('EHMI_UNAUTHORIZED', 'the sign-in has ended: sign in again', { cause: err });
      }
      throw err;
    }
  };

  const callApiOf =
    (session: ConsoleSession): CallApi =>
    async (service, path, init = {}) => {
      const base = services[service];
      if (!base) throw new EhmiError('EHMI_USAGE', `the console knows no service ${service}`);
      if (!path.startsWith('/') || path.startsWith('//')) {
        throw new EhmiError('EHMI_USAGE', `a path on ${service} starts with one /: ${path}`);
      }
      const target = `${base}${path}`;
      const call = async (token: string | undefined) => {
        const headers: Record<string, string> = {};
        new Headers(init.headers).forEach((value, name) => {
          headers[name] = value;
        });
        if (token) headers.authorization = `Bearer ${token}`;
        else delete headers.authorization;
        try {
          return (await undiciFetch(target, {
            ...(init as object),
            headers,
            dispatcher: agent,
          })) as unknown as Response;
        } catch (err) {
          throw new EhmiError('EHMI_UNAVAILABLE', `${service} cannot be reached: ${(err as Error).message}`, {
            cause: err,
          });
        }
      };
      // Never a token over plain HTTP: it could be read on the way, and it could not be bound to a certificate.
      if (!base.startsWith('https://')) return call(undefined);
      const res = await call(await tokenFor(session, base));
      if (res.status !== 401 || !/invalid_token/.test(res.headers.get('www-authenticate') ?? '')) return res;
      await res.body?.cancel();
      return call(await tokenFor(session, base, true));
    };

  /** The session of the request's cookie, when it is live. */
  const sessionOf = async (request: FastifyRequest): Promise<ConsoleSession | undefined> => {
    const secret = cookieOf(request.headers.cookie, SESSION_COOKIE);
    return secret ? sessions.find(secret) : undefined;
  };

  /**
   * CSRF (OWASP CSRF Prevention Cheat Sheet): a call that changes anything must come from the console's own pages:
   * its `Origin` is the console's and it carries the custom header (which a cross-site form cannot send and a
   * cross-site fetch cannot without a CORS preflight, which the console never allows); SameSite=Strict on the
   * session cookie is the layer beneath.
   */
  const checkCsrf = (request: FastifyRequest) => {
    if (METHODS_WITHOUT_EFFECT.has(request.method)) return;
    if (request.headers.origin !== origin() || request.headers[CSRF_HEADER] !== '1') {
      noteAudit(request, { detail: 'refused: not from the console’s own pages (Origin, CSRF header)' });
      throw new EhmiError(
        'EHMI_FORBIDDEN',
        `a console call that changes anything comes from the console's own pages (Origin ${origin()}, header ${CSRF_HEADER}: 1)`,
      );
    }
  };

  const unauthenticated = (reply: FastifyReply) =>
    reply.status(401).header('cache-control', 'no-store').send({ error: 'unauthenticated' });

  const publicUser = (user: ConsoleUser) => ({
    subject: user.subject,
    name: user.name,
    roles: user.roles,
    patientData: user.patientData,
    ...(user.organisation ? { organisation: user.organisation } : {}),
  });

  const doc = (summary: string, responses: Record<string, string>) =>
    ({
      schema: {
        summary,
        security: [],
        responses: Object.fromEntries(
          Object.entries(responses).map(([s, description]) => [s, { description }]),
        ),
      },
    }) as object;

  app.get<{ Querystring: { returnTo?: string; lang?: string } }>(
    '/auth/login',
    doc('Start signing in: the browser is sent to the authorization server', {
      '303': 'To the authorization server',
    }),
    async (request, reply) => {
      const wanted = request.query.returnTo;
      // Only a path of the console itself (an open redirect would send a signed-in person anywhere).
      const returnTo =
        typeof wanted === 'string' && /^\/(?![/\\])[^\s]*$/.test(wanted) && wanted.length <= 512
          ? wanted
          : '/';
      // The console's language choice goes to the sign-in page (English unless the user chose Danish).
      const lang =
        request.query.lang === 'da' || request.query.lang === 'en' ? request.query.lang : undefined;
      const started = await client().start(lang);
      const secret = await sessions.startLogin({ ...started, returnTo });
      return reply
        .header('set-cookie', setCookie(LOGIN_COOKIE, secret, 'Lax', LOGIN_TTL_MS / 1000))
        .header('cache-control', 'no-store')
        .redirect(started.url, 303);
    },
  );

  app.get(
    '/auth/callback',
    doc('The authorization server sends the browser back here with a code', {
      '303': 'Signed in: to the console',
      '400': 'The sign-in failed or expired',
    }),
    async (request, reply) => {
      const secret = cookieOf(request.headers.cookie, LOGIN_COOKIE);
      const login = secret ? await sessions.takeLogin(secret) : undefined;
      reply.header('set-cookie', clearCookie(LOGIN_COOKIE, 'Lax')).header('cache-control', 'no-store');
      const failed = (why: string) => {
        noteAudit(request, { detail: `sign-in failed: ${why}` });
        return reply
          .status(400)
          .header('content-security-policy', "default-src 'none'")
          .type('text/html; charset=utf-8')
          .send(
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>EHMI console</title></head><body><h1>Signing in did not succeed</h1><p><a href="/auth/login">Sign in again</a></p></body></html>',
          );
      };
      if (!login) return failed('no sign-in under way in this browser, or it expired');
      let signedIn: Awaited<ReturnType<SignInClient['finish']>>;
      try {
        signedIn = await client().finish(new URL(request.url, publicUrl), login);
      } catch (err) {
        const e = err instanceof EhmiError ? err : undefined;
        log.info({ code: e?.code, msg: (err as Error).message }, 'console sign-in failed');
        if (e && e.code !== 'EHMI_UNAUTHORIZED') throw err;
        return failed(e?.details.oauthError ? String(e.details.oauthError) : 'the answer did not check out');
      }
      const cookie = await sessions.create(signedIn.user, signedIn.refreshToken);
      noteAudit(request, { resource: `Account/${signedIn.user.subject}` });
      log.info({ user: signedIn.user.subject }, 'console session started');
      return reply
        .header('set-cookie', [
          clearCookie(LOGIN_COOKIE, 'Lax'),
          // Strict: the page the callback redirects to carries no user data; the console's own API calls that
          // follow are same-site and carry the cookie (docs/architecture.md "The console").
          setCookie(SESSION_COOKIE, cookie, 'Strict'),
        ])
        .redirect(login.returnTo, 303);
    },
  );

  app.post(
    '/auth/logout',
    doc('Sign out: the session ends and its refresh token is revoked', {
      '204': 'Signed out',
      '403': 'Not from the console’s own pages',
    }),
    async (request, reply) => {
      checkCsrf(request);
      const session = await sessionOf(request);
      if (session) {
        await sessions.end(session.idHash);
        tokens.delete(session.idHash);
        await client()
          .revoke(session.refreshToken)
          .catch((err) => log.warn({ err: (err as Error).message }, 'refresh token not revoked at sign-out'));
        noteAudit(request, { resource: `Account/${session.user.subject}` });
      }
      return reply
        .status(204)
        .header('set-cookie', clearCookie(SESSION_COOKIE, 'Strict'))
        .header('cache-control', 'no-store')
        .send();
    },
  );

  await app.register(
    async (scope: FastifyInstance) => {
      scope.decorateRequest('consoleUser', undefined);
      scope.decorateRequest('callApi', undefined as unknown as CallApi);
      scope.addHook('preHandler', async (request, reply) => {
        checkCsrf(request);
        const session = await sessionOf(request);
        if (!session) return unauthenticated(reply);
        request.consoleUser = session.user;
        request.callApi = callApiOf(session);
        reply.header('cache-control', 'no-store');
      });
      scope.get(
        '/session',
        doc('The signed-in user', { '200': 'The user', '401': 'Not signed in' }),
        async (request) => ({ user: publicUser(request.consoleUser!) }),
      );
      await registerConsoleApi(scope, {
        services,
        logger: log,
        history: { readings, spanMs },
        ...(ctx.audit ? { audit: ctx.audit } : {}),
      });
    },
    { prefix: '/api' },
  );

  await registerStatic(app, cfg.staticDir ?? DEFAULT_STATIC_DIR);

  let timer: NodeJS.Timeout | undefined;
  return {
    name: 'console',
    app,
    get url() {
      return url;
    },
    get publicUrl() {
      return publicUrl;
    },
    sampler,
    async callApiOf(sessionCookie) {
      const session = await sessions.find(sessionCookie);
      return session ? callApiOf(session) : undefined;
    },
    async start() {
      url = await listen(app, { host: cfg.host, port: cfg.port, https: true, publicUrl: cfg.publicUrl });
      publicUrl = (cfg.publicUrl ?? url).replace(/\/+$/, '');
      signIn = new SignInClient({
        issuer,
        clientId: cfg.clientId,
        redirectUri: `${publicUrl}/auth/callback`,
        resources,
        ...(cfg.scope ? { scope: cfg.scope } : {}),
        dispatcher: agent,
        now,
      });
      timer = setInterval(() => {
        sessions.purge().catch((err) => log.error({ err }, 'console session purge failed'));
      }, PURGE_MS);
      timer.unref();
      sampler?.start();
      log.info({ url: publicUrl, issuer, services: Object.keys(services) }, 'console started');
    },
    async close() {
      clearInterval(timer);
      await sampler?.stop();
      await app.close();
      await metrics.close();
      await agent.close();
    },
  };
}
