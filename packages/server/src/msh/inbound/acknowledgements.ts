import type { EhmiEnvelope, MedComMessageFacts } from '@ehmi/sbdh';
import type { InboundEnvelope } from '../../contract.ts';
import { type MshCore, putBlob } from '../core.ts';
import { addSubmission } from '../envelopes.ts';
import { transition } from '../lifecycle.ts';
import { claimReceived, findFhirMessageByHeader } from '../repository.ts';
import { receiptFor } from './receipts.ts';

function operationOutcomeText(bundle: unknown): string | undefined {
  const entries = (bundle as { entry?: { resource?: Record<string, unknown> }[] }).entry ?? [];
  const oo = entries.map((e) => e.resource).find((r) => r?.resourceType === 'OperationOutcome');
  const issue = (oo?.issue as { details?: { text?: string }; diagnostics?: string }[] | undefined)?.[0];
  return issue?.details?.text ?? issue?.diagnostics;
}

/**
 * A MedCom acknowledgement: `MessageHeader.response.identifier` names the acknowledged MessageHeader.id. The first
 * one counts (a duplicate acknowledgement is ignored, 020 §1.2 #2); `fatal-error` fails the message. Its envelope
 * gets an EnvelopeReceipt like any other; the acknowledgement itself is never acknowledged (KR2.R).
 */
export async function receiveAcknowledgement(
  core: MshCore,
  inbound: InboundEnvelope,
  env: EhmiEnvelope,
  facts: MedComMessageFacts,
): Promise<void> {
  const receipt = receiptFor(env);
  const receiptBlob = await putBlob(core, receipt.xml);
  const code = facts.responseCode ?? 'ok';
  const msg = facts.responseIdentifier
    ? await findFhirMessageByHeader(core.store.db, facts.responseIdentifier, env.sender.value)
    : undefined;
  const now = core.now();
  await core.store.transaction(async (trx) => {
    const detail = `acknowledgement ${facts.messageHeaderId} of ${facts.responseIdentifier ?? '(none)'}`;
    if (!(await claimReceived(trx, inbound.as4MessageId, 'acknowledgement', null, detail, now))) return;
    await addSubmission(core, trx, receipt, receiptBlob, 'receipt', null);
    if (!msg) {
      core.logger.warn(
        { responseIdentifier: facts.responseIdentifier },
        'acknowledgement of an unknown message',
      );
      return;
    }
    const fatal = code === 'fatal-error';
    const why = fatal ? operationOutcomeText(facts.bundle) : undefined;
    const taken = await transition(trx, msg, 'acknowledgement', {
      outcome: fatal ? 'failure' : 'success',
      detail: `${code}: ${detail}`,
      time: now,
      set: {
        ack_code: code,
        ack_at: now,
        ack_due: null,
        ...(fatal
          ? { failure_reason: `fatal-error acknowledgement${why ? `: ${why}` : ''}`, failure_ebms: null }
          : {}),
      },
    });
    if (!taken) {
      core.logger.info({ messageId: msg.id }, 'duplicate acknowledgement ignored (MedCom 020 §1.2 #2)');
    }
  });
  core.wake();
}
