import { EhmiError } from '@ehmi/errors';
import type { ByteLease, ReceiveBudgets } from '../budget.ts';
import { type As4Limits, resolveLimits } from '../limits.ts';
import { interpretMime, type ParsedAs4Message, withMessageId } from '../message/parse.ts';
import { type MimeMessage, readMimeMessage } from '../mime/parse.ts';
import { type AttachmentSink, tempFileSink } from '../mime/sink.ts';
import type { As4Attachment } from '../model/attachment.ts';
import type { Messaging } from '../model/messaging.ts';
import type { SignalMessage } from '../model/signal-message.ts';
import type { UserMessage } from '../model/user-message.ts';
import type { PMode } from '../pmode/pmode.ts';
import { type BuiltReceipt, buildReceipt } from '../receipt/build.ts';
import type { As4Envelope } from '../soap/envelope.ts';
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
  /**
   * Octets of an attachment after which the steps start while the body still streams ({@link OVERLAP_AFTER_BYTES};
   * 0 or Infinity: only once the body is whole). The steps then read each part as it arrives; what they find is
   * taken only when the body is read whole with no attachment after those they saw and nothing failed, else the
   * steps run again on the whole message, so that the answer is always that of the steps in order.
   */
  overlapAfterBytes?: number;
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
  const sink = options.sink ?? tempFileSink();
  const payloadSink = options.payloadSink ?? sink;
  const overlapAfter = options.overlapAfterBytes ?? OVERLAP_AFTER_BYTES;
  /** What frees each run's decrypted copies (a hook may keep them apart from the message's sink). */
  const plainDisposers: (() => Promise<void>)[] = [];
  /** The run started while the body streamed, on the attachments begun by then. */
  let early: { attachments: number; run: Promise<Settled>; lease: ByteLease | undefined } | undefined;
  const run = (mime: MimeMessage, lease: ByteLease | undefined): Promise<Settled> =>
    processMessage(mime, { options, limits, sink, payloadSink, lease, plainDisposers }).then(
      (ok) => ({ ok }),
      (err: unknown) => ({ err }),
    );
  /** Removes every file of the message: its sink's, each run's decrypted copies, the payload sink's. */
  const removeAll = () =>
    Promise.all(
      [sink.dispose(), ...plainDisposers.map((d) => d()), options.payloadSink?.dispose()].map((d) =>
        d?.catch(() => {}),
      ),
    );
  let mime: MimeMessage;
  try {
    mime = await readMimeMessage(body, {
      contentType: options.contentType,
      limits,
      sink,
      ...(envelopeLease ? { envelopeLease } : {}),
      ...(overlapAfter > 0 && Number.isFinite(overlapAfter)
        ? {
            early: {
              afterBytes: overlapAfter,
              start: (m: MimeMessage) => {
                const lease = options.budgets?.decompressed?.lease();
                early = { attachments: m.attachments.length, run: run(m, lease), lease };
              },
            },
          }
        : {}),
    });
  } catch (err) {
    // The body's failure comes first, as it would have without the early run (whose streams ended with it). Once
    // that run has settled, everything it made is removed (the sink refuses new files once disposed).
    if (early) await early.run;
    await removeAll();
    envelopeLease?.release();
    early?.lease?.release();
    throw err;
  }
  /** The decompression leases of the runs made: given back only when their files are gone. */
  const decompressedLeases: (ByteLease | undefined)[] = [];
  let outcome: Settled | undefined;
  if (early) {
    const settled = await early.run;
    decompressedLeases.push(early.lease);
    // Taken only when it saw the message whole: no attachment came after it began. A failure is found again on the
    // whole message below, so that its answer is exactly the one the steps give in order (a body that failed outranks
    // it, a stricter bound met only because the part was still arriving does not count). A run not taken keeps its
    // share of the pool until its files are removed with the message's.
    if ('ok' in settled && early.attachments === mime.attachments.length) outcome = settled;
  }
  if (!outcome) {
    const lease = options.budgets?.decompressed?.lease();
    decompressedLeases.push(lease);
    outcome = await run(mime, lease);
  }
  // The leases go back after the files are removed: the pools count what is held, on disk or in memory.
  const dispose = async () => {
    await removeAll();
    envelopeLease?.release();
    for (const lease of decompressedLeases) lease?.release();
  };
  if ('err' in outcome) {
    await dispose();
    throw outcome.err;
  }
  const done = outcome.ok;
  const message: ParsedAs4Message = {
    envelope: done.envelope,
    messaging: done.messaging,
    soapPart: mime.envelope,
    attachments: mime.attachments,
    sink,
    dispose: () => sink.dispose(),
  };
  if (done.messaging.kind === 'signal') {
    return { kind: 'signal', message, signalMessages: done.messaging.signalMessages, dispose };
  }
  const userMessage = done.messaging.userMessage;
  const receipt = buildReceipt({
    refToMessageId: userMessage.messageInfo.messageId,
    references: done.verified!.references,
    ...(options.clock ? { timestamp: options.clock() } : {}),
  });
  return {
    kind: 'user',
    message,
    userMessage,
    pmode: done.pmode!,
    verified: done.verified!,
    payloads: done.payloads!,
    receipt,
    dispose,
  };
}

/**
 * Octets of an attachment received before the pipeline starts on the message while the rest of the body streams in
 * (a large payload is then decrypted, digested, decompressed and stored as it arrives, not read back after).
 */
export const OVERLAP_AFTER_BYTES = 1024 * 1024;

/** What {@link processMessage} found: the steps' results, or why the message is refused. */
type Settled = { ok: Processed } | { err: unknown };

interface Processed {
  envelope: As4Envelope;
  messaging: Messaging;
  pmode?: PMode;
  verified?: VerifyResult;
  payloads?: As4Attachment[];
}

/**
 * The steps after the MIME read, on a message as far as it has been read: envelope and header, payload references,
 * P-Mode, signature, decryption, then one pass over each payload (decrypted as read, its signed digest taken,
 * decompressed into the payload sink). Frees nothing: the caller decides what is kept (its payload sink's files are
 * removed with the message, also those of a run it does not take).
 */
async function processMessage(
  mime: MimeMessage,
  ctx: {
    options: ReceiveOptions;
    limits: As4Limits;
    sink: AttachmentSink;
    payloadSink: AttachmentSink;
    lease: ByteLease | undefined;
    /** Where the decryption's dispose goes, called with the message's. */
    plainDisposers: (() => Promise<void>)[];
  },
): Promise<Processed> {
  const { options, limits, sink } = ctx;
  const { envelope, messaging } = interpretMime(mime, limits);
  if (messaging.kind === 'signal') return { envelope, messaging };
  const userMessage = messaging.userMessage;
  const attachments = mime.attachments;
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
    checkPMode(userMessage, envelope, pmode);
    const verify =
      options.clock && !options.verify.clock ? { ...options.verify, clock: options.clock } : options.verify;
    const verified = await verifySignatureStep(envelope, attachments, pmode, verify);
    // One pass over each payload: decrypted as read (when the hook does so), its signed digest taken, decompressed
    // into the sink. The digests that cannot ride along (XML-typed parts, attachments that are not payloads) are
    // checked after, in passes of their own.
    const plain = await decryptStep(envelope, attachments, verified, pmode, options.decrypt, sink, false);
    if (plain.dispose) ctx.plainDisposers.push(plain.dispose);
    const deferred = verified.references.some((r) => r.target === 'attachment' && !r.digestVerified);
    const payloads = await decompressStep(
      userMessage,
      plain.attachments,
      ctx.payloadSink,
      limits,
      ctx.lease,
      {
        ...(deferred ? { digests: streamedAttachmentDigests(verified, plain.attachments) } : {}),
        ...(plain.decryptOnRead ? { copy: new Set(plain.decryptOnRead) } : {}),
      },
    );
    if (verified.references.some((r) => r.target === 'attachment' && !r.digestVerified)) {
      await verifyAttachmentReferences(verified, plain.attachments);
    }
    return { envelope, messaging, pmode, verified, payloads };
  } catch (err) {
    throw withMessageId(err, userMessage.messageInfo.messageId);
  }
}
