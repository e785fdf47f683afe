import {
  constants,
  createDecipheriv,
  type DecipherGCM,
  type KeyObject,
  privateDecrypt,
  randomBytes,
} from 'node:crypto';
import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { EhmiError } from '@ehmi/errors';
import { childElement, childElements, type Document, type Element } from '@ehmi/xml';
import { type AttachmentSink, tempFileSink } from '../mime/sink.ts';
import type { As4Attachment } from '../model/attachment.ts';
import { ALG, type AlgorithmPolicy, PROFILES, type SecurityProfile } from './algorithms.ts';
import { type CertificateInput, toCertificate } from './certificates.ts';
import { envelopeParts, findSecurityHeader } from './envelope.ts';
import { buildIdMap } from './ids.ts';
import { deriveKek, unwrapKey } from './key-agreement.ts';
import { NS, SWA } from './ns.ts';
import { resolveKeyInfo } from './token.ts';
import { attachmentFor } from './verify.ts';

export interface DecryptOptions {
  /** Our decryption key: RSA (1.15) or X25519 (2.0). */
  privateKey: KeyObject;
  /** Our certificate; when given, each EncryptedKey must name it (BST, SKI or IssuerSerial). */
  certificate?: CertificateInput;
  /** Algorithm policy. Default: both profiles' data and key-transport algorithms. */
  profile?: SecurityProfile | AlgorithmPolicy;
  /** Where plaintext goes; default a {@link tempFileSink}. The result's `dispose()` disposes it. */
  sink?: AttachmentSink;
  /** Every attachment must be encrypted (P-Mode `Security.X509.Encryption`); otherwise EBMS:0103. Default false. */
  requireEncryption?: boolean;
}

export interface DecryptResult {
  /** The attachments with plaintext bodies (same order; unencrypted ones passed through), MIME type restored. */
  attachments: As4Attachment[];
  /** The Content-IDs that were decrypted. */
  decrypted: string[];
  /** Frees the plaintext copies (temporary files). */
  dispose(): Promise<void>;
}

const failed = (message: string, details: Record<string, unknown> = {}, cause?: unknown) =>
  new EhmiError(
    'EHMI_AS4_FAILED_DECRYPTION',
    message,
    cause === undefined ? { details } : { details, cause },
  );

/**
 * Decrypts the attachments an AS4 message carries encrypted (XML Encryption 1.1 §4.4, SwA Profile 1.1 §5.4.2
 * `Attachment-Content-Only` with CipherReference; eDelivery AS4 1.15 / 2.0 algorithms). Streams each part: the
 * AES-GCM tag is the last 16 octets, so the decryptor holds back 16 octets while writing plaintext to the sink
 * and checks the tag at the end. Plaintext is handed over only when every tag has verified: on any failure the
 * whole result is discarded (our temporary sink is disposed) and EBMS:0102 FailedDecryption is thrown, so no
 * caller can commit unauthenticated plaintext. A caller-supplied sink must likewise be disposed on error.
 *
 * Decrypt before checking the `cid:` digests of the signature (they are over the plaintext): either decrypt then
 * {@link verifyEnvelope}, or verify with `deferAttachmentDigests` and call {@link verifyAttachmentReferences} after.
 *
 * @example
 * const { attachments: plain, dispose } = await decryptAttachments(doc, received, { privateKey });
 * try { await verifyEnvelope(doc, plain, { trust }); … } finally { await dispose(); }
 */
export async function decryptAttachments(
  doc: Document,
  attachments: readonly As4Attachment[],
  options: DecryptOptions,
): Promise<DecryptResult> {
  const policy: AlgorithmPolicy =
    typeof options.profile === 'object'
      ? options.profile
      : options.profile
        ? PROFILES[options.profile]
        : {
            signature: [],
            digest: [],
            dataEncryption: [ALG.aes128Gcm],
            keyTransport: [
              ...PROFILES['edelivery-1.15'].keyTransport,
              ...PROFILES['edelivery-2.0'].keyTransport,
            ],
          };
  const parts = envelopeParts(doc);
  const security = findSecurityHeader(parts);
  const encryptedData = security ? childElements(security, NS.xenc, 'EncryptedData') : [];
  const byId = new Map(attachments.map((a) => [a.contentId, a] as const));
  if (encryptedData.length === 0) {
    if (options.requireEncryption && attachments.length > 0) {
      throw new EhmiError('EHMI_AS4_POLICY_NONCOMPLIANCE', 'the attachments are not encrypted', {
        details: { reason: 'unencrypted' },
      });
    }
    return { attachments: [...attachments], decrypted: [], dispose: async () => {} };
  }
  const idMap = buildIdMap(doc);
  const ours = options.certificate ? toCertificate(options.certificate) : undefined;
  const keys = new Map<Element, Buffer>();
  const keyFor = (ek: Element): Buffer => {
    let cek = keys.get(ek);
    if (!cek) {
      cek = unwrapContentKey(ek, options.privateKey, policy, { idMap, security: security!, ours });
      keys.set(ek, cek);
    }
    return cek;
  };

  const ownSink = !options.sink;
  const sink = options.sink ?? tempFileSink();
  const replaced = new Map<string, As4Attachment>();
  try {
    let index = 0;
    for (const ed of encryptedData) {
      index++;
      const { attachment, key } = describe(ed, byId, idMap, security!, keyFor, policy);
      if (replaced.has(attachment.contentId)) throw failed(`cid:${attachment.contentId} is encrypted twice`);
      const mimeType = ed.getAttribute('MimeType');
      const headers = { ...attachment.headers, ...(mimeType ? { 'content-type': mimeType } : {}) };
      const target = sink.create({ contentId: attachment.contentId, headers, index });
      const size = await decryptGcm(attachment.open(), key, target.writable, attachment.contentId);
      replaced.set(attachment.contentId, {
        contentId: attachment.contentId,
        headers,
        open: () => target.open(),
        size,
      });
    }
  } catch (err) {
    if (ownSink) await sink.dispose();
    if (err instanceof EhmiError) throw err;
    throw failed('the attachments cannot be decrypted', {}, err);
  }
  if (options.requireEncryption) {
    const plain = attachments.find((a) => !replaced.has(a.contentId));
    if (plain) {
      if (ownSink) await sink.dispose();
      throw new EhmiError(
        'EHMI_AS4_POLICY_NONCOMPLIANCE',
        `attachment cid:${plain.contentId} is not encrypted`,
        {
          details: { reason: 'unencrypted', contentId: plain.contentId },
        },
      );
    }
  }
  return {
    attachments: attachments.map((a) => replaced.get(a.contentId) ?? a),
    decrypted: [...replaced.keys()],
    dispose: () => sink.dispose(),
  };
}

function describe(
  ed: Element,
  byId: Map<string, As4Attachment>,
  idMap: Map<string, Element>,
  security: Element,
  keyFor: (ek: Element) => Buffer,
  policy: AlgorithmPolicy,
): { attachment: As4Attachment; key: Buffer } {
  const type = ed.getAttribute('Type');
  if (type !== SWA.contentOnly) {
    throw failed(`unsupported EncryptedData Type ${type}`, { reason: 'type' });
  }
  const alg = childElement(ed, NS.xenc, 'EncryptionMethod')?.getAttribute('Algorithm') ?? '';
  if (!policy.dataEncryption.includes(alg)) {
    throw new EhmiError('EHMI_AS4_POLICY_NONCOMPLIANCE', `data encryption algorithm ${alg} is not allowed`, {
      details: { algorithm: alg },
    });
  }
  const cd = childElement(ed, NS.xenc, 'CipherData');
  const cr = cd && childElement(cd, NS.xenc, 'CipherReference');
  const uri = cr?.getAttribute('URI') ?? '';
  if (!uri.startsWith('cid:'))
    throw failed('EncryptedData has no cid: CipherReference', { reason: 'reference' });
  const transforms = childElement(cr!, NS.xenc, 'Transforms');
  const tList = transforms ? childElements(transforms, NS.ds, 'Transform') : [];
  if (tList.length !== 1 || tList[0]!.getAttribute('Algorithm') !== SWA.ciphertextTransform) {
    throw failed(`unsupported CipherReference transforms on ${uri}`, { reason: 'transform' });
  }
  const attachment = attachmentFor(byId, uri);
  if (!attachment)
    throw failed(`the encrypted attachment ${uri} is missing`, { reason: 'attachment-missing' });
  // The key: the EncryptedKey the EncryptedData's KeyInfo references, or the one whose ReferenceList lists it.
  let ek: Element | undefined;
  const str = childElement(childElement(ed, NS.ds, 'KeyInfo') ?? ed, NS.wsse, 'SecurityTokenReference');
  const ref = str && childElement(str, NS.wsse, 'Reference');
  if (ref) ek = idMap.get((ref.getAttribute('URI') ?? '').replace(/^#/, ''));
  if (!ek) {
    const id = ed.getAttribute('Id');
    ek = childElements(security, NS.xenc, 'EncryptedKey').find((k) => {
      const list = childElement(k, NS.xenc, 'ReferenceList');
      return (
        list && childElements(list, NS.xenc, 'DataReference').some((d) => d.getAttribute('URI') === `#${id}`)
      );
    });
  }
  if (!ek || ek.namespaceURI !== NS.xenc || ek.localName !== 'EncryptedKey' || ek.parentNode !== security) {
    throw failed(`no EncryptedKey in the Security header for ${uri}`, { reason: 'key' });
  }
  return { attachment, key: keyFor(ek) };
}

/** @internal Unwraps the content-encryption key of one xenc:EncryptedKey (exported for the interop tests). */
export function unwrapContentKey(
  ek: Element,
  privateKey: KeyObject,
  policy: AlgorithmPolicy,
  ctx: { idMap: Map<string, Element>; security: Element; ours: ReturnType<typeof toCertificate> | undefined },
): Buffer {
  const method = childElement(ek, NS.xenc, 'EncryptionMethod');
  const alg = method?.getAttribute('Algorithm') ?? '';
  if (!policy.keyTransport.includes(alg)) {
    throw new EhmiError('EHMI_AS4_POLICY_NONCOMPLIANCE', `key transport algorithm ${alg} is not allowed`, {
      details: { algorithm: alg },
    });
  }
  const keyInfo = childElement(ek, NS.ds, 'KeyInfo');
  const cipherValue = childElement(childElement(ek, NS.xenc, 'CipherData') ?? ek, NS.xenc, 'CipherValue');
  if (!keyInfo || !cipherValue) throw failed('the EncryptedKey is incomplete', { reason: 'structure' });
  const wrapped = Buffer.from((cipherValue.textContent ?? '').replace(/\s+/g, ''), 'base64');
  if (alg === ALG.kwAes128) {
    const agreement = childElement(keyInfo, NS.xenc, 'AgreementMethod');
    if (!agreement) throw failed('kw-aes128 without an xenc:AgreementMethod', { reason: 'structure' });
    checkRecipient(childElement(agreement, NS.xenc, 'RecipientKeyInfo'), ctx);
    try {
      return unwrapKey(deriveKek(agreement, privateKey), wrapped);
    } catch (err) {
      if (err instanceof EhmiError) throw err;
      throw failed('the content-encryption key cannot be unwrapped', { reason: 'unwrap' }, err);
    }
  }
  checkRecipient(keyInfo, ctx);
  // XML Encryption 1.1 §5.5.2: rsa-oaep names its digest and MGF; node:crypto applies one hash to both.
  const digest = childElement(method!, NS.ds, 'DigestMethod')?.getAttribute('Algorithm') ?? ALG.sha1;
  const mgf = childElement(method!, NS.xenc11, 'MGF')?.getAttribute('Algorithm');
  let oaepHash: 'sha256' | 'sha1';
  if (alg === ALG.rsaOaep && digest === ALG.sha256 && mgf === ALG.mgf1sha256) oaepHash = 'sha256';
  else if ((alg === ALG.rsaOaepMgf1p || (alg === ALG.rsaOaep && !mgf)) && digest === ALG.sha1)
    oaepHash = 'sha1';
  else {
    throw new EhmiError('EHMI_AS4_POLICY_NONCOMPLIANCE', 'unsupported RSA-OAEP digest/MGF combination', {
      details: { algorithm: alg, digest, mgf },
    });
  }
  try {
    return privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, wrapped);
  } catch {
    // Like WSS4J: continue with a random key so a bad EncryptedKey and a bad ciphertext fail the same way
    // (at the GCM tag), leaving no padding oracle.
    return randomBytes(16);
  }
}

function checkRecipient(
  keyInfo: Element | undefined,
  ctx: { idMap: Map<string, Element>; security: Element; ours: ReturnType<typeof toCertificate> | undefined },
): void {
  if (!ctx.ours || !keyInfo) return;
  let named: string | undefined;
  try {
    named = resolveKeyInfo(keyInfo, {
      idMap: ctx.idMap,
      security: ctx.security,
      knownCertificates: [ctx.ours],
    }).certificate.fingerprint256;
  } catch {
    named = undefined;
  }
  if (named !== ctx.ours.fingerprint256) {
    throw failed('the EncryptedKey is not addressed to our certificate', { reason: 'recipient' });
  }
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** AES-GCM over a stream: IV first, tag last (XML Encryption 1.1 §5.2.4); the tag is checked before returning. */
async function decryptGcm(source: Readable, key: Buffer, out: Writable, contentId: string): Promise<number> {
  if (key.length !== 16) throw failed('the content-encryption key is not 128 bits', { reason: 'key' });
  let head: Buffer = Buffer.alloc(0);
  let tail: Buffer = Buffer.alloc(0);
  let decipher: DecipherGCM | undefined;
  let size = 0;
  const write = async (buf: Buffer) => {
    size += buf.length;
    if (buf.length > 0 && !out.write(buf)) await once(out, 'drain');
  };
  try {
    for await (const chunk of source) {
      let buf = chunk as Buffer;
      if (!decipher) {
        head = Buffer.concat([head, buf]);
        if (head.length < IV_BYTES) continue;
        decipher = createDecipheriv('aes-128-gcm', key, head.subarray(0, IV_BYTES));
        buf = head.subarray(IV_BYTES);
      }
      tail = tail.length === 0 ? buf : Buffer.concat([tail, buf]);
      if (tail.length > TAG_BYTES) {
        await write(decipher.update(tail.subarray(0, tail.length - TAG_BYTES)));
        tail = Buffer.from(tail.subarray(tail.length - TAG_BYTES));
      }
    }
    if (!decipher || tail.length < TAG_BYTES) throw failed(`cid:${contentId} is too short for AES-GCM`);
    decipher.setAuthTag(tail);
    let last: Buffer;
    try {
      last = decipher.final();
    } catch (err) {
      throw failed(`the AES-GCM tag of cid:${contentId} does not verify`, { reason: 'tag', contentId }, err);
    }
    await write(last);
    out.end();
    await finished(out);
    return size;
  } catch (err) {
    out.destroy();
    throw err;
  }
}
