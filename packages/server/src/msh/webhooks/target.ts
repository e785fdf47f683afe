import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { lookup as lookupAll } from 'node:dns/promises';
import { isIP, type LookupFunction } from 'node:net';
import { EhmiError } from '@ehmi/errors';
import ipaddr from 'ipaddr.js';

/**
 * Whether an address is a public unicast one: not loopback, private (RFC 1918, unique local), link-local (where
 * cloud metadata services answer), carrier-grade NAT, multicast, unspecified, reserved, nor an IPv6 form that
 * carries an IPv4 address (mapped, NAT64, 6to4, Teredo), whose IPv4 address could be any of those. ipaddr.js names
 * each range; only `unicast` is public.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  // An IPv4-mapped IPv6 address (::ffff:10.0.0.1) is judged as the IPv4 address it is.
  return ipaddr.process(address).range() === 'unicast';
}

const refusal = (host: string, address: string) =>
  `the webhook's host ${host} is ${address === host ? '' : `at ${address}, `}not a public address (loopback, private, link-local or reserved); msh.webhooks.allowPrivateTargets allows such targets`;

/** What a webhook URL must be, and what it may point at. */
export interface TargetPolicy {
  allowPrivateTargets: boolean;
  /** Resolves a host name to its addresses (the system resolver by default; tests give their own). */
  resolve?: (host: string) => Promise<string[]>;
}

const systemResolve = async (host: string): Promise<string[]> =>
  (await lookupAll(host, { all: true, verbatim: true })).map((a) => a.address);

/**
 * Check a webhook URL at registration (Standard Webhooks "Enforcing HTTPS", "Server side request forgery"): an
 * absolute `https:` URL without credentials or fragment, whose host, unless `allowPrivateTargets`, is a public
 * address or resolves only to public addresses. Returns the URL as it will be called. Every refusal is
 * EHMI_VALIDATION_FAILED (422) naming what is wrong. Each delivery checks the addresses it connects to again
 * ({@link addressRefusal}, {@link publicOnlyLookup}): a name may resolve elsewhere later.
 */
export async function checkWebhookUrl(raw: string, policy: TargetPolicy): Promise<URL> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new EhmiError('EHMI_VALIDATION_FAILED', `url: ${JSON.stringify(raw)} is not an absolute URL`);
  }
  if (url.protocol !== 'https:') {
    throw new EhmiError(
      'EHMI_VALIDATION_FAILED',
      `url: a webhook is called over HTTPS only, not ${url.protocol.replace(/:$/, '')} (${raw})`,
    );
  }
  if (url.username || url.password) {
    throw new EhmiError(
      'EHMI_VALIDATION_FAILED',
      'url: a webhook URL carries no user name or password (the receiver verifies the signature instead)',
    );
  }
  if (url.hash) {
    throw new EhmiError('EHMI_VALIDATION_FAILED', 'url: a webhook URL has no fragment (#…)');
  }
  if (policy.allowPrivateTargets) return url;
  const literal = addressRefusal(url);
  if (literal) throw new EhmiError('EHMI_VALIDATION_FAILED', `url: ${literal}`);
  const host = hostOf(url);
  if (isIP(host)) return url;
  let addresses: string[];
  try {
    addresses = await (policy.resolve ?? systemResolve)(host);
  } catch (err) {
    throw new EhmiError(
      'EHMI_VALIDATION_FAILED',
      `url: the webhook's host ${host} cannot be resolved (${(err as Error).message})`,
    );
  }
  if (addresses.length === 0) {
    throw new EhmiError('EHMI_VALIDATION_FAILED', `url: the webhook's host ${host} has no address`);
  }
  const inner = addresses.find((a) => !isPublicAddress(a));
  if (inner) throw new EhmiError('EHMI_VALIDATION_FAILED', `url: ${refusal(host, inner)}`);
  return url;
}

/** The host of a URL as an address or a name (an IPv6 address without its brackets). */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '');
}

/**
 * Why a URL whose host is an address may not be called (it is not public), or undefined: a host name is judged as
 * each connection resolves it ({@link publicOnlyLookup}), which a connection to an address skips.
 */
export function addressRefusal(url: URL): string | undefined {
  const host = hostOf(url);
  return isIP(host) && !isPublicAddress(host) ? refusal(host, host) : undefined;
}

/**
 * The `lookup` of a delivery's connection when private targets are not allowed: the system resolver's answer,
 * refused when any address is not public, so that a name that resolved to a public address at registration cannot
 * lead the MSH into its own network later (DNS rebinding). A host given as an address is not looked up: the
 * delivery checks it itself ({@link checkWebhookUrl}).
 */
export const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (err, found) => {
    if (err) {
      callback(err, '', 0);
      return;
    }
    const addresses = found as LookupAddress[];
    const inner = addresses.find((a) => !isPublicAddress(a.address));
    if (inner || addresses.length === 0) {
      const refused = new EhmiError(
        'EHMI_FORBIDDEN',
        inner ? refusal(hostname, inner.address) : `the webhook's host ${hostname} has no address`,
      ) as EhmiError & NodeJS.ErrnoException;
      callback(refused, '', 0);
      return;
    }
    if (options.all) {
      (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      return;
    }
    callback(null, addresses[0]!.address, addresses[0]!.family);
  });
};
