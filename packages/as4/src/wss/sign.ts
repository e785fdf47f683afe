import type { KeyObject, X509Certificate } from 'node:crypto';
import { EhmiError } from '@ehmi/errors';
import { childElement, type Document, type Element } from '@ehmi/xml';
import { digestElement, signatureMethodFor, signSignedInfoAsync } from '@ehmi/xmldsig';
import type { As4Attachment } from '../model/attachment.ts';
import { ALG, PROFILES, type SecurityProfile } from './algorithms.ts';
import { digestAttachment } from './attachment-digest.ts';
import { type CertificateInput, toCertificate } from './certificates.ts';
import { append, ensureSecurityHeader, envelopeParts } from './envelope.ts';
import { ensureWsuId, newId } from './ids.ts';
import { NS, SWA } from './ns.ts';
import { parseReference, type SignatureReference } from './references.ts';
import {
  appendBinarySecurityToken,
  appendTokenReference,
  type BstValueType,
  type TokenReference,
} from './token.ts';

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
  const { chain, signer, method } = signerOf(options);
  const parts = envelopeParts(doc);
  const security = ensureSecurityHeader(doc, parts);
  if (childElement(security, NS.ds, 'Signature')) {
    throw new EhmiError('EHMI_USAGE', 'the envelope is already signed');
  }

  const sig = doc.createElementNS(NS.ds, 'ds:Signature');
  sig.setAttributeNS(NS.xmlns, 'xmlns:ds', NS.ds);
  sig.setAttribute('Id', newId('SIG'));
  const signedInfo = append(sig, NS.ds, 'ds:SignedInfo');
  const c14n = append(signedInfo, NS.ds, 'ds:CanonicalizationMethod');
  c14n.setAttribute('Algorithm', ALG.excC14n);
  append(signedInfo, NS.ds, 'ds:SignatureMethod').setAttribute('Algorithm', method);

  const addRef = (uri: string, transform: string, digest: Buffer): void => {
    const ref = append(signedInfo, NS.ds, 'ds:Reference');
    ref.setAttribute('URI', uri);
    const transforms = append(ref, NS.ds, 'ds:Transforms');
    append(transforms, NS.ds, 'ds:Transform').setAttribute('Algorithm', transform);
    append(ref, NS.ds, 'ds:DigestMethod').setAttribute('Algorithm', ALG.sha256);
    append(ref, NS.ds, 'ds:DigestValue', digest.toString('base64'));
  };
  const addElementRef = (el: Element, idPrefix: string): void => {
    const id = ensureWsuId(el, idPrefix);
    addRef(`#${id}`, ALG.excC14n, digestElement(el, { digestMethod: ALG.sha256 }));
  };

  if (parts.messaging) addElementRef(parts.messaging, 'msg');
  addElementRef(parts.body, 'id');
  const timestamp = childElement(security, NS.wsu, 'Timestamp');
  if (timestamp) addElementRef(timestamp, 'TS');
  const transform =
    options.attachmentTransform === 'complete'
      ? SWA.completeSignatureTransform
      : SWA.contentSignatureTransform;
  for (const att of attachments) {
    addRef(`cid:${att.contentId}`, transform, await digestAttachment(att, transform, 'sha256'));
  }

  // The token goes before the signature; the signature is appended last so the SignedInfo is canonicalised in
  // its final place (exclusive c14n still sees the in-scope namespaces of its ancestors).
  const valueType = options.bstValueType ?? 'X509v3';
  const kind = options.tokenReference ?? 'BinarySecurityToken';
  const bst =
    kind === 'BinarySecurityToken' ? appendBinarySecurityToken(security, chain, valueType) : undefined;
  security.appendChild(sig);
  append(sig, NS.ds, 'ds:SignatureValue', await signSignedInfoAsync(signedInfo, method, options.privateKey));
  const keyInfo = append(sig, NS.ds, 'ds:KeyInfo');
  keyInfo.setAttribute('Id', newId('KI'));
  appendTokenReference(keyInfo, kind, signer, bst ? { id: bst.id, valueType } : undefined);

  const references: SignatureReference[] = [];
  for (let n = signedInfo.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1 && (n as Element).localName === 'Reference')
      references.push(parseReference(n as Element));
  }
  return { signature: sig, references };
}
