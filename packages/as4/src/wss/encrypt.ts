import { constants, createCipheriv, publicEncrypt, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { EhmiError } from '@ehmi/errors';
import { childElement, type Document, type Element } from '@ehmi/xml';
import type { As4Attachment } from '../model/attachment.ts';
import { ALG, type SecurityProfile } from './algorithms.ts';
import { type CertificateInput, toCertificate } from './certificates.ts';
import { append, ensureSecurityHeader, envelopeParts } from './envelope.ts';
import { newId } from './ids.ts';
import { agreeKey, wrapKey } from './key-agreement.ts';
import { NS, SWA, TOKEN } from './ns.ts';
import {
  appendBinarySecurityToken,
  appendTokenReference,
  type BstValueType,
  type TokenReference,
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
  const recipient = toCertificate(options.recipientCertificate);
  const keyType = recipient.publicKey.asymmetricKeyType;
  const profile = options.profile ?? (keyType === 'rsa' ? 'edelivery-1.15' : 'edelivery-2.0');
  // 1.15: RSA key transport; 2.0: X25519 (Common Usage) or P-256 ECDH-ES (alternative EC enhancement).
  const fits = profile === 'edelivery-1.15' ? keyType === 'rsa' : keyType === 'x25519' || keyType === 'ec';
  if (!fits)
    throw new EhmiError('EHMI_USAGE', `profile ${profile} cannot encrypt to a ${keyType} certificate`);
  if (attachments.length === 0) throw new EhmiError('EHMI_USAGE', 'there are no attachments to encrypt');
  const parts = envelopeParts(doc);
  const security = ensureSecurityHeader(doc, parts);
  // Sign, then encrypt (WSS 1.1.1 §9, AS4 1.15 §2.2.6): the encryption blocks precede the signature so a receiver
  // processing the header in order decrypts first. They go after a wsu:Timestamp, which stays first.
  const ts = childElement(security, NS.wsu, 'Timestamp');
  const anchor = ts ? ts.nextSibling : security.firstChild;
  const insert = (el: Element) => security.insertBefore(el, anchor);

  const cek = randomBytes(16);
  const kind = options.tokenReference ?? 'BinarySecurityToken';
  const valueType = options.bstValueType ?? 'X509v3';
  const bst =
    kind === 'BinarySecurityToken'
      ? appendBinarySecurityToken(security, [recipient], valueType, anchor as Element | null)
      : undefined;

  const ek = doc.createElementNS(NS.xenc, 'xenc:EncryptedKey');
  ek.setAttributeNS(NS.xmlns, 'xmlns:xenc', NS.xenc);
  const ekId = newId('EK');
  ek.setAttribute('Id', ekId);
  const method = append(ek, NS.xenc, 'xenc:EncryptionMethod');
  const keyInfo = doc.createElementNS(NS.ds, 'ds:KeyInfo');
  keyInfo.setAttributeNS(NS.xmlns, 'xmlns:ds', NS.ds);
  let wrapped: Buffer;
  if (profile === 'edelivery-1.15') {
    method.setAttribute('Algorithm', ALG.rsaOaep);
    const dm = append(method, NS.ds, 'ds:DigestMethod');
    dm.setAttributeNS(NS.xmlns, 'xmlns:ds', NS.ds);
    dm.setAttribute('Algorithm', ALG.sha256);
    const mgf = append(method, NS.xenc11, 'xenc11:MGF');
    mgf.setAttributeNS(NS.xmlns, 'xmlns:xenc11', NS.xenc11);
    mgf.setAttribute('Algorithm', ALG.mgf1sha256);
    ek.appendChild(keyInfo);
    appendTokenReference(keyInfo, kind, recipient, bst ? { id: bst.id, valueType } : undefined);
    // Node's OAEP uses oaepHash for both the label digest and MGF1: SHA-256 and MGF1-SHA256 as 1.15 requires.
    wrapped = publicEncrypt(
      { key: recipient.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      cek,
    );
  } else {
    method.setAttribute('Algorithm', ALG.kwAes128);
    ek.appendChild(keyInfo);
    const { kek, agreement } = agreeKey(keyInfo, recipient.publicKey);
    const rki = append(agreement, NS.xenc, 'xenc:RecipientKeyInfo');
    appendTokenReference(rki, kind, recipient, bst ? { id: bst.id, valueType } : undefined);
    wrapped = wrapKey(kek, cek);
  }
  const cipherData = append(ek, NS.xenc, 'xenc:CipherData');
  append(cipherData, NS.xenc, 'xenc:CipherValue', wrapped.toString('base64'));
  const refList = append(ek, NS.xenc, 'xenc:ReferenceList');
  insert(ek);

  const out: As4Attachment[] = [];
  for (const att of attachments) {
    const edId = newId('ED');
    append(refList, NS.xenc, 'xenc:DataReference').setAttribute('URI', `#${edId}`);
    const ed = doc.createElementNS(NS.xenc, 'xenc:EncryptedData');
    ed.setAttributeNS(NS.xmlns, 'xmlns:xenc', NS.xenc);
    ed.setAttribute('Id', edId);
    // The part's type before encryption (XML Encryption 1.1 §3.1; `application/gzip` for a compressed part, as
    // phase4 and AS4.NET write it). WSS4J gives the decrypted part this Content-Type, and the SwA content transform
    // canonicalises by it (XML and text types only), so it must be the type the signature digested.
    ed.setAttribute('MimeType', att.headers['content-type'] ?? 'application/octet-stream');
    ed.setAttribute('Type', SWA.contentOnly);
    append(ed, NS.xenc, 'xenc:EncryptionMethod').setAttribute('Algorithm', ALG.aes128Gcm);
    const ki = append(ed, NS.ds, 'ds:KeyInfo');
    ki.setAttributeNS(NS.xmlns, 'xmlns:ds', NS.ds);
    const str = append(ki, NS.wsse, 'wsse:SecurityTokenReference');
    str.setAttributeNS(NS.xmlns, 'xmlns:wsse11', NS.wsse11);
    str.setAttributeNS(NS.wsse11, 'wsse11:TokenType', TOKEN.encryptedKey);
    append(str, NS.wsse, 'wsse:Reference').setAttribute('URI', `#${ekId}`);
    const cd = append(ed, NS.xenc, 'xenc:CipherData');
    const cr = append(cd, NS.xenc, 'xenc:CipherReference');
    cr.setAttribute('URI', `cid:${att.contentId}`);
    const tr = append(cr, NS.xenc, 'xenc:Transforms');
    const t = append(tr, NS.ds, 'ds:Transform');
    t.setAttributeNS(NS.xmlns, 'xmlns:ds', NS.ds);
    t.setAttribute('Algorithm', SWA.ciphertextTransform);
    insert(ed);

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
  return { attachments: out, encryptedKey: ek };
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
