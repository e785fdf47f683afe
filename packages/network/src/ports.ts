import { EhmiError } from '@ehmi/errors';

/** Default first port of the local network (`ehmi up --port-base`). */
export const DEFAULT_PORT_BASE = 8700;
/**
 * The network never uses more than this many consecutive ports from the base; the last one is the SMP's admin API
 * (`SMP_ADMIN_PORT_OFFSET` in central.ts), which the organisations' ports never reach.
 */
export const NETWORK_PORT_SPAN = 50;
/**
 * Ports base+0 … base+9 are kept for the central services, in this order (base+9 is the central node's own
 * health/metrics server). `crl` serves the root CA's CRL over plain HTTP, as CRL distribution points are (RFC 5280
 * §4.2.1.13: an HTTP URI points to a DER CRL; HTTPS would need revocation checking to check revocation).
 */
export const CENTRAL_SERVICES = [
  'auth',
  'eer',
  'eas',
  'smp',
  'dns',
  'eds',
  'archive',
  'console',
  'crl',
] as const;
export type CentralService = (typeof CENTRAL_SERVICES)[number];
const CENTRAL_SPAN = 10;
/** Each organisation's node has three servers: its MSH, its access point, and the node's health/metrics server. */
const PORTS_PER_ORGANISATION = 3;

export interface OrganisationPorts {
  msh: number;
  ap: number;
  node: number;
}

/** The largest number of organisations that fit in the span after the central services. */
export const MAX_ORGANISATIONS = Math.floor((NETWORK_PORT_SPAN - CENTRAL_SPAN) / PORTS_PER_ORGANISATION);

/** Check a port base: the whole span must be real ports. */
export function checkPortBase(portBase: number): number {
  if (!Number.isInteger(portBase) || portBase < 1 || portBase + NETWORK_PORT_SPAN - 1 > 65535) {
    throw new EhmiError(
      'EHMI_USAGE',
      `--port-base expects 1–${65535 - NETWORK_PORT_SPAN + 1} (the network uses ${NETWORK_PORT_SPAN} ports from it), got ${portBase}`,
    );
  }
  return portBase;
}

/** Port of a central service (reserved now, used by later issues). */
export function centralServicePort(portBase: number, service: CentralService): number {
  return portBase + CENTRAL_SERVICES.indexOf(service);
}

/** Ports of the organisation at `index`: msh base+10+3i, ap base+11+3i, node base+12+3i. */
export function organisationPorts(portBase: number, index: number): OrganisationPorts {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_ORGANISATIONS) {
    throw new EhmiError(
      'EHMI_CONFIG_INVALID',
      `organisation index ${index}: at most ${MAX_ORGANISATIONS} organisations fit in ${NETWORK_PORT_SPAN} ports`,
    );
  }
  const first = portBase + CENTRAL_SPAN + PORTS_PER_ORGANISATION * index;
  return { msh: first, ap: first + 1, node: first + 2 };
}
