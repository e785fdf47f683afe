import { createHash } from 'node:crypto';
import { signBytesAsync } from '@ehmi/xmldsig';
import { attrs, emptyElement, textElement } from '../lib/xml-text.ts';
import type { As4Attachment } from '../model/attachment.ts';
import type { MessagePartReference } from '../model/signal-message.ts';
import type { BuiltEnvelope } from '../soap/build.ts';
import { ALG } from './algorithms.ts';
import { digestAttachment } from './attachment-digest.ts';
import { newId } from './ids.ts';
import { NS, SWA } from './ns.ts';
import { type SignOptions, signerOf } from './sign.ts';
import { binarySecurityTokenXml, tokenReferenceXml } from './token.ts';

export interface SignTextResult {
  /**
   * The wsse:Security content the signature adds: the signer's BinarySecurityToken (when the KeyInfo refers to
   * one) and ds:Signature. Encryption blocks, when any, go before it (`encryptAttachmentsText`).
   */
  securityXml: string;
  /** The references signed, as a receipt or a later NRR comparison needs them. */
  references: MessagePartReference[];
}

/**
 * {@link signEnvelope} for an envelope we wrote ourselves ({@link BuiltEnvelope}), on its text: the same
 * signature (references to eb:Messaging and the Body with exclusive c14n, each attachment by `cid:` with the SwA
 * transform, SHA-256 digests; the same KeyInfo), without a DOM. eb:Messaging and the Body are written in their
 * canonical form, so their digests are taken on the text as written; SignedInfo is written canonical too and its
 * text is what is signed. The result verifies with `verifyEnvelope` like one of the DOM signer; tests hold that
 * every fragment equals the exclusive c14n of its parsed form. A Timestamp is not written (the DOM signer signs
 * one that `addTimestamp` put in a document).
 *
 * @example
 * const built = buildUserMessage(input, pmode);
 * const signed = await signEnvelopeText(built, [attachment], { privateKey, certificate: chain });
 * const xml = envelopeXml(built, signed.securityXml);
 */
export async function signEnvelopeText(
  built: Pick<BuiltEnvelope, 'messagingId' | 'messagingXml' | 'bodyId' | 'bodyXml'>,
  attachments: readonly As4Attachment[],
  options: SignOptions,
): Promise<SignTextResult> {
  const { chain, signer, method } = signerOf(options);
  const references: MessagePartReference[] = [];
  const add = (uri: string, transform: string, digest: Buffer): void => {
    references.push({
      uri,
      transforms: [{ algorithm: transform }],
      digestMethod: ALG.sha256,
      digestValue: digest.toString('base64'),
    });
  };
  const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest();
  add(`#${built.messagingId}`, ALG.excC14n, sha256(built.messagingXml));
  add(`#${built.bodyId}`, ALG.excC14n, sha256(built.bodyXml));
  const transform =
    options.attachmentTransform === 'complete'
      ? SWA.completeSignatureTransform
      : SWA.contentSignatureTransform;
  for (const att of attachments) {
    add(`cid:${att.contentId}`, transform, await digestAttachment(att, transform, 'sha256'));
  }

  // SignedInfo as exclusive c14n writes it with ds:SignedInfo as the apex: its own xmlns:ds, empty elements with
  // end tags. It stands so in the envelope (the declaration repeats ds:Signature's), and its text is signed.
  let signedInfo =
    `<ds:SignedInfo xmlns:ds="${NS.ds}">` +
    emptyElement('ds:CanonicalizationMethod', { Algorithm: ALG.excC14n }) +
    emptyElement('ds:SignatureMethod', { Algorithm: method });
  for (const r of references) {
    signedInfo +=
      `<ds:Reference${attrs({ URI: r.uri })}><ds:Transforms>` +
      emptyElement('ds:Transform', { Algorithm: r.transforms[0]!.algorithm }) +
      '</ds:Transforms>' +
      emptyElement('ds:DigestMethod', { Algorithm: r.digestMethod }) +
      textElement('ds:DigestValue', r.digestValue) +
      '</ds:Reference>';
  }
  signedInfo += '</ds:SignedInfo>';
  const value = await signBytesAsync(method, options.privateKey, Buffer.from(signedInfo, 'utf8'));

  const valueType = options.bstValueType ?? 'X509v3';
  const kind = options.tokenReference ?? 'BinarySecurityToken';
  const bst = kind === 'BinarySecurityToken' ? binarySecurityTokenXml(chain, valueType) : undefined;
  const keyInfo =
    `<ds:KeyInfo Id="${newId('KI')}">` +
    tokenReferenceXml(kind, signer, bst ? { id: bst.id, valueType } : undefined) +
    '</ds:KeyInfo>';
  const signature =
    `<ds:Signature xmlns:ds="${NS.ds}" Id="${newId('SIG')}">` +
    signedInfo +
    textElement('ds:SignatureValue', value.toString('base64')) +
    keyInfo +
    '</ds:Signature>';
  return { securityXml: (bst?.xml ?? '') + signature, references };
}
