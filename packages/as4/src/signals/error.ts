import { toEbmsError } from '@ehmi/errors';
import { newMessageId, signalMessageXml, timestampOf } from '../ebms/build.ts';
import type { EbmsErrorElement, SignalMessage } from '../model/signal-message.ts';
import { type BuiltEnvelope, buildEnvelope } from '../soap/build.ts';

export interface BuildErrorSignalOptions {
  /** The MessageId of the message in error: eb:RefToMessageId and each `@refToMessageInError` (ebMS3 Core §6.2). */
  refToMessageInError?: string;
  messageId?: string;
  timestamp?: Date | string;
}

export interface BuiltErrorSignal extends BuiltEnvelope {
  signal: SignalMessage;
}

/**
 * The eb:Error element for any thrown value (ebMS3 Core §6.2, §6.7): the ebMS code, severity, category,
 * shortDescription and origin come from the error's EHMI code (packages/errors); our stable code goes in
 * ErrorDetail. Internal errors do not leak their message.
 *
 * @example
 * ebmsErrorElement(new EhmiError('EHMI_AS4_DECOMPRESSION_FAILURE', 'bad gzip'), 'a1@ehmi.dk').errorCode; // 'EBMS:0303'
 */
export function ebmsErrorElement(err: unknown, refToMessageInError?: string): EbmsErrorElement {
  const e = toEbmsError(err, refToMessageInError);
  const out: EbmsErrorElement = {
    errorCode: e.code,
    severity: e.severity,
    category: e.category,
    origin: e.origin,
    shortDescription: e.shortDescription,
    description: e.description,
    errorDetail: e.errorDetail,
  };
  if (e.refToMessageInError !== undefined) out.refToMessageInError = e.refToMessageInError;
  return out;
}

/**
 * An ebMS Error signal for one or more errors, returned synchronously in the HTTP response
 * (eDelivery AS4 1.15 §2.2.2: ErrorHandling.Report.AsResponse=true). When the message in error is known, its
 * MessageId is RefToMessageId and `refToMessageInError`; the MessageId is taken from `err.details.messageId`
 * when not given.
 *
 * @example
 * catch (err) {
 *   const signal = buildErrorSignal(err);
 *   const { contentType, body } = writeAs4Message(signal.document, []);
 * }
 */
export function buildErrorSignal(errors: unknown, options: BuildErrorSignalOptions = {}): BuiltErrorSignal {
  const list = Array.isArray(errors) ? errors : [errors];
  const ref = options.refToMessageInError ?? messageIdOf(list[0]);
  const signal: SignalMessage = {
    messageInfo: {
      timestamp: timestampOf(options.timestamp),
      messageId: options.messageId ?? newMessageId(),
    },
    errors: list.map((e) => ebmsErrorElement(e, ref)),
  };
  if (ref !== undefined) signal.messageInfo.refToMessageId = ref;
  return Object.assign(buildEnvelope(signalMessageXml(signal)), { signal });
}

function messageIdOf(err: unknown): string | undefined {
  const details = (err as { details?: Record<string, unknown> } | undefined)?.details;
  return typeof details?.messageId === 'string' ? details.messageId : undefined;
}
