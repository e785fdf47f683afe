import { EhmiError } from '@ehmi/errors';
import { childElements } from '@ehmi/xml';
import type { UserMessage } from '../model/user-message.ts';
import type { PMode } from '../pmode/pmode.ts';
import type { As4Envelope } from '../soap/envelope.ts';

/**
 * Receive step: the message must fit the P-Mode it was matched to (ebMS3 Core §6.7.1 EBMS:0010
 * ProcessingModeMismatch — "not compatible with the expected content, based on the associated P-Mode"):
 * SOAP 1.2 (AS4 Profile §2.1.1), Service/Action of the leg, the AgreementRef when the P-Mode names one,
 * an empty Body (eDelivery AS4 1.15 §2.2.3.1: payloads only in MIME parts), and the message properties the leg
 * requires (Four Corner enhancement §2.6.1: originalSender and finalRecipient).
 *
 * @example
 * checkPMode(userMessage, env, pmode);
 */
export function checkPMode(um: UserMessage, env: As4Envelope, pmode: PMode): void {
  const mismatch = (message: string, details: Record<string, unknown> = {}) =>
    new EhmiError('EHMI_AS4_PMODE_MISMATCH', message, { details: { pmode: pmode.id, ...details } });
  if (env.soapVersion !== pmode.leg.protocol.soapVersion) {
    throw mismatch(
      `SOAP ${env.soapVersion} is used; the P-Mode requires SOAP ${pmode.leg.protocol.soapVersion}`,
    );
  }
  const bi = pmode.leg.businessInfo;
  const ci = um.collaborationInfo;
  if (ci.service.value !== bi.service.value || (ci.service.type ?? '') !== (bi.service.type ?? '')) {
    throw mismatch(`Service ${ci.service.value} does not match the P-Mode`, { service: ci.service.value });
  }
  if (ci.action !== bi.action)
    throw mismatch(`Action ${ci.action} does not match the P-Mode`, { action: ci.action });
  if (pmode.agreement && ci.agreementRef?.value !== pmode.agreement.value) {
    throw mismatch(`AgreementRef ${ci.agreementRef?.value ?? '(none)'} does not match the P-Mode`);
  }
  if (
    childElements(env.body).length > 0 ||
    um.payloadInfo.some((p) => p.href === undefined || p.href.startsWith('#'))
  ) {
    throw mismatch('the SOAP Body carries a payload; the profile puts payloads in MIME parts only');
  }
  for (const name of bi.requiredProperties) {
    const prop = um.messageProperties.find((p) => p.name === name);
    if (!prop || prop.value === '')
      throw mismatch(`the message property ${name} is required`, { property: name });
  }
}
