import { constants, createCipheriv, publicEncrypt, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { EhmiError } from '@ehmi/errors';
import { childElement, childElements, type Document, type Element, parseXml } from '@ehmi/xml';
import { attrs, emptyElement, textElement } from '../lib/xml-text.ts';
import type { As4Attachment } from '../model/attachment.ts';
import { ALG, type SecurityProfile } from './algorithms.ts';
import { type CertificateInput, toCertificate } from './certificates.ts';
import { ensureSecurityHeader, envelopeParts } from './envelope.ts';
import { newId } from './ids.ts';
import { agreeKey, wrapKey } from './key-agreement.ts';
import { NS, SWA, TOKEN } from './ns.ts';
import {
  type BstValueType,
  binarySecurityTokenXml,
  type TokenReference,
  tokenReferenceXml,
} from './token.ts';

export interface EncryptOptions {
  /** The receiver's encryption certificate (from the P-Mode or SMP): RSA for 1.15; X25519 (or P-256) for 2.0. */
  recipientCertificate: CertificateInput;
  /** Default: `edelivery-1.15` for an RSA certificate, `edelivery-2.0` for an X25519 or P-256 one. */
  profile?: SecurityProfile;
  /** How the EncryptedKey names the recipient certificate. Default `BinarySecurityToken` (as phase4 and WSS4J do). */
  tokenReference?: TokenReference;
  bstValueType?: BstValueType;
}

export interface EncryptResult {
  /**
   * The attachments to send: same Content-IDs, bodies encrypted, Content-Type `application/octet-stream` (the type
   * before encryption is in EncryptedData/@MimeType), streamed lazily.
   */
  attachments: As4Attachment[];
  encryptedKey: Element;
}

export interface EncryptTextResult {
  /**
   * The wsse:Security content the encryption adds, in order: the recipient's BinarySecurityToken (when the
   * EncryptedKey refers to one), xenc:EncryptedKey, one xenc:EncryptedData per attachment. It goes before the
   * signature's blocks (sign, then encrypt: a receiver processing the header in order decrypts first).
   */
  securityXml: string;
  /** As {@link EncryptResult.attachments}. */
  attachments: As4Attachment[];
}

const GCM_IV_BYTES = 12;
const GCM_TAG_BYTES = 16;

/**
 * Encrypts the attachments (eDelivery AS4 1.15 §2.2.6.3: all and only payload parts; eb:Messaging and the SOAP
 * Body are never encrypted), after signing. Each part gets an xenc:EncryptedData of type
 * `Attachment-Content-Only` (SwA Profile 1.1 §5.4.2) with a CipherReference to its `cid:` and AES-128-GCM
 * (XML Encryption 1.1 §5.2.4: IV ‖ ciphertext ‖ 128-bit tag). One content-encryption key for the message is
 * transported in an xenc:EncryptedKey: RSA-OAEP with SHA-256 and MGF1-SHA256 (1.15), or X25519 key agreement
 * (ECDH-ES on P-256 for the EC enhancement), HKDF-SHA256 and AES-128 key wrap (2.0).
 *
 * Streaming: the returned attachments encrypt on every `open()` with the same key and IV, so the source's
 * `open()` must yield the same bytes each time (the As4Attachment contract); nothing is buffered whole.
 *
 * @example
 * await signEnvelope(doc, attachments, { privateKey, certificate });
 * const { attachments: sent } = await encryptAttachments(doc, attachments, { recipientCertificate: partnerPem });
 */
export async function encryptAttachments(
  doc: Document,
  attachments: readonly As4Attachment[],
  options: EncryptOptions,
): Promise<EncryptResult> {
  const encrypted = await encryptAttachmentsText(attachments, options);
  const parts = envelopeParts(doc);
  const security = ensureSecurityHeader(doc, parts);
  // The blocks go after a wsu:Timestamp, which stays first, and before everything else (the signature's).
  const ts = childElement(security, NS.wsu, 'Timestamp');
  const anchor = ts ? ts.nextSibling : security.firstChild;
  const fragment = parseXml(
    `<wsse:Security xmlns:wsse="${NS.wsse}" xmlns:wsu="${NS.wsu}">${encrypted.securityXml}</wsse:Security>`,
    { source: 'encryption header blocks' },
  ).documentElement!;
  let encryptedKey: Element | undefined;
  for (const block of childElements(fragment)) {
    const imported = doc.importNode(block, true) as Element;
    security.insertBefore(imported, anchor);
    if (block.localName === 'EncryptedKey') encryptedKey = imported;
  }
  return { attachments: encrypted.attachments, encryptedKey: encryptedKey! };
}

/**
 * {@link encryptAttachments} as text, for an envelope we write ourselves (`envelopeXml`): the same blocks, the same
 * encrypted attachments, without a DOM.
 *
 * @example
 * const signed = await signEnvelopeText(built, attachments, signOptions);
 * const encrypted = await encryptAttachmentsText(attachments, { recipientCertificate });
 * writeAs4Message(envelopeXml(built, encrypted.securityXml + signed.securityXml), encrypted.attachments);
 */
export async function encryptAttachmentsText(
  attachments: readonly As4Attachment[],
  options: EncryptOptions,
): Promise<EncryptTextResult> {
  const recipient = toCertificate(options.recipientCertificate);
  const keyType = recipient.publicKey.asymmetricKeyType;
  const profile = options.profile ?? (keyType === 'rsa' ? 'edelivery-1.15' : 'edelivery-2.0');
  // 1.15: RSA key transport; 2.0: X25519 (Common Usage) or P-256 ECDH-ES (alternative EC enhancement).
  const fits = profile === 'edelivery-1.15' ? keyType === 'rsa' : keyType === 'x25519' || keyType === 'ec';
  if (!fits)
    throw new EhmiError('EHMI_USAGE', `profile ${profile} cannot encrypt to a ${keyType} certificate`);
  if (attachments.length === 0) throw new EhmiError('EHMI_USAGE', 'there are no attachments to encrypt');

  const cek = randomBytes(16);
  const kind = options.tokenReference ?? 'BinarySecurityToken';
  const valueType = options.bstValueType ?? 'X509v3';
  const bst = kind === 'BinarySecurityToken' ? binarySecurityTokenXml([recipient], valueType) : undefined;
  const tokenReference = tokenReferenceXml(kind, recipient, bst ? { id: bst.id, valueType } : undefined);
  const ekId = newId('EK');
  let method: string;
  let keyInfo: string;
  let wrapped: Buffer;
  if (profile === 'edelivery-1.15') {
    method =
      `<xenc:EncryptionMethod${attrs({ Algorithm: ALG.rsaOaep })}>` +
      `<ds:DigestMethod xmlns:ds="${NS.ds}"${attrs({ Algorithm: ALG.sha256 })}></ds:DigestMethod>` +
      `<xenc11:MGF xmlns:xenc11="${NS.xenc11}"${attrs({ Algorithm: ALG.mgf1sha256 })}></xenc11:MGF>` +
      '</xenc:EncryptionMethod>';
    keyInfo = tokenReference;
    // Node's OAEP uses oaepHash for both the label digest and MGF1: SHA-256 and MGF1-SHA256 as 1.15 requires.
    wrapped = publicEncrypt(
      { key: recipient.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      cek,
    );
  } else {
    method = emptyElement('xenc:EncryptionMethod', { Algorithm: ALG.kwAes128 });
    const { kek, xml } = agreeKey(recipient.publicKey, tokenReference);
    keyInfo = xml;
    wrapped = wrapKey(kek, cek);
  }

  const out: As4Attachment[] = [];
  const dataReferences: string[] = [];
  const encryptedData: string[] = [];
  for (const att of attachments) {
    const edId = newId('ED');
    dataReferences.push(emptyElement('xenc:DataReference', { URI: `#${edId}` }));
    encryptedData.push(
      `<xenc:EncryptedData xmlns:xenc="${NS.xenc}"${attrs({
        Id: edId,
        // The part's type before encryption (XML Encryption 1.1 §3.1; `application/gzip` for a compressed part,
        // as phase4 and AS4.NET write it). WSS4J gives the decrypted part this Content-Type, and the SwA content
        // transform canonicalises by it (XML and text types only), so it must be the type the signature digested.
        MimeType: att.headers['content-type'] ?? 'application/octet-stream',
        Type: SWA.contentOnly,
      })}>` +
        emptyElement('xenc:EncryptionMethod', { Algorithm: ALG.aes128Gcm }) +
        `<ds:KeyInfo xmlns:ds="${NS.ds}">` +
        `<wsse:SecurityTokenReference xmlns:wsse11="${NS.wsse11}"${attrs({ 'wsse11:TokenType': TOKEN.encryptedKey })}>` +
        emptyElement('wsse:Reference', { URI: `#${ekId}` }) +
        '</wsse:SecurityTokenReference></ds:KeyInfo>' +
        `<xenc:CipherData><xenc:CipherReference${attrs({ URI: `cid:${att.contentId}` })}><xenc:Transforms>` +
        `<ds:Transform xmlns:ds="${NS.ds}"${attrs({ Algorithm: SWA.ciphertextTransform })}></ds:Transform>` +
        '</xenc:Transforms></xenc:CipherReference></xenc:CipherData></xenc:EncryptedData>',
    );
    const iv = randomBytes(GCM_IV_BYTES);
    const source = att;
    const encrypted: As4Attachment = {
      contentId: att.contentId,
      headers: { ...att.headers, 'content-type': 'application/octet-stream' },
      open: () => Readable.from(encryptStream(source, cek, iv)),
    };
    if (att.size !== undefined) encrypted.size = att.size + GCM_IV_BYTES + GCM_TAG_BYTES;
    out.push(encrypted);
  }
  const encryptedKey =
    `<xenc:EncryptedKey xmlns:xenc="${NS.xenc}"${attrs({ Id: ekId })}>` +
    method +
    `<ds:KeyInfo xmlns:ds="${NS.ds}">${keyInfo}</ds:KeyInfo>` +
    `<xenc:CipherData>${textElement('xenc:CipherValue', wrapped.toString('base64'))}</xenc:CipherData>` +
    `<xenc:ReferenceList>${dataReferences.join('')}</xenc:ReferenceList>` +
    '</xenc:EncryptedKey>';
  return { securityXml: (bst?.xml ?? '') + encryptedKey + encryptedData.join(''), attachments: out };
}

async function* encryptStream(source: As4Attachment, key: Buffer, iv: Buffer): AsyncGenerator<Buffer> {
  const cipher = createCipheriv('aes-128-gcm', key, iv);
  yield iv;
  for await (const chunk of source.open()) {
    const out = cipher.update(chunk as Buffer);
    if (out.length > 0) yield out;
  }
  const last = cipher.final();
  if (last.length > 0) yield last;
  yield cipher.getAuthTag();
}
