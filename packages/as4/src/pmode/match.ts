import type { PartyId, UserMessage } from '../model/user-message.ts';
import type { PMode } from './pmode.ts';

/**
 * Find the P-Mode for a received UserMessage (ebMS3 Core Appendix D.3; eDelivery AS4 1.15 §2.2.2: AgreementRef MUST
 * be usable for P-Mode selection, and messages without `@pmode` MUST be accepted). An `AgreementRef/@pmode` naming a
 * known P-Mode wins; otherwise the P-Mode whose Service, Action, Agreement (when it names one) and parties (when
 * it names them — a Dynamic Receiver template names none) match. Several candidates → the first; none → undefined,
 * which the receive pipeline answers with EBMS:0010. The chosen P-Mode is still checked in full by `checkPMode`.
 *
 * @example
 * const rx = await receiveAs4Message(body, { contentType, selectPMode: (um) => findPMode(pmodes, um), verify });
 */
export function findPMode(pmodes: readonly PMode[], um: UserMessage): PMode | undefined {
  const named = um.collaborationInfo.agreementRef?.pmode;
  if (named !== undefined) {
    const byId = pmodes.find((p) => p.id === named);
    if (byId) return byId;
  }
  const ci = um.collaborationInfo;
  return pmodes.find((p) => {
    const bi = p.leg.businessInfo;
    if (bi.service.value !== ci.service.value || (bi.service.type ?? '') !== (ci.service.type ?? ''))
      return false;
    if (bi.action !== ci.action) return false;
    if (p.agreement && p.agreement.value !== ci.agreementRef?.value) return false;
    if (!partiesMatch(p.initiator.partyIds, um.partyInfo.from.partyIds)) return false;
    return partiesMatch(p.responder.partyIds, um.partyInfo.to.partyIds);
  });
}

/** True when the P-Mode names no party, or one of its party ids is among the message's (value and type). */
function partiesMatch(expected: readonly PartyId[], actual: readonly PartyId[]): boolean {
  if (expected.length === 0) return true;
  return expected.some((e) => actual.some((a) => a.value === e.value && (a.type ?? '') === (e.type ?? '')));
}
