import type { EhmiEnvelope, MedComMessageFacts } from '@ehmi/sbdh';
import type { InboundEnvelope } from '../../contract.ts';
import { type MshCore, putBlob } from '../core.ts';
import { factsNow } from '../delivery-status.ts';
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
  const ackFacts = factsNow(core, env);
  const receiptFacts = factsNow(core, receipt.envelope);
  await core.store.transaction(async (trx) => {
    const detail = `acknowledgement ${facts.messageHeaderId} of ${facts.responseIdentifier ?? '(none)'}`;
    if (!(await claimReceived(trx, inbound.as4MessageId, 'acknowledgement', null, detail, now))) return;
    await addSubmission(core, trx, receipt, receiptBlob, 'receipt', null);
    // 17.1: the acknowledgement's EnvelopeReceipt created and sent.
    if (receiptFacts) {
      await core.eds.report(trx, {
        station: 'MSH',
        side: 'origin',
        subtype: 'msg-created-and-sent',
        facts: receiptFacts,
        at: now,
      });
    }
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
        ack_eds_facts: ackFacts ? JSON.stringify(ackFacts) : null,
        ...(fatal
          ? { failure_reason: `fatal-error acknowledgement${why ? `: ${why}` : ''}`, failure_ebms: null }
          : {}),
      },
      report: { eds: core.eds, facts: ackFacts },
      webhooks: core.webhooks,
    });
    if (!taken) {
      core.logger.info({ messageId: msg.id }, 'duplicate acknowledgement ignored (MedCom 020 §1.2 #2)');
    }
  });
  core.wake();
}
