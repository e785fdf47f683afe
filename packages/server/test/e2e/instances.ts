// One organisation run as several instances: the same config (one PostgreSQL schema, one data folder with its blob
// store), each instance on ports of its own, behind a load balancer that listens where the organisation's MSH and
// access point are published (network.json, EER, the SMP). Used by the instances test and the end-to-end bench.
import type { Config } from '../../src/role-list.ts';

/** The ports one instance listens on. */
export interface InstancePorts {
  msh: number;
  ap: number;
  node: number;
}

/**
 * The config of one instance of an organisation planned as one node: its MSH, access point and own server on
 * `ports`, while its MSH and access point keep the planned URLs as their public ones (what the load balancer serves:
 * access tokens are issued for that audience, senders discover that AS4 endpoint). Everything else, the database
 * schema and the data folder included, is shared.
 */
export function instanceConfig(planned: Config, ports: InstancePorts): Config {
  const config = structuredClone(planned);
  const url = (port: number) => `https://${planned.msh.host}:${port}`;
  config.msh.publicUrl = planned.msh.publicUrl ?? url(planned.msh.port);
  config.msh.port = ports.msh;
  config.ap.publicUrl = planned.ap.publicUrl ?? `https://${planned.ap.host}:${planned.ap.port}`;
  config.ap.port = ports.ap;
  config.http.port = ports.node;
  return config;
}
