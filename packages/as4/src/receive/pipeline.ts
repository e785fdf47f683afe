import { EhmiError } from '@ehmi/errors';
import type { ReceiveBudgets } from '../budget.ts';
import { type As4Limits, resolveLimits } from '../limits.ts';
import { type ParsedAs4Message, parseAs4Message, withMessageId } from '../message/parse.ts';
import type { AttachmentSink } from '../mime/sink.ts';
import type { As4Attachment } from '../model/attachment.ts';
import type { SignalMessage } from '../model/signal-message.ts';
import type { UserMessage } from '../model/user-message.ts';
import type { PMode } from '../pmode/pmode.ts';
import { type BuiltReceipt, buildReceipt } from '../receipt/build.ts';
import {
  streamedAttachmentDigests,
  type VerifyOptions,
  type VerifyResult,
  verifyAttachmentReferences,
} from '../wss/verify.ts';
import { checkPMode } from './check-pmode.ts';
import { decompressStep } from './decompress.ts';
import { type DecryptAttachments, decryptStep, verifySignatureStep } from './security.ts';

export interface ReceiveOptions {
  /** The HTTP Content-Type of the request. */
  contentType: string;
  limits?: Partial<As4Limits>;
  sink?: AttachmentSink;
  /**
   * Where the payloads go once decompressed (or copied, when decrypted as read); default `sink`. A receiver can give
   * its store's own files here, so that a payload is written once, where it will be kept. Disposed with the message.
   */
  payloadSink?: AttachmentSink;
  /**
   * Finds the P-Mode of a UserMessage (AgreementRef and its `@pmode`, Service, Action, parties; eDelivery AS4 1.15
   * §2.2.2). None → EBMS:0010 ProcessingModeMismatch.
   */
  selectPMode: (um: UserMessage) => PMode | undefined | Promise<PMode | undefined>;
  /** Signature verification options for the wss module (trust hook, clock); `profile` defaults to the P-Mode's. */
  verify: VerifyOptions;
  /** The receiver's clock: the receipt's eb:Timestamp, and the wsu:Timestamp check unless `verify.clock` is set. */
  clock?: () => Date;
  /** Decryption by the wss module; required for encrypted messages (else EBMS:0102). */
  decrypt?: DecryptAttachments;
  /**
   * The receiver's pools shared by the messages in progress (envelopes in memory, decompressed octets): the message
   * takes from them as it goes and gives everything back when disposed (or when it fails).
   */
  budgets?: ReceiveBudgets;
}

/** A UserMessage that passed every receive step: ready for duplicate detection, commit, then the receipt. */
export interface ReceivedUserMessage {
  kind: 'user';
  message: ParsedAs4Message;
  userMessage: UserMessage;
  pmode: PMode;
  verified: VerifyResult;
  /** Payloads decrypted and decompressed, in PayloadInfo order. */
  payloads: As4Attachment[];
  /**
   * The non-repudiation receipt echoing every reference of the verified signature (AS4 Profile §5.1.8).
   * Sign it with `signReceipt` and send it only after the message is committed (docs/architecture.md
   * "Durability").
   */
  receipt: BuiltReceipt;
  dispose(): Promise<void>;
}

/**
 * Signal messages (an asynchronous receipt, an error, a pull request), parsed but **not authenticated**: no P-Mode
 * is selected and no signature is checked here. Check a receipt with `verifyReceipt` (signature → EBMS:0101, NRI →
 * EBMS:0302) before acting on it, and treat an unsigned error signal as a hint only.
 */
export interface ReceivedSignals {
  kind: 'signal';
  message: ParsedAs4Message;
  signalMessages: SignalMessage[];
  dispose(): Promise<void>;
}

/**
 * The AS4 receive pipeline as small steps (docs/architecture.md "Style", after node-oidc-provider): parse
 * MIME → check envelope → read header → check payload references → select P-Mode → check P-Mode → verify
 * signature → decrypt → verify attachment digests → decompress → build receipt. Duplicate detection and the
 * durable commit belong to the caller (the access point), between this and sending the receipt. Any failure
 * throws an EhmiError whose `ebmsCode` is the ebMS error to answer with (see `buildErrorSignal`), carrying
 * the MessageId in `details.messageId` once it is known; attachment storage is released on failure.
 *
 * @example
 * try {
 *   const rx = await receiveAs4Message(req.raw, { contentType, selectPMode, verify: { trust } });
 *   if (rx.kind === 'user') {
 *     await store.commit(rx.userMessage, rx.payloads);
 *     await signReceipt(rx.receipt, signOptions);
 *     reply(writeAs4Message(rx.receipt.document, []));
 *   }
 * } catch (err) {
 *   reply(writeAs4Message(buildErrorSignal(err).document, []));
 * }
 */
export async function receiveAs4Message(
  body: AsyncIterable<Uint8Array>,
  options: ReceiveOptions,
): Promise<ReceivedUserMessage | ReceivedSignals> {
  const limits = resolveLimits(options.limits);
  const envelopeLease = options.budgets?.envelopes?.lease();
  const decompressedLease = options.budgets?.decompressed?.lease();
  const releaseLeases = async () => {
    envelopeLease?.release();
    decompressedLease?.release();
  };
  let message: ParsedAs4Message;
  try {
    message = await parseAs4Message(body, {
      contentType: options.contentType,
      limits,
      ...(options.sink ? { sink: options.sink } : {}),
      ...(envelopeLease ? { envelopeLease } : {}),
    });
  } catch (err) {
    await releaseLeases();
    throw err;
  }
  // The leases go back after the files are removed: the pools count what is held, on disk or in memory.
  const disposers: (() => Promise<void>)[] = [() => message.dispose().finally(releaseLeases)];
  const dispose = async () => {
    await Promise.all(disposers.map((d) => d().catch(() => {})));
  };
  if (message.messaging.kind === 'signal') {
    return { kind: 'signal', message, signalMessages: message.messaging.signalMessages, dispose };
  }
  const userMessage = message.messaging.userMessage;
  try {
    const pmode = await options.selectPMode(userMessage);
    if (!pmode) {
      throw new EhmiError('EHMI_AS4_PMODE_MISMATCH', 'no P-Mode matches the message', {
        details: {
          service: userMessage.collaborationInfo.service.value,
          action: userMessage.collaborationInfo.action,
        },
      });
    }
    checkPMode(userMessage, message.envelope, pmode);
    const verify =
      options.clock && !options.verify.clock ? { ...options.verify, clock: options.clock } : options.verify;
    const verified = await verifySignatureStep(message.envelope, message.attachments, pmode, verify);
    // One pass over each payload: decrypted as read (when the hook does so), its signed digest taken, decompressed
    // into the sink. The digests that cannot ride along (XML-typed parts, attachments that are not payloads) are
    // checked after, in passes of their own.
    const plain = await decryptStep(
      message.envelope,
      message.attachments,
      verified,
      pmode,
      options.decrypt,
      message.sink,
      false,
    );
    if (plain.dispose) disposers.push(plain.dispose);
    const deferred = verified.references.some((r) => r.target === 'attachment' && !r.digestVerified);
    const payloadSink = options.payloadSink ?? message.sink;
    if (options.payloadSink) disposers.push(() => options.payloadSink!.dispose());
    const payloads = await decompressStep(
      userMessage,
      plain.attachments,
      payloadSink,
      limits,
      decompressedLease,
      {
        ...(deferred ? { digests: streamedAttachmentDigests(verified, plain.attachments) } : {}),
        ...(plain.decryptOnRead ? { copy: new Set(plain.decryptOnRead) } : {}),
      },
    );
    if (verified.references.some((r) => r.target === 'attachment' && !r.digestVerified)) {
      await verifyAttachmentReferences(verified, plain.attachments);
    }
    const receipt = buildReceipt({
      refToMessageId: userMessage.messageInfo.messageId,
      references: verified.references,
      ...(options.clock ? { timestamp: options.clock() } : {}),
    });
    return { kind: 'user', message, userMessage, pmode, verified, payloads, receipt, dispose };
  } catch (err) {
    await dispose().catch(() => {});
    throw withMessageId(err, userMessage.messageInfo.messageId);
  }
}
