import { EhmiError } from '@ehmi/errors';
import type { AccessPointGateway, MshBackend } from '../ap/contract.ts';
import type { Role, RoleContext } from '../roles.ts';

export interface MessageServiceHandler extends Role {
  /** What the access point hands received envelopes and send outcomes to. */
  readonly backend: MshBackend;
}

export interface MshDeps {
  accessPoint: AccessPointGateway;
}

/** The message service handler role (ehmiMSH). */
export async function createMsh(_ctx: RoleContext, _deps: MshDeps): Promise<MessageServiceHandler> {
  throw new EhmiError('EHMI_CONFIG_INVALID', 'the message service handler role is not built yet');
}
