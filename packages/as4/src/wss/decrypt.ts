import { createDecipheriv, type Decipher, type DecipherGCM, type KeyObject, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { EhmiError } from '@ehmi/errors';
import { childElement, childElements, type Document, type Element } from '@ehmi/xml';
import { type AttachmentSink, storageFailure, tempFileSink } from '../mime/sink.ts';
import type { As4Attachment } from '../model/attachment.ts';
import {
  ALG,
  type AlgorithmPolicy,
  knownDigest,
  mgfName,
  oaepPolicy,
  PROFILES,
  type SecurityProfile,
} from './algorithms.ts';
import { type CertificateInput, toCertificate } from './certificates.ts';
import { envelopeParts, findSecurityHeader } from './envelope.ts';
import { buildIdMap } from './ids.ts';
import { deriveKek, unwrapKey } from './key-agreement.ts';
import { NS, SWA } from './ns.ts';
import { rsaOaepDecrypt } from './rsa-oaep.ts';
import { resolveKeyInfo } from './token.ts';
import { attachmentFor } from './verify.ts';

export interface DecryptOptions {
  /** Our decryption key: RSA (1.15) or X25519 (2.0). */
  privateKey: KeyObject;
  /** Our certificate; when given, each EncryptedKey must name it (BST, SKI or IssuerSerial). */
  certificate?: CertificateInput;
  /**
   * Further key pairs we decrypt with (a certificate rollover: the earlier key, for senders whose register answer
   * is still the old one). Needs `certificate`. Each EncryptedKey is unwrapped with the one key its KeyInfo names
   * (BinarySecurityToken, IssuerSerial, SKI or thumbprint), never by trying keys in turn; one that names none of
   * ours is EBMS:0102.
   */
  previousKeys?: readonly DecryptionKey[];
  /** Algorithm policy. Default: both profiles' data and key-transport algorithms. */
  profile?: SecurityProfile | AlgorithmPolicy;
  /** Where plaintext goes; default a {@link tempFileSink}. The result's `dispose()` disposes it. */
  sink?: AttachmentSink;
  /** Every attachment must be encrypted (P-Mode `Security.X509.Encryption`); otherwise EBMS:0103. Default false. */
  requireEncryption?: boolean;
  /**
   * Decrypt as the returned attachments are read, not into the sink: no plaintext copy is written, and each
   * `open()` decrypts the part again. Such a stream hands out plaintext before its tag is checked, and fails at its
   * end (EBMS:0102) when the tag does not verify: read a part to its end without error before trusting anything read
   * from it (the receive pipeline's payload step does, in the pass that also digests and decompresses it). Parts
   * encrypted with their MIME headers (Attachment-Complete) are decrypted into the sink as without it. Default false.
   */
  onRead?: boolean;
}

/** A key pair to decrypt with: the private key and the certificate senders encrypt to. */
export interface DecryptionKey {
  privateKey: KeyObject;
  certificate: CertificateInput;
}

export interface DecryptResult {
  /** The attachments with plaintext bodies (same order; unencrypted ones passed through), MIME type restored. */
  attachments: As4Attachment[];
  /** The Content-IDs that were decrypted. */
  decrypted: string[];
  /** Frees the plaintext copies (temporary files). */
  dispose(): Promise<void>;
  /** Content-IDs of the attachments that decrypt as they are read (`onRead`): not authenticated until read whole. */
  decryptOnRead?: string[];
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
            oaep: oaepPolicy(PROFILES['edelivery-1.15']),
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
  const previous = (options.previousKeys ?? []).map((k) => ({
    privateKey: k.privateKey,
    certificate: toCertificate(k.certificate),
  }));
  if (previous.length > 0 && !ours) {
    throw new EhmiError('EHMI_INTERNAL', 'decryption with previous keys needs the current certificate');
  }
  const keys = new Map<Element, Promise<Buffer>>();
  const keyFor = (ek: Element, keyBytes: number): Promise<Buffer> => {
    let cek = keys.get(ek);
    if (!cek) {
      cek = unwrapContentKey(
        ek,
        options.privateKey,
        policy,
        { idMap, security: security!, ours, previous },
        keyBytes,
      );
      keys.set(ek, cek);
    }
    return cek;
  };

  const ownSink = !options.sink;
  const sink = options.sink ?? tempFileSink();
  const replaced = new Map<string, As4Attachment>();
  const onRead: string[] = [];
  try {
    let index = 0;
    for (const ed of encryptedData) {
      index++;
      const described = describe(ed, byId, idMap, security!, keyFor, policy);
      const { attachment, mode, complete } = described;
      const key = await described.key;
      if (replaced.has(attachment.contentId)) throw failed(`cid:${attachment.contentId} is encrypted twice`);
      const mimeType = ed.getAttribute('MimeType');
      let headers = { ...attachment.headers, ...(mimeType ? { 'content-type': mimeType } : {}) };
      if (options.onRead && !complete) {
        if (key.length !== mode.keyBytes) {
          throw failed(`the content-encryption key is not ${mode.keyBytes * 8} bits`, { reason: 'key' });
        }
        const source = attachment;
        const plain: As4Attachment = {
          contentId: attachment.contentId,
          headers,
          open: () => {
            const out = new PassThrough();
            // A failure reaches the reader through `out` (failReader).
            decryptPart(source.open(), mode, key, out, source.contentId, false, true).catch((err) => {
              if (!out.destroyed) out.destroy(err);
            });
            return out;
          },
        };
        // GCM: IV ‖ ciphertext ‖ tag, the ciphertext as long as the plaintext. CBC pads: the size is known only after.
        if (attachment.size !== undefined && mode.tagBytes > 0)
          plain.size = attachment.size - mode.ivBytes - mode.tagBytes;
        replaced.set(attachment.contentId, plain);
        onRead.push(attachment.contentId);
        continue;
      }
      const target = sink.create({ contentId: attachment.contentId, headers, index });
      const { size, mimeHeaders } = await decryptPart(
        attachment.open(),
        mode,
        key,
        target.writable,
        attachment.contentId,
        complete,
      );
      if (mimeHeaders) headers = restoreHeaders(attachment.headers, mimeHeaders);
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
    ...(onRead.length > 0 ? { decryptOnRead: onRead } : {}),
  };
}

/** A block encryption algorithm as XML Encryption 1.1 §5.2 lays out its CipherData: IV first, then ciphertext. */
interface BlockMode {
  cipher: 'aes-128-gcm' | 'aes-192-gcm' | 'aes-256-gcm' | 'aes-128-cbc' | 'aes-192-cbc' | 'aes-256-cbc';
  keyBytes: number;
  ivBytes: number;
  /** GCM: the 128-bit tag after the ciphertext (§5.2.4). CBC: none, the plaintext is padded instead (§5.2). */
  tagBytes: number;
}

const MODES: Readonly<Record<string, BlockMode>> = {
  [ALG.aes128Gcm]: { cipher: 'aes-128-gcm', keyBytes: 16, ivBytes: 12, tagBytes: 16 },
  [ALG.aes192Gcm]: { cipher: 'aes-192-gcm', keyBytes: 24, ivBytes: 12, tagBytes: 16 },
  [ALG.aes256Gcm]: { cipher: 'aes-256-gcm', keyBytes: 32, ivBytes: 12, tagBytes: 16 },
  [ALG.aes128Cbc]: { cipher: 'aes-128-cbc', keyBytes: 16, ivBytes: 16, tagBytes: 0 },
  [ALG.aes192Cbc]: { cipher: 'aes-192-cbc', keyBytes: 24, ivBytes: 16, tagBytes: 0 },
  [ALG.aes256Cbc]: { cipher: 'aes-256-cbc', keyBytes: 32, ivBytes: 16, tagBytes: 0 },
};

function describe(
  ed: Element,
  byId: Map<string, As4Attachment>,
  idMap: Map<string, Element>,
  security: Element,
  keyFor: (ek: Element, keyBytes: number) => Promise<Buffer>,
  policy: AlgorithmPolicy,
): { attachment: As4Attachment; key: Promise<Buffer>; mode: BlockMode; complete: boolean } {
  // SwA Profile 1.1 §5.5.2: the content only, or the MIME headers and the content (Attachment-Complete).
  const type = ed.getAttribute('Type');
  if (type !== SWA.contentOnly && !(type === SWA.complete && policy.attachmentComplete)) {
    throw failed(`unsupported EncryptedData Type ${type}`, { reason: 'type' });
  }
  const alg = childElement(ed, NS.xenc, 'EncryptionMethod')?.getAttribute('Algorithm') ?? '';
  if (!policy.dataEncryption.includes(alg)) {
    throw new EhmiError('EHMI_AS4_POLICY_NONCOMPLIANCE', `data encryption algorithm ${alg} is not allowed`, {
      details: { algorithm: alg },
    });
  }
  const mode = MODES[alg];
  if (!mode) throw failed(`unsupported data encryption algorithm ${alg}`, { reason: 'algorithm' });
  const cd = childElement(ed, NS.xenc, 'CipherData');
  const cr = cd && childElement(cd, NS.xenc, 'CipherReference');
  const uri = cr?.getAttribute('URI') ?? '';
  if (!uri.startsWith('cid:'))
    throw failed('EncryptedData has no cid: CipherReference', { reason: 'reference' });
  // SwA Profile 1.1 §5.5.2: the Attachment-Ciphertext-Transform, and nothing else, turns the part into CipherData.
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
  return { attachment, key: keyFor(ek, mode.keyBytes), mode, complete: type === SWA.complete };
}

/**
 * @internal Unwraps the content-encryption key of one xenc:EncryptedKey (exported for the interop tests).
 * `keyBytes` sizes the random stand-in used when RSA-OAEP decoding fails.
 */
export async function unwrapContentKey(
  ek: Element,
  privateKey: KeyObject,
  policy: AlgorithmPolicy,
  ctx: RecipientContext,
  keyBytes = 16,
): Promise<Buffer> {
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
    const key = recipientKey(childElement(agreement, NS.xenc, 'RecipientKeyInfo'), privateKey, ctx);
    try {
      return unwrapKey(deriveKek(agreement, key), wrapped);
    } catch (err) {
      if (err instanceof EhmiError) throw err;
      throw failed('the content-encryption key cannot be unwrapped', { reason: 'unwrap' }, err);
    }
  }
  if (alg !== ALG.rsaOaep && alg !== ALG.rsaOaepMgf1p) {
    throw failed(`unsupported key transport algorithm ${alg}`, { reason: 'algorithm' });
  }
  const key = recipientKey(keyInfo, privateKey, ctx);
  // XML Encryption 1.1 §5.5.2: DigestMethod defaults to SHA-1; rsa-oaep-mgf1p always masks with MGF1-SHA1, rsa-oaep
  // with the xenc11:MGF named (default MGF1-SHA1). OAEPparams is the label, base64.
  const digest = childElement(method!, NS.ds, 'DigestMethod')?.getAttribute('Algorithm') ?? ALG.sha1;
  const mgf =
    alg === ALG.rsaOaepMgf1p
      ? ALG.mgf1sha1
      : (childElement(method!, NS.xenc11, 'MGF')?.getAttribute('Algorithm') ?? ALG.mgf1sha1);
  const allowed = oaepPolicy(policy);
  if (!allowed.digest.includes(digest) || !allowed.mgf.includes(mgf)) {
    throw new EhmiError(
      'EHMI_AS4_POLICY_NONCOMPLIANCE',
      'RSA-OAEP digest or MGF not allowed by the profile',
      {
        details: { algorithm: alg, digest, mgf },
      },
    );
  }
  const hash = knownDigest(digest);
  const mgfHash = mgfName(mgf);
  if (!hash || !mgfHash)
    throw failed('unsupported RSA-OAEP digest or MGF', { reason: 'algorithm', digest, mgf });
  const params = childElement(method!, NS.xenc, 'OAEPparams');
  const label = params ? Buffer.from((params.textContent ?? '').replace(/\s+/g, ''), 'base64') : undefined;
  const cek = await rsaOaepDecrypt(key, wrapped, hash, mgfHash, label);
  // Like WSS4J: continue with a random key so a bad EncryptedKey and a bad ciphertext fail the same way
  // (at the GCM tag), leaving no padding oracle.
  // A key of the wrong length is treated the same way, not reported as such.
  return cek?.length === keyBytes ? cek : randomBytes(keyBytes);
}

interface RecipientContext {
  idMap: Map<string, Element>;
  security: Element;
  /** Our current certificate; when set, the EncryptedKey must name it or one of `previous`. */
  ours: ReturnType<typeof toCertificate> | undefined;
  /** Earlier key pairs we still decrypt with (a rollover). */
  previous?: readonly { privateKey: KeyObject; certificate: ReturnType<typeof toCertificate> }[];
}

/**
 * The private key the EncryptedKey is addressed to: the certificate its KeyInfo names (a BinarySecurityToken of the
 * header, IssuerSerial, SKI or thumbprint against our certificates) picks the key. No key is tried in turn: which of
 * several keys decodes an RSA-OAEP block would be observable (in time, or in which key goes on to the GCM tag),
 * an oracle across our keys. One that names none of ours: EBMS:0102, as with one key.
 */
function recipientKey(keyInfo: Element | undefined, current: KeyObject, ctx: RecipientContext): KeyObject {
  if (!ctx.ours || !keyInfo) return current;
  const previous = ctx.previous ?? [];
  let named: string | undefined;
  try {
    named = resolveKeyInfo(keyInfo, {
      idMap: ctx.idMap,
      security: ctx.security,
      knownCertificates: [ctx.ours, ...previous.map((p) => p.certificate)],
    }).certificate.fingerprint256;
  } catch {
    named = undefined;
  }
  if (named === ctx.ours.fingerprint256) return current;
  const earlier = previous.find((p) => p.certificate.fingerprint256 === named);
  if (earlier) return earlier.privateKey;
  throw failed('the EncryptedKey is not addressed to our certificate', { reason: 'recipient' });
}

/** The most MIME header octets an Attachment-Complete plaintext may start with. */
const MAX_MIME_HEADER_BYTES = 16 * 1024;

/**
 * Decrypts one part as a stream (XML Encryption 1.1 §5.2: IV, ciphertext, and for GCM the tag as the last 16 octets,
 * held back and checked before returning; for CBC the padding of the last block, whose final octet counts the padding
 * octets, is removed). An Attachment-Complete plaintext starts with the part's MIME headers (SwA Profile 1.1 §5.5.2):
 * they are split off and returned, only the content goes to `out`.
 */
async function decryptPart(
  source: Readable,
  mode: BlockMode,
  key: Buffer,
  out: Writable,
  contentId: string,
  complete: boolean,
  /** `out` is a stream handed to a reader (`onRead`): it ends with the failure, so the reader sees it. */
  failReader = false,
): Promise<{ size: number; mimeHeaders?: Record<string, string> }> {
  if (key.length !== mode.keyBytes) {
    throw failed(`the content-encryption key is not ${mode.keyBytes * 8} bits`, { reason: 'key' });
  }
  let head: Buffer = Buffer.alloc(0);
  let tail: Buffer = Buffer.alloc(0);
  let decipher: Decipher | undefined;
  let size = 0;
  // CBC: the last plaintext block is held back until the padding can be removed.
  let pending: Buffer = Buffer.alloc(0);
  const holdBack = mode.tagBytes === 0 ? mode.ivBytes : 0;
  let headerBuf: Buffer | undefined = complete ? Buffer.alloc(0) : undefined;
  let mimeHeaders: Record<string, string> | undefined;
  // A flaw in the decrypted MIME headers is reported only after the tag has verified: reported at once, it would
  // tell a sender who flipped ciphertext bits something about the plaintext (a format oracle). Until then the rest
  // of the part is read and dropped.
  let headerError: unknown;
  const emit = async (buf: Buffer) => {
    if (headerError !== undefined) return;
    if (headerBuf) {
      headerBuf = Buffer.concat([headerBuf, buf]);
      const end = headerBuf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (headerBuf.length > MAX_MIME_HEADER_BYTES) {
          headerError = failed(`cid:${contentId}: no end of the encrypted MIME headers`, {
            reason: 'headers',
            contentId,
          });
          headerBuf = undefined;
        }
        return;
      }
      try {
        mimeHeaders = parseMimeHeaders(headerBuf.subarray(0, end + 2).toString('latin1'));
      } catch (err) {
        headerError = err;
        headerBuf = undefined;
        return;
      }
      buf = headerBuf.subarray(end + 4);
      headerBuf = undefined;
    }
    size += buf.length;
    if (buf.length > 0) await writeOut(out, buf);
  };
  const write = async (buf: Buffer) => {
    if (holdBack === 0) return emit(buf);
    pending = pending.length === 0 ? buf : Buffer.concat([pending, buf]);
    if (pending.length > holdBack) {
      await emit(pending.subarray(0, pending.length - holdBack));
      pending = Buffer.from(pending.subarray(pending.length - holdBack));
    }
  };
  try {
    for await (const chunk of source) {
      let buf = chunk as Buffer;
      if (!decipher) {
        head = Buffer.concat([head, buf]);
        if (head.length < mode.ivBytes) continue;
        decipher = createDecipheriv(mode.cipher, key, head.subarray(0, mode.ivBytes));
        if (mode.tagBytes === 0) decipher.setAutoPadding(false);
        buf = head.subarray(mode.ivBytes);
      }
      if (mode.tagBytes === 0) {
        await write(decipher.update(buf));
        continue;
      }
      // The last tagBytes octets seen are held back (a copy of at most 16 octets): a chunk is deciphered where it
      // lies, not copied behind the held octets first.
      if (buf.length >= mode.tagBytes) {
        if (tail.length > 0) await write(decipher.update(tail));
        await write(decipher.update(buf.subarray(0, buf.length - mode.tagBytes)));
        tail = Buffer.from(buf.subarray(buf.length - mode.tagBytes));
      } else {
        tail = Buffer.concat([tail, buf]);
        if (tail.length > mode.tagBytes) {
          await write(decipher.update(tail.subarray(0, tail.length - mode.tagBytes)));
          tail = Buffer.from(tail.subarray(tail.length - mode.tagBytes));
        }
      }
    }
    if (!decipher || tail.length < mode.tagBytes) {
      throw failed(`cid:${contentId} is too short for ${mode.cipher}`, { reason: 'length', contentId });
    }
    if (mode.tagBytes > 0) (decipher as DecipherGCM).setAuthTag(tail);
    let last: Buffer;
    try {
      last = decipher.final();
    } catch (err) {
      throw mode.tagBytes > 0
        ? failed(`the AES-GCM tag of cid:${contentId} does not verify`, { reason: 'tag', contentId }, err)
        : failed(`cid:${contentId} is not a whole number of blocks`, { reason: 'length', contentId }, err);
    }
    await write(last);
    if (holdBack > 0) {
      // XML Encryption 1.1 §5.2: the last octet is the number of padding octets, 1 to the block size.
      const pad = pending.length === holdBack ? pending[holdBack - 1]! : 0;
      if (pad < 1 || pad > holdBack) {
        throw failed(`the padding of cid:${contentId} is invalid`, { reason: 'padding', contentId });
      }
      await emit(pending.subarray(0, holdBack - pad));
    }
    if (headerError !== undefined) throw headerError;
    if (headerBuf)
      throw failed(`cid:${contentId}: no end of the encrypted MIME headers`, { reason: 'headers' });
    out.end();
    await finished(out);
    return mimeHeaders ? { size, mimeHeaders } : { size };
  } catch (err) {
    // The sink failing is the receiver's storage (retryable), whatever else went wrong: never EBMS:0102.
    const storage = out.errored;
    out.destroy(failReader ? (err as Error) : undefined);
    if (storage) throw storageFailure(storage, `writing the plaintext of cid:${contentId}`);
    throw err;
  }
}

/** Writes to the sink, waiting for it to drain; a sink that failed (or fails meanwhile) throws its error. */
async function writeOut(out: Writable, buf: Buffer): Promise<void> {
  if (out.errored) throw out.errored;
  if (out.write(buf)) return;
  if (out.errored || out.destroyed) throw out.errored ?? new Error('the sink was closed');
  await once(out, 'drain');
}

/** MIME header lines (RFC 2045 §3, RFC 5322 §2.2.3 folding) to lower-case names and values. */
function parseMimeHeaders(text: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of text.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw failed('a decrypted MIME header line is malformed', { reason: 'headers' });
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

/**
 * The part's headers after an Attachment-Complete decryption (SwA Profile 1.1 §5.5.2): the decrypted MIME headers
 * replace the outer ones, except Content-ID, which names the part in the message and in its references.
 */
function restoreHeaders(
  outer: Record<string, string>,
  decrypted: Record<string, string>,
): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(outer)) if (!name.startsWith('content-')) headers[name] = value;
  for (const [name, value] of Object.entries(decrypted)) if (name !== 'content-id') headers[name] = value;
  if (outer['content-id'] !== undefined) headers['content-id'] = outer['content-id'];
  return headers;
}
