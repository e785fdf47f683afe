import { EhmiError } from '@ehmi/errors';
import type { ByteLease } from '../budget.ts';
import { parseMessaging } from '../ebms/parse.ts';
import { type As4Limits, resolveLimits } from '../limits.ts';
import { type MimeMessage, readMimeMessage } from '../mime/parse.ts';
import { type AttachmentSink, tempFileSink } from '../mime/sink.ts';
import type { As4Attachment } from '../model/attachment.ts';
import type { Messaging } from '../model/messaging.ts';
import { checkPayloadReferences } from '../receive/check-payloads.ts';
import { type As4Envelope, parseEnvelope } from '../soap/envelope.ts';

export interface ParseAs4MessageOptions {
  /** The HTTP Content-Type of the body. */
  contentType: string;
  limits?: Partial<As4Limits>;
  /** Where attachment bodies go; default temporary files. Disposed by `dispose()` of the result. */
  sink?: AttachmentSink;
  /** The message's share of the receiver's pool for envelopes in memory (see `readMimeMessage`). */
  envelopeLease?: ByteLease;
}

/** A received AS4 message: the envelope (DOM and located parts), the ebMS model and the attachments. */
export interface ParsedAs4Message {
  envelope: As4Envelope;
  messaging: Messaging;
  /**
   * The SOAP envelope part exactly as received: the root MIME part's body, or the whole body of a SOAP-only message.
   * The signature's SignedInfo and its eb:Messaging, Body and Timestamp references verify over these octets alone,
   * which makes them the non-repudiation evidence a receiver keeps (the attachments are not copied here).
   */
  soapPart: Buffer;
  /** Attachment bodies as received (still encrypted/compressed if they were sent so). */
  attachments: As4Attachment[];
  /** The sink holding the attachment bodies. */
  sink: AttachmentSink;
  /** Frees the attachment bodies (temporary files). */
  dispose(): Promise<void>;
}

/**
 * The first receive steps, composed: read the MIME body (streaming, with limits), parse the SOAP envelope with
 * the hardening checks, read eb:Messaging into the model, and check that PayloadInfo and MIME parts agree.
 * Security (verify, decrypt) and decompression are the next steps (see `receive/pipeline.ts`).
 * Every failure is an EhmiError whose `ebmsCode` names the ebMS error to return; attachment storage is released
 * on failure. When the failure comes after the header was read, `err.details.messageId` holds the MessageId for
 * `RefToMessageInError`.
 *
 * @example
 * const msg = await parseAs4Message(request.raw, { contentType: request.headers['content-type']! });
 * try {
 *   if (msg.messaging.kind === 'user') console.log(msg.messaging.userMessage.messageInfo.messageId);
 * } finally {
 *   await msg.dispose();
 * }
 */
export async function parseAs4Message(
  body: AsyncIterable<Uint8Array>,
  options: ParseAs4MessageOptions,
): Promise<ParsedAs4Message> {
  const limits = resolveLimits(options.limits);
  const sink = options.sink ?? tempFileSink();
  const mime = await readMimeMessage(body, {
    contentType: options.contentType,
    limits,
    sink,
    ...(options.envelopeLease ? { envelopeLease: options.envelopeLease } : {}),
  });
  try {
    const { envelope, messaging } = interpretMime(mime, limits);
    return {
      envelope,
      messaging,
      soapPart: mime.envelope,
      attachments: mime.attachments,
      sink,
      dispose: () => sink.dispose(),
    };
  } catch (err) {
    await sink.dispose().catch(() => {});
    throw err;
  }
}

/**
 * The steps of {@link parseAs4Message} after the MIME read: the SOAP envelope with the hardening checks, eb:Messaging
 * into the model, PayloadInfo against the MIME parts. Frees nothing on failure (the caller owns the sink); a failure
 * after the header was read carries the MessageId (`withMessageId`).
 *
 * @example
 * const { envelope, messaging } = interpretMime(await readMimeMessage(body, { contentType, sink }), limits);
 */
export function interpretMime(
  mime: MimeMessage,
  limits: As4Limits,
): { envelope: As4Envelope; messaging: Messaging } {
  let messageId: string | undefined;
  try {
    const envelope = parseEnvelope(mime.envelope, { maxBytes: limits.maxEnvelopeBytes });
    const messaging = parseMessaging(envelope.messaging);
    if (messaging.kind === 'user') {
      messageId = messaging.userMessage.messageInfo.messageId;
      checkPayloadReferences(messaging.userMessage, mime.attachments, envelope.body);
    } else if (mime.attachments.length > 0) {
      throw new EhmiError('EHMI_AS4_MIME_INCONSISTENCY', 'a signal message carries MIME attachments');
    }
    return { envelope, messaging };
  } catch (err) {
    throw withMessageId(err, messageId);
  }
}

/** The error with the MessageId of the message in error added to its details (for RefToMessageInError). */
export function withMessageId(err: unknown, messageId: string | undefined): unknown {
  if (messageId === undefined || !(err instanceof EhmiError) || err.details.messageId !== undefined)
    return err;
  return new EhmiError(err.code, err.message, {
    cause: err.cause,
    expression: err.expression,
    details: { ...err.details, messageId },
    ebms: err.ebmsCode,
  });
}
