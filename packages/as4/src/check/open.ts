import { Readable } from 'node:stream';
import { asEhmiError, EhmiError } from '@ehmi/errors';
import { parseMessaging } from '../ebms/parse.ts';
import { NS } from '../lib/ns.ts';
import { type As4Limits, resolveLimits } from '../limits.ts';
import { readMimeMessage } from '../mime/parse.ts';
import { type AttachmentSink, tempFileSink } from '../mime/sink.ts';
import type { As4Attachment } from '../model/attachment.ts';
import type { Messaging } from '../model/messaging.ts';
import { checkPayloadReferences } from '../receive/check-payloads.ts';
import { type As4Envelope, parseEnvelope } from '../soap/envelope.ts';
import { type As4File, splitAs4File } from './file.ts';

export interface OpenAs4Options {
  limits?: Partial<As4Limits>;
  /** Where attachment bodies go; default temporary files, freed by `dispose()`. */
  sink?: AttachmentSink;
  /**
   * Accept a bare SOAP envelope whose UserMessage names `cid:` parts it does not carry: a message's SOAP part kept on
   * its own (non-repudiation evidence), listed in `notKept`. Default false: such a file fails as a received message
   * would (EBMS:0011, the payload is not there).
   */
  soapPartOnly?: boolean;
}

/** A saved AS4 message, read as the receive pipeline reads one (MIME, envelope checks, ebMS header). */
export interface OpenedAs4Message {
  file: As4File;
  envelope: As4Envelope;
  messaging: Messaging;
  /** The MIME parts as carried (still encrypted, still compressed). */
  attachments: As4Attachment[];
  /**
   * With `soapPartOnly`: the `cid:` parts the UserMessage names but the file does not carry (the file is a bare SOAP
   * envelope, a kept copy of a message's SOAP part). Empty for a complete message.
   */
  notKept: string[];
  sink: AttachmentSink;
  dispose(): Promise<void>;
}

const SOAP_NS = [NS.S12, NS.S11];

/**
 * True when the octets hold a SOAP envelope with an ebMS3 header, judged by the namespaces alone (so also when the
 * XML is broken): the line between "not an AS4 message" and "an AS4 message that fails".
 */
function looksLikeAs4(bytes: Buffer): boolean {
  return SOAP_NS.some((ns) => bytes.includes(ns)) && bytes.includes(NS.EB) && bytes.includes('Messaging');
}

/**
 * Reads a saved AS4 message (see {@link splitAs4File} for the forms accepted) the way the receive pipeline reads a
 * request: MIME parts, the SOAP envelope with its hardening checks, eb:Messaging, PayloadInfo against the parts.
 *
 * Two kinds of failure: when the file does not hold a SOAP envelope with an ebMS3 header at all, an
 * `EHMI_INPUT_UNREADABLE` error ("not an AS4 message"); once it does, the EhmiError of the check that failed, with its
 * ebMS code (EBMS:0007 for a MIME structure, EBMS:0009 for the header, …). An envelope that is no longer well-formed
 * XML although it carries a ds:Signature is EBMS:0101 FailedAuthentication: the signature covers eb:Messaging, the
 * Body and SignedInfo, so a signed part has been broken.
 *
 * @example
 * const msg = await openAs4Message(readFileSync('message.as4in'));
 * try { console.log(msg.messaging.kind); } finally { await msg.dispose(); }
 */
export async function openAs4Message(
  bytes: Uint8Array,
  options: OpenAs4Options = {},
): Promise<OpenedAs4Message> {
  const file = splitAs4File(bytes);
  const limits = resolveLimits(options.limits);
  const sink = options.sink ?? tempFileSink();
  try {
    let mime: Awaited<ReturnType<typeof readMimeMessage>>;
    try {
      mime = await readMimeMessage(Readable.from([file.body]), {
        contentType: file.contentType,
        limits,
        sink,
      });
    } catch (err) {
      if (looksLikeAs4(file.body)) throw err;
      throw new EhmiError('EHMI_INPUT_UNREADABLE', `not an AS4 message: ${asEhmiError(err).message}`, {
        cause: err,
        details: { reason: 'not-as4' },
      });
    }
    if (!looksLikeAs4(mime.envelope)) {
      throw new EhmiError(
        'EHMI_INPUT_UNREADABLE',
        'not an AS4 message: no SOAP envelope with an eb:Messaging header',
        {
          details: { reason: 'not-as4' },
        },
      );
    }
    let envelope: As4Envelope;
    try {
      envelope = parseEnvelope(mime.envelope, { maxBytes: limits.maxEnvelopeBytes });
    } catch (err) {
      const e = asEhmiError(err);
      if (e.code === 'EHMI_XML_MALFORMED' && mime.envelope.includes('http://www.w3.org/2000/09/xmldsig#')) {
        throw new EhmiError(
          'EHMI_AS4_FAILED_AUTHENTICATION',
          `a signed part no longer parses: ${e.message}`,
          {
            cause: err,
            details: { reason: 'malformed' },
          },
        );
      }
      throw err;
    }
    const messaging = parseMessaging(envelope.messaging);
    const notKept =
      messaging.kind === 'user' && options.soapPartOnly
        ? detachedParts(messaging, file, mime.attachments)
        : [];
    if (messaging.kind === 'user' && notKept.length === 0) {
      checkPayloadReferences(messaging.userMessage, mime.attachments, envelope.body);
    }
    return {
      file,
      envelope,
      messaging,
      attachments: mime.attachments,
      notKept,
      sink,
      dispose: () => sink.dispose(),
    };
  } catch (err) {
    await sink.dispose().catch(() => {});
    throw err;
  }
}

/**
 * The `cid:` payloads of a bare SOAP envelope (no MIME, no attachments at all): a message's SOAP part kept on its
 * own, whose attachments were not kept. A MIME message that lacks a part is not this: it fails as received.
 */
function detachedParts(
  messaging: Extract<Messaging, { kind: 'user' }>,
  file: As4File,
  attachments: readonly As4Attachment[],
): string[] {
  if (attachments.length > 0 || /^\s*multipart\//i.test(file.contentType)) return [];
  return messaging.userMessage.payloadInfo
    .map((p) => p.href)
    .filter((href): href is string => href?.startsWith('cid:') === true)
    .map((href) => href.slice(4));
}

/** The kind of message: a UserMessage, or the first signal's kind. */
export type As4MessageKind = 'UserMessage' | 'Receipt' | 'Error' | 'PullRequest' | 'SignalMessage';

export function kindOf(messaging: Messaging): As4MessageKind {
  if (messaging.kind === 'user') return 'UserMessage';
  const s = messaging.signalMessages[0];
  if (s?.receipt) return 'Receipt';
  if (s && s.errors.length > 0) return 'Error';
  if (s?.pullRequest) return 'PullRequest';
  return 'SignalMessage';
}

/** The MessageId of the UserMessage or of the first signal. */
export function messageIdOf(messaging: Messaging): string | undefined {
  return messaging.kind === 'user'
    ? messaging.userMessage.messageInfo.messageId
    : messaging.signalMessages[0]?.messageInfo.messageId;
}
