import { type LookupAddress, lookup as systemLookup } from 'node:dns';
import { Resolver } from 'node:dns/promises';
import { EhmiError } from '@ehmi/errors';
import type { NaptrRecord } from '../naming/naptr.ts';

/** The DNS queries discovery needs; node:dns/promises' `Resolver` has them, a test or a DoH client can too. */
export interface DnsResolver {
  resolveNaptr(name: string): Promise<NaptrRecord[]>;
  resolveCname(name: string): Promise<string[]>;
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
}

/**
 * Where to send DNS queries: one server (`host` or `server`, default port 53) or several `host[:port]` strings.
 *
 * @example
 * const dns: DnsServerOptions = { host: '127.0.0.1', port: 5353 };
 */
export type DnsServerOptions =
  | { host: string; port?: number }
  | { server: string; port?: number }
  | { servers: readonly string[] };

export interface DnsOptions {
  timeoutMs?: number;
  tries?: number;
}

/**
 * A node:dns Resolver that asks the given servers (instead of the system's), e.g. an SML zone's authoritative
 * server or a test server on 127.0.0.1.
 *
 * @example
 * const resolver = createResolver({ host: '127.0.0.1', port: 5353 });
 */
export function createResolver(server: DnsServerOptions, options: DnsOptions = {}): DnsResolver {
  const r = new Resolver({ timeout: options.timeoutMs ?? 3000, tries: options.tries ?? 2 });
  let servers: string[];
  if ('servers' in server) servers = [...server.servers];
  else {
    const host = 'host' in server ? server.host : server.server;
    servers = [host.includes(':') ? `[${host}]:${server.port ?? 53}` : `${host}:${server.port ?? 53}`];
  }
  r.setServers(servers);
  return r;
}

/** DNS answers that mean "no such registration" (RFC 8020 NXDOMAIN, or the name without records of this type). */
const ABSENT = new Set(['ENOTFOUND', 'ENODATA']);

/** True when a DNS error says the name or record does not exist (as opposed to a failed query). */
export function isAbsent(err: unknown): boolean {
  return ABSENT.has((err as { code?: string })?.code ?? '');
}

/** A DNS failure that is not an answer (timeout, SERVFAIL, refused, unreachable server): transient. */
export function lookupFailed(name: string, type: string, err: unknown): EhmiError {
  const code = (err as { code?: string })?.code ?? 'unknown';
  return new EhmiError('EHMI_SMP_LOOKUP_FAILED', `DNS ${type} query for ${name} failed (${code})`, {
    cause: err,
    details: { name, type, dnsCode: code },
  });
}

/** True for an object that can answer the discovery queries itself. */
export function isResolver(value: unknown): value is DnsResolver {
  return typeof (value as DnsResolver)?.resolveNaptr === 'function';
}

/**
 * A `lookup` for node:http that resolves host names through the resolver (A, then AAAA), so the SMP host is
 * found in the same DNS as its registration; when that DNS does not know the host (an SML zone's authoritative
 * server knows only its zone), the system resolver is asked.
 */
export function lookupVia(resolver: DnsResolver) {
  return (
    hostname: string,
    options: { all?: boolean; family?: number | string },
    callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ): void => {
    const family = Number(options?.family ?? 0);
    const run = async (): Promise<LookupAddress[]> => {
      const out: LookupAddress[] = [];
      if (family !== 6) {
        try {
          for (const a of await resolver.resolve4(hostname)) out.push({ address: a, family: 4 });
        } catch (err) {
          if (!isAbsent(err)) throw err;
        }
      }
      if (family !== 4 && out.length === 0) {
        try {
          for (const a of await resolver.resolve6(hostname)) out.push({ address: a, family: 6 });
        } catch (err) {
          if (!isAbsent(err)) throw err;
        }
      }
      if (out.length === 0) {
        throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname });
      }
      return out;
    };
    run().then(
      (list) => (options?.all ? callback(null, list) : callback(null, list[0]!.address, list[0]!.family)),
      () =>
        systemLookup(hostname, { all: true, family }, (err, list) => {
          if (err || list.length === 0)
            callback(err ?? Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '');
          else if (options?.all) callback(null, list);
          else callback(null, list[0]!.address, list[0]!.family);
        }),
    );
  };
}
