import { EhmiError } from '@ehmi/errors';
import { childElements, type Element } from '@ehmi/xml';
import type { As4Attachment } from '../model/attachment.ts';
import { contentIdOfHref, type UserMessage } from '../model/user-message.ts';
import { attachmentFor } from '../wss/verify.ts';

/**
 * Receive step: the PayloadInfo and the MIME parts must agree (ebMS3 Core §5.2.2.13; SwA):
 * - a `cid:` PartInfo whose MIME part is absent → EBMS:0011 ExternalPayloadError (the payload cannot be resolved);
 * - an href that is neither `cid:` nor a same-document `#id` (an external payload) → EBMS:0011, since AS4
 *   eDelivery forbids external payloads (eDelivery AS4 1.15 §2.2.3.1);
 * - two PartInfo pointing at the same part → EBMS:0009 InvalidHeader;
 * - a MIME part that no PartInfo references → EBMS:0007 MimeInconsistency (it would escape every later check);
 * - a Body payload (no href or `#id`) whose Body is empty → EBMS:0009.
 * Whether each part is signed is the signature step's business (wss `verifyAttachmentReferences`: EBMS:0103).
 *
 * @example
 * checkPayloadReferences(userMessage, attachments, env.body);
 */
export function checkPayloadReferences(
  um: UserMessage,
  attachments: readonly As4Attachment[],
  body: Element,
): void {
  const byId = new Map(attachments.map((a) => [a.contentId, a]));
  const referenced = new Set<string>();
  let bodyPayloads = 0;
  for (const part of um.payloadInfo) {
    const href = part.href;
    if (href === undefined || href.startsWith('#')) {
      bodyPayloads++;
      continue;
    }
    const cid = contentIdOfHref(href);
    if (cid === undefined) {
      throw new EhmiError(
        'EHMI_AS4_EXTERNAL_PAYLOAD',
        `PartInfo href ${href} is an external payload, which is not supported`,
        {
          details: { href },
        },
      );
    }
    // As written, then URL-decoded (RFC 2392): the same lookup as the signature and decryption references.
    const attachment = attachmentFor(byId, href);
    if (!attachment) {
      throw new EhmiError(
        'EHMI_AS4_EXTERNAL_PAYLOAD',
        `PartInfo ${href} references a MIME part that is not in the message`,
        {
          details: { href },
        },
      );
    }
    if (referenced.has(attachment.contentId)) {
      throw new EhmiError('EHMI_AS4_INVALID_HEADER', `two PartInfo elements reference ${href}`, {
        details: { href },
      });
    }
    referenced.add(attachment.contentId);
  }
  for (const a of attachments) {
    if (!referenced.has(a.contentId)) {
      throw new EhmiError(
        'EHMI_AS4_MIME_INCONSISTENCY',
        `MIME part <${a.contentId}> is not referenced by any PartInfo`,
        {
          details: { contentId: a.contentId },
        },
      );
    }
  }
  if (bodyPayloads > 0 && childElements(body).length === 0) {
    throw new EhmiError('EHMI_AS4_INVALID_HEADER', 'a PartInfo refers to the SOAP Body, which is empty');
  }
}
