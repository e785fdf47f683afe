import { readFileSync } from 'node:fs';
import { EhmiError } from '@ehmi/errors';
import { SmpClient, type SmpClientOptions } from '@ehmi/smp';
import { smpDiscovery } from '../smp/discovery.ts';
import type { ApConfig } from './config.ts';
import type { ReceiverDiscovery } from './contract.ts';
import { normaliseParticipant, staticDiscovery } from './discovery.ts';

type SmpDiscoveryConfig = NonNullable<ApConfig['discovery']['smp']>;

/** The `SmpClient` options of `ap.discovery.smp` (trust anchors read from their PEM files now: errors at start). */
export function smpClientOptions(config: SmpDiscoveryConfig): SmpClientOptions {
  const trustAnchors = config.trustAnchors.map((file) => {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw new EhmiError('EHMI_CONFIG_INVALID', `ap.discovery.smp.trustAnchors: cannot read ${file}`, {
        cause: err,
      });
    }
  });
  return {
    ...(config.url ? { smpUrl: config.url } : {}),
    ...(config.zone
      ? {
          sml: {
            zone: config.zone,
            naming: config.naming,
            ...(config.cnamePort ? { cnamePort: config.cnamePort } : {}),
          },
        }
      : {}),
    ...(config.dnsServer
      ? { dns: { host: config.dnsServer.host, port: config.dnsServer.port, timeoutMs: config.timeoutMs } }
      : {}),
    trustAnchors,
    cacheTtlMs: config.cacheTtlMs,
    timeoutMs: config.timeoutMs,
  };
}

/**
 * The AP's receiver discovery as `ap.discovery` configures it: with `smp`, DNS + SMP through an `SmpClient`
 * (participants in the static map, if any, still come from the map: an operator's override); without, the static
 * map alone.
 *
 * @example
 * const discovery = configuredDiscovery(config.ap.discovery);
 */
export function configuredDiscovery(config: ApConfig['discovery']): ReceiverDiscovery {
  const fromMap = staticDiscovery(config.static);
  if (!config.smp) return fromMap;
  const dynamic = smpDiscovery(new SmpClient(smpClientOptions(config.smp)));
  const listed = new Set(Object.keys(config.static).map(normaliseParticipant));
  if (listed.size === 0) return dynamic;
  return {
    lookup(participant, documentType, process) {
      return listed.has(normaliseParticipant(participant))
        ? fromMap.lookup(participant, documentType, process)
        : dynamic.lookup(participant, documentType, process);
    },
  };
}
