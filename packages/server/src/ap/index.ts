import { EhmiError } from '@ehmi/errors';
import type { Role, RoleContext } from '../roles.ts';
import type { AccessPointGateway, MshBackend, ReceiverDiscovery } from './contract.ts';

export * from './contract.ts';

export interface AccessPoint extends Role {
  /** Where the MSH submits envelopes. */
  readonly gateway: AccessPointGateway;
}

export interface AccessPointDeps {
  /** The MSH that received envelopes and send outcomes are handed to. */
  backend: MshBackend;
  /** Default: from config (`ap.discovery`). */
  discovery?: ReceiverDiscovery;
}

/** The access point role (ehmiAP). */
export async function createAccessPoint(_ctx: RoleContext, _deps: AccessPointDeps): Promise<AccessPoint> {
  throw new EhmiError('EHMI_CONFIG_INVALID', 'the access point role is not built yet');
}
