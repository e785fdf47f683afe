import { createPrivateKey, type KeyObject, type X509Certificate } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { EhmiError } from '@ehmi/errors';
import { toCertificate } from '@ehmi/smp';
import type { FastifyInstance } from 'fastify';
import { SMP_ADMIN_SCOPE } from '../admin-scopes.ts';
import { createHttpServer, listen, timeoutsOf } from '../http/index.ts';
import { metricsAccess } from '../metrics-access.ts';
import { OPEN_PATHS, protectResourceServer } from '../resource-server.ts';
import { type Role, type RoleContext, readPem } from '../roles.ts';
import type { SmpConfig } from './config.ts';
import { type SmpDnsServer, SmpDnsZone, startSmpDnsServer } from './dns.ts';
import { SmpRepository } from './repository.ts';
import { registerSmpRoutes } from './routes.ts';
import type { SmpTables } from './tables.ts';

export { SMP_ADMIN_SCOPE } from '../admin-scopes.ts';
export { type SmpDnsServer, SmpDnsZone, startSmpDnsServer } from './dns.ts';
export { SMP_ERROR_NS, smpErrorBody } from './errors.ts';
export { SmpRepository } from './repository.ts';

/** The smp role as the node and tests see it. */
export interface SmpRole extends Role {
  readonly repository: SmpRepository;
  /** The local SML/BDXL zone and its server, when `smp.dns.enabled` (after `start()`). */
  readonly dns: { zone: SmpDnsZone; host: string; port: number } | undefined;
  /** Base URL of the admin API's HTTPS server, when the node has `authorization` (after `start()`). */
  readonly adminUrl: string | undefined;
}

/** The SMP's signing key and certificate chain (signer first), checked to belong together. */
function loadSigning(config: SmpConfig): { key: KeyObject; chain: X509Certificate[] } {
  if (!config.signing) {
    throw new EhmiError(
      'EHMI_CONFIG_INVALID',
      'smp.signing: the SMP needs a certificate and key (PEM files) to sign ServiceMetadata',
    );
  }
  const certPem = readPem(config.signing.cert, 'smp.signing.cert');
  const keyPem = readPem(config.signing.key, 'smp.signing.key');
  const blocks = certPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  let chain: X509Certificate[];
  let key: KeyObject;
  try {
    if (blocks.length === 0) throw new Error('no PEM certificate in the file');
    chain = blocks.map((b) => toCertificate(b, 'smp.signing.cert'));
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new EhmiError('EHMI_CONFIG_INVALID', `smp.signing: ${(err as Error).message}`, { cause: err });
  }
  if (!chain[0]!.checkPrivateKey(key)) {
    throw new EhmiError('EHMI_CONFIG_INVALID', 'smp.signing: the key does not belong to the certificate');
  }
  return { key, chain };
}

/**
 * The smp role: an SMP (OASIS BDXR SMP 1.0 by default, or Peppol SMP 1.x) on its own plain-HTTP server; the admin
 * API on an HTTPS server of its own with access tokens (`smp/publication.write`) when the node has `authorization`,
 * else (the `insecure` development switch) on the read server behind `smp.adminToken`; and, when `smp.dns.enabled`, the local SML/BDXL zone on a DNS server started and stopped with it.
 * Everything is in the smp_* tables; the zone is rebuilt from them at start.
 *
 * @example
 * const smp = await createSmpRole(ctx);
 * await smp.start();
 * smp.url; smp.dns?.port;
 */
export async function createSmpRole(ctx: RoleContext<SmpConfig, SmpTables>): Promise<SmpRole> {
  const config = ctx.config;
  const signing = loadSigning(config);
  const repository = new SmpRepository(ctx.store);
  let url = '';
  let adminListenUrl = '';
  let zone: SmpDnsZone | undefined;
  let dnsServer: SmpDnsServer | undefined;
  const publicUrl = () => (config.publicUrl ?? url).replace(/\/+$/, '');
  const adminUrl = () => (config.admin.publicUrl ?? adminListenUrl).replace(/\/+$/, '');
  // The admin API takes certificate-bound access tokens (the node's `authorization`; only the `insecure` switch
  // serves it with the static token), on an HTTPS server of its own: the read API stays plain HTTP.
  const protection = protectResourceServer(ctx, {
    role: 'smp',
    api: 'the SMP admin API',
    audience: () => [...new Set([adminListenUrl, adminUrl()].filter(Boolean))],
    scope: () => SMP_ADMIN_SCOPE,
    open: OPEN_PATHS,
  });
  if (!protection.hook && config.adminToken === undefined) {
    ctx.logger.warn('smp.adminToken is not set: the SMP admin API refuses every write');
  }
  if (protection.hook && config.adminToken !== undefined) {
    ctx.logger.warn(
      { role: 'smp' },
      'smp.adminToken is not used: the SMP admin API takes access tokens (smp/publication.write) of the node authorization server',
    );
  }
  // The read API speaks plain HTTP (as Peppol SMPs do): with `authorization`, no token can be bound there, so its
  // /metrics is refused (metrics-access.ts says why); the admin API's HTTPS server serves them to the operator.
  const metrics = metricsAccess(ctx, { service: 'smp', audience: () => [publicUrl()], anchorsKey: 'tls.ca' });
  const adminMetrics =
    protection.hook &&
    metricsAccess(ctx, {
      service: 'smp-admin',
      audience: () => [...new Set([adminListenUrl, adminUrl()].filter(Boolean))],
      anchorsKey: 'tls.ca',
      verifier: protection.verifier,
    });
  const http = {
    logger: ctx.logger,
    bodyLimitBytes: ctx.node.http.bodyLimitBytes,
    timeouts: timeoutsOf(ctx.node.http),
    readiness: () => ctx.store.ping(),
    audit: ctx.audit,
  };
  const app: FastifyInstance = await createHttpServer({
    ...http,
    service: 'smp',
    metricsAccess: metrics.hook,
    openapi: {
      title: 'EHMI service metadata publisher (SMP)',
      version: '1.0.0',
      description:
        'OASIS BDXR SMP 1.0 / Peppol SMP 1.x REST binding: read ServiceGroup and SignedServiceMetadata; register ' +
        'and remove them with the admin API (on its own HTTPS server with access tokens when the node has ' +
        'authorization). Errors are DomiSMP ErrorResponse XML.',
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });
  const adminApp: FastifyInstance | undefined = protection.hook
    ? await createHttpServer({
        ...http,
        service: 'smp-admin',
        tls: protection.tls!,
        metricsAccess: adminMetrics ? adminMetrics.hook : metrics.hook,
        openapi: {
          title: 'EHMI service metadata publisher (SMP): admin API',
          version: '1.0.0',
          description:
            'Register and remove ServiceGroups and ServiceMetadata (PUT, DELETE; OASIS BDXR SMP 1.0 / phoss SMP ' +
            'REST write binding) with mTLS and a certificate-bound access token with smp/publication.write.',
          components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
        },
      })
    : undefined;
  const routes = {
    repository,
    flavour: config.flavour === 'peppol' ? ('peppol' as const) : ('oasis-bdxr-1' as const),
    publicUrl,
    signing,
    onServiceGroup: (participant: Parameters<SmpDnsZone['add']>[0], present: boolean) => {
      if (!zone) return;
      if (present) zone.add(participant);
      else zone.remove(participant);
    },
  };
  await registerSmpRoutes(app, {
    ...routes,
    admin: adminApp ? { kind: 'elsewhere', url: adminUrl } : { kind: 'static', token: config.adminToken },
  });
  if (adminApp && protection.hook) {
    await registerSmpRoutes(adminApp, {
      ...routes,
      read: false,
      admin: { kind: 'access-token', hook: protection.hook },
    });
  }

  return {
    name: 'smp',
    app,
    repository,
    get url() {
      return url;
    },
    get adminUrl() {
      return adminApp ? adminUrl() : undefined;
    },
    get dns() {
      return zone && dnsServer ? { zone, host: dnsServer.host, port: dnsServer.port } : undefined;
    },
    async start() {
      url = await listen(app, { host: config.host, port: config.port, https: false });
      if (adminApp) {
        try {
          adminListenUrl = await listen(adminApp, {
            host: config.admin.host ?? config.host,
            port: config.admin.port,
            https: true,
          });
        } catch (err) {
          await app.close();
          throw err;
        }
        ctx.logger.info({ url: adminUrl() }, 'smp admin API started');
      }
      if (!config.dns.enabled) return;
      const smpUrl = publicUrl();
      const publicHost = new URL(smpUrl).hostname;
      const addresses =
        config.dns.smpAddresses.length > 0
          ? config.dns.smpAddresses
          : isIPv4(publicHost)
            ? [publicHost]
            : ['127.0.0.1'];
      zone = new SmpDnsZone({
        zone: config.dns.zone,
        smpUrl,
        ...(config.dns.smpHostname ? { smpHostname: config.dns.smpHostname } : {}),
        smpAddresses: addresses,
        ttlSeconds: config.dns.ttlSeconds,
      });
      for (const participant of await repository.participants()) zone.add(participant);
      try {
        dnsServer = await startSmpDnsServer(zone, {
          host: config.dns.host,
          port: config.dns.port,
          logger: ctx.logger,
        });
      } catch (err) {
        await app.close();
        await adminApp?.close();
        throw err;
      }
    },
    async close() {
      await app.close();
      await adminApp?.close();
      await protection.close();
      await metrics.close();
      if (adminMetrics) await adminMetrics.close();
      await dnsServer?.close();
    },
  };
}
