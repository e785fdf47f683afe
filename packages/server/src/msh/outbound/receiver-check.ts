import { EhmiError } from '@ehmi/errors';
import type { EhmiEnvelope } from '@ehmi/sbdh';
import type { MshCore } from '../core.ts';
import { routing } from '../envelopes.ts';

/**
 * Refuses a message whose receiver the register does not serve for its document type and process (config
 * `msh.checkReceiver`, on by default): 422 `EHMI_RECEIVER_NOT_REGISTERED` naming the receiver and the register's
 * reason, before anything is stored. The AP answers from the discovery it sends with (`checkReceiver` of
 * contract.ts), so the MSH needs no register client of its own.
 *
 * A discovery that cannot be had (DNS or SMP down, an SMP answer refused) is no answer: the message is accepted
 * and the access point's send job retries the lookup (docs/architecture.md "Durability"). Refusing it (503) would
 * turn every SMP outage into a messaging outage and move the retry to EUAs, many of which do not retry; a false
 * 422 would tell the EUA a valid receiver does not exist.
 */
export async function checkReceiver(
  core: MshCore,
  envelope: EhmiEnvelope,
  expression: string,
): Promise<void> {
  if (!core.config.checkReceiver) return;
  const { receiver, document_type: documentType, process } = routing(envelope);
  let answer: Awaited<ReturnType<MshCore['accessPoint']['checkReceiver']>>;
  try {
    answer = await core.accessPoint.checkReceiver(receiver, documentType, process);
  } catch (err) {
    core.logger.warn(
      { err, receiver, documentType },
      'the receiver could not be checked (discovery unavailable): accepted, the access point retries the lookup',
    );
    return;
  }
  if (answer.registered) return;
  throw new EhmiError(
    'EHMI_RECEIVER_NOT_REGISTERED',
    `the receiver ${receiver} is not registered in the SMP for document type ${documentType} in process ${process}: ${answer.reason}`,
    { expression: [expression], details: { receiver, documentType, process } },
  );
}
