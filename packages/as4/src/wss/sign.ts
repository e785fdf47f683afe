import type { KeyObject } from 'node:crypto';
import { EhmiError } from '@ehmi/errors';
import { childElement, childElements, type Document, type Element, parseXml } from '@ehmi/xml';
import { digestElement } from '@ehmi/xmldsig';
import type { As4Attachment } from '../model/attachment.ts';
import type { MessagePartReference } from '../model/signal-message.ts';
import { ALG, type SecurityProfile } from './algorithms.ts';
import type { CertificateInput } from './certificates.ts';
import { ensureSecurityHeader, envelopeParts } from './envelope.ts';
import { ensureWsuId } from './ids.ts';
import { NS } from './ns.ts';
import { parseReference, type SignatureReference } from './references.ts';
import { addAttachmentReferences, signatureXml, signerOf } from './sign-text.ts';
import type { BstValueType, TokenReference } from './token.ts';

export interface SignOptions {
  /** The signing key (RSA for eDelivery AS4 1.15; Ed25519 or EC P-256 for 2.0). */
  privateKey: KeyObject;
  /** The signer's certificate, or its chain with the signer first (the chain is used for X509PKIPathv1). */
  certificate: CertificateInput | readonly CertificateInput[];
  /** How KeyInfo points at the certificate. Default `BinarySecurityToken` (eDelivery AS4 1.15 §2.2.6.2.1 SHOULD). */
  tokenReference?: TokenReference;
  /** ValueType of the BinarySecurityToken. Default `X509v3`; Dynamic Receiver (1.15 §1.5.3) prefers `X509PKIPathv1`. */
  bstValueType?: BstValueType;
  /** Checks the key against a profile; default: whatever the key type implies. */
  profile?: SecurityProfile;
  /** SwA Profile 1.1 §5.3 transform for `cid:` references. Default `content` (Attachment-Content-Signature-Transform). */
  attachmentTransform?: 'content' | 'complete';
}

export interface SignResult {
  signature: Element;
  /** The references signed, as a receipt or a later NRR comparison needs them. */
  references: SignatureReference[];
}

/**
 * Signs an AS4 envelope (WSS 1.1.1 SOAP Message Security §8, eDelivery AS4 1.15 §2.2.6.2): references to
 * eb:Messaging, the SOAP Body, a wsu:Timestamp when present, and each attachment by `cid:` with the SwA
 * Attachment-Content-Signature-Transform; exclusive c14n; SHA-256 digests. Attachment bodies are digested as
 * streams. The document is changed in place (wsu:Id on eb:Messaging and Body, a wsse:Security header with the token
 * and ds:Signature). Sign before encrypting (AS4 1.15 §2.2.6: sign, then encrypt). Also signs receipts (refs to
 * eb:Messaging and Body when there are no attachments).
 *
 * @example
 * const doc = parseXml(envelopeXml);
 * const { references } = await signEnvelope(doc, attachments, {
 *   privateKey: createPrivateKey(keyPem),
 *   certificate: certPem,
 *   tokenReference: 'BinarySecurityToken',
 * });
 * const signedXml = serializeXml(doc);
 */
export async function signEnvelope(
  doc: Document,
  attachments: readonly As4Attachment[],
  options: SignOptions,
): Promise<SignResult> {
  signerOf(options); // the key, certificate and profile are checked before the document is changed
  const parts = envelopeParts(doc);
  const security = ensureSecurityHeader(doc, parts);
  if (childElement(security, NS.ds, 'Signature')) {
    throw new EhmiError('EHMI_USAGE', 'the envelope is already signed');
  }
  const refs: MessagePartReference[] = [];
  const addElementRef = (el: Element, idPrefix: string): void => {
    const id = ensureWsuId(el, idPrefix);
    refs.push({
      uri: `#${id}`,
      transforms: [{ algorithm: ALG.excC14n }],
      digestMethod: ALG.sha256,
      digestValue: digestElement(el, { digestMethod: ALG.sha256 }).toString('base64'),
    });
  };
  if (parts.messaging) addElementRef(parts.messaging, 'msg');
  addElementRef(parts.body, 'id');
  const timestamp = childElement(security, NS.wsu, 'Timestamp');
  if (timestamp) addElementRef(timestamp, 'TS');
  await addAttachmentReferences(refs, attachments, options);

  // The token and the signature are written by the one signature writer and appended last (a receiver processes
  // the header in order: encryption blocks, added later, go before them).
  const blocks = parseXml(
    `<wsse:Security xmlns:wsse="${NS.wsse}" xmlns:wsu="${NS.wsu}">${await signatureXml(refs, options)}</wsse:Security>`,
    { source: 'signature header blocks' },
  ).documentElement!;
  let signature: Element | undefined;
  for (const block of childElements(blocks)) {
    const imported = doc.importNode(block, true) as Element;
    security.appendChild(imported);
    if (block.localName === 'Signature') signature = imported;
  }
  const signedInfo = childElement(signature!, NS.ds, 'SignedInfo')!;
  const references = childElements(signedInfo, NS.ds, 'Reference').map(parseReference);
  return { signature: signature!, references };
}
