import { createHash, type X509Certificate } from 'node:crypto';
import { EhmiError } from '@ehmi/errors';
import { signatureMethodFor, signBytesAsync } from '@ehmi/xmldsig';
import { attrs, emptyElement, textElement } from '../lib/xml-text.ts';
import type { As4Attachment } from '../model/attachment.ts';
import type { MessagePartReference } from '../model/signal-message.ts';
import type { BuiltEnvelope } from '../soap/build.ts';
import { ALG, PROFILES } from './algorithms.ts';
import { digestAttachment } from './attachment-digest.ts';
import { type CertificateInput, toCertificate } from './certificates.ts';
import { newId } from './ids.ts';
import { NS, SWA } from './ns.ts';
import type { SignOptions } from './sign.ts';
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
  await addAttachmentReferences(references, attachments, options);
  return { securityXml: await signatureXml(references, options), references };
}

/** Appends a reference per attachment (`cid:`, the SwA signature transform, the streamed SHA-256). */
export async function addAttachmentReferences(
  references: MessagePartReference[],
  attachments: readonly As4Attachment[],
  options: SignOptions,
): Promise<void> {
  const transform =
    options.attachmentTransform === 'complete'
      ? SWA.completeSignatureTransform
      : SWA.contentSignatureTransform;
  for (const att of attachments) {
    const digest = await digestAttachment(att, transform, 'sha256');
    references.push({
      uri: `cid:${att.contentId}`,
      transforms: [{ algorithm: transform }],
      digestMethod: ALG.sha256,
      digestValue: digest.toString('base64'),
    });
  }
}

/**
 * The signature's wsse:Security content for references already digested, as text: SignedInfo written as
 * exclusive c14n writes it with ds:SignedInfo as the apex (its own xmlns:ds, end tags on empty elements), its bytes
 * signed; then the signer's BinarySecurityToken (when the KeyInfo refers to one) and ds:Signature. SignedInfo stands
 * so in the envelope (its declaration repeats ds:Signature's), so that its c14n in place is the text signed. The one
 * writer of our signatures: {@link signEnvelopeText} and the DOM signer (`signEnvelope`) both use it.
 */
export async function signatureXml(
  references: readonly MessagePartReference[],
  options: SignOptions,
): Promise<string> {
  const { chain, signer, method } = signerOf(options);
  let signedInfo =
    `<ds:SignedInfo xmlns:ds="${NS.ds}">` +
    emptyElement('ds:CanonicalizationMethod', { Algorithm: ALG.excC14n }) +
    emptyElement('ds:SignatureMethod', { Algorithm: method });
  for (const r of references) {
    signedInfo +=
      `<ds:Reference${attrs({ URI: r.uri })}><ds:Transforms>` +
      r.transforms.map((t) => emptyElement('ds:Transform', { Algorithm: t.algorithm })).join('') +
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
    `<ds:KeyInfo${attrs({ Id: newId('KI') })}>` +
    tokenReferenceXml(kind, signer, bst ? { id: bst.id, valueType } : undefined) +
    '</ds:KeyInfo>';
  const signature =
    `<ds:Signature xmlns:ds="${NS.ds}"${attrs({ Id: newId('SIG') })}>` +
    signedInfo +
    textElement('ds:SignatureValue', value.toString('base64')) +
    keyInfo +
    '</ds:Signature>';
  return (bst?.xml ?? '') + signature;
}

/** The signer's certificate chain and SignatureMethod, checked against the key and the profile. */
export function signerOf(options: SignOptions): {
  chain: X509Certificate[];
  signer: X509Certificate;
  method: string;
} {
  const chain = (Array.isArray(options.certificate) ? options.certificate : [options.certificate]).map((c) =>
    toCertificate(c as CertificateInput),
  );
  if (chain.length === 0) throw new EhmiError('EHMI_USAGE', 'signEnvelope needs the signer certificate');
  const signer = chain[0]!;
  if (!signer.checkPrivateKey(options.privateKey)) {
    throw new EhmiError('EHMI_USAGE', 'the private key does not belong to the signer certificate');
  }
  const method = signatureMethodFor(options.privateKey);
  if (options.profile && !PROFILES[options.profile].signature.includes(method)) {
    throw new EhmiError('EHMI_USAGE', `profile ${options.profile} does not sign with ${method}`);
  }
  return { chain, signer, method };
}
