import type { KeyObject, X509Certificate } from 'node:crypto';
import { asEhmiError, EhmiError, EXIT } from '@ehmi/errors';
import { childElement, childElements, type Document, type Element } from '@ehmi/xml';
import { digestElement } from '@ehmi/xmldsig';
import type { As4Limits } from '../limits.ts';
import type { AttachmentSink } from '../mime/sink.ts';
import type { As4Attachment } from '../model/attachment.ts';
import { checkSignedCoverage, isEncrypted } from '../receive/security.ts';
import {
  type AlgorithmPolicy,
  checkAlgorithm,
  digestName,
  PROFILES,
  type SecurityProfile,
} from '../wss/algorithms.ts';
import { digestAttachment } from '../wss/attachment-digest.ts';
import { type CertificateInput, toCertificate } from '../wss/certificates.ts';
import { decryptAttachments } from '../wss/decrypt.ts';
import { buildIdMap } from '../wss/ids.ts';
import { NS } from '../wss/ns.ts';
import { parseReference } from '../wss/references.ts';
import type { TokenReference } from '../wss/token.ts';
import {
  attachmentFor,
  type VerifyResult,
  verifyAttachmentReferences,
  verifyEnvelope,
} from '../wss/verify.ts';
import { type As4MessageKind, kindOf, messageIdOf, openAs4Message } from './open.ts';

export interface CheckAs4Options {
  /**
   * The signer's certificate, known out of band: IssuerSerial and SubjectKeyIdentifier references resolve against it,
   * and the message must be signed by this very certificate. Default: the certificate the message carries.
   */
  certificate?: CertificateInput;
  /** Our decryption key: encrypted parts are decrypted and their references checked over the plaintext. */
  privateKey?: KeyObject;
  /**
   * Decides whether the signer is trusted (e.g. a chain to configured trust anchors); may throw an EhmiError.
   * Default: any signer (the check is then about integrity, not about who signed).
   */
  trust?: (chain: X509Certificate[]) => boolean | Promise<boolean>;
  /** Check the wsu:Timestamp against the clock. Default false (a saved message is old). */
  timestampWindow?: boolean;
  clock?: () => Date;
  skewSeconds?: number;
  /** Algorithm policy. Default `permissive`: what WSS4J accepts, to check other implementations' messages. */
  profile?: SecurityProfile | AlgorithmPolicy;
  limits?: Partial<As4Limits>;
  sink?: AttachmentSink;
}

/** One ds:Reference of the signature and what the check found. */
export interface CheckedReference {
  uri: string;
  /** eb:Messaging, Body, Timestamp, BinarySecurityToken, attachment (when known). */
  target?: string;
  /**
   * true: the digest matches; false: it does not (or the part is missing); null: not checked (encrypted, no key; or
   * `not kept`: a bare SOAP envelope kept without its attachments).
   */
  ok: boolean | null;
  note?: string;
}

export interface CheckedSigner {
  subject: string;
  issuer: string;
  /** Hex, as node:crypto prints it. */
  serialNumber: string;
  fingerprint256: string;
}

export interface As4CheckResult {
  /** True only when the signature and every reference verified (and the trust/timestamp checks asked for passed). */
  valid: boolean;
  /**
   * False when some references could not be checked: the attachments are encrypted and no key was given. The
   * result is then not valid, and carries no ebMS error code: nothing failed, the check is incomplete.
   */
  complete: boolean;
  /** The ebMS error code of the failure (EBMS:0101 FailedAuthentication, EBMS:0102, EBMS:0103, …). */
  errorCode?: string;
  /** The EhmiError code of the failure. */
  code?: string;
  /** Why the message is not valid, in words. */
  reason?: string;
  /** The machine-readable reason of a security failure (`digest`, `signature-value`, `key-info`, `tag`, …). */
  reasonCode?: string;
  /** UserMessage or the signal's kind; absent when the header could not be read. */
  kind?: As4MessageKind;
  messageId?: string;
  signer?: CheckedSigner;
  tokenReference?: TokenReference;
  signatureMethod?: string;
  references: CheckedReference[];
  /** The parts decrypted with the key: Content-ID, plaintext size, MIME type restored. */
  decrypted: { contentId: string; size?: number; contentType?: string }[];
  /** The parts that are encrypted and were not decrypted (no key). */
  encrypted: string[];
  /**
   * The signed attachments a bare SOAP envelope names but does not carry (a kept SOAP part: non-repudiation
   * evidence). Their references are reported `ok: null`, note `not kept`: the signed digest is there, the attachment
   * is not. They do not make the result invalid: the signature and every reference that can be checked verified.
   */
  notKept?: string[];
}

/**
 * Checks the WS-Security signature of a saved AS4 message and every reference it makes (WSS 1.1.1 §8, XML Signature
 * 1.1 §3.2, SwA Profile 1.1 §5; eDelivery AS4 1.15 §2.2.6), as a receiver would, without a P-Mode: the algorithms are
 * the `permissive` profile's unless `profile` says otherwise. The input is a file as {@link splitAs4File} accepts it.
 *
 * Order, as the receive pipeline's: the signature (SignatureValue, eb:Messaging, Body, …) first with the `cid:`
 * digests of encrypted parts deferred; the signed eb:Messaging and Body must be the ones processed; then with
 * `privateKey` the decryption (EBMS:0102 on failure) and the deferred digests over the plaintext. Without a key an
 * encrypted message is reported `complete: false`, not valid: its attachment digests are unchecked.
 *
 * A bare SOAP envelope whose UserMessage names `cid:` parts it does not carry is a kept SOAP part (non-repudiation
 * evidence, as an access point keeps it): the signature over SignedInfo and every same-document reference are
 * verified, and the attachment references are reported `note: 'not kept'` (`notKept` lists them) without making the
 * result invalid.
 *
 * Throws only when the file is not an AS4 message at all (`EHMI_INPUT_UNREADABLE`); every other failure is in the
 * result (`valid: false`, `errorCode`, `reason`).
 *
 * @example
 * const r = await checkAs4Message(readFileSync('message.as4'), { certificate: partnerPem });
 * if (!r.valid) console.log(r.errorCode, r.reason);
 */
export async function checkAs4Message(
  bytes: Uint8Array,
  options: CheckAs4Options = {},
): Promise<As4CheckResult> {
  let msg: Awaited<ReturnType<typeof openAs4Message>>;
  try {
    msg = await openAs4Message(bytes, {
      soapPartOnly: true,
      ...(options.limits ? { limits: options.limits } : {}),
      ...(options.sink ? { sink: options.sink } : {}),
    });
  } catch (err) {
    const e = asEhmiError(err);
    // Not an AS4 message, a bad option or a bug: thrown. An AS4 message whose MIME or header fails: a result.
    if (e.exitCode !== EXIT.failed || e.code === 'EHMI_INTERNAL') throw err;
    return { ...failure(e), complete: true, references: [], decrypted: [], encrypted: [] };
  }
  const profile = options.profile ?? 'permissive';
  const policy = typeof profile === 'object' ? profile : PROFILES[profile];
  const given = options.certificate === undefined ? undefined : toCertificate(options.certificate);
  const doc = msg.envelope.document;
  // A kept SOAP part: the attachments (encrypted or not) are not here; only what the envelope holds is checked.
  const detached = msg.notKept.length > 0;
  const encrypted = !detached && isEncrypted(msg.envelope);
  const result: As4CheckResult = {
    valid: false,
    complete: true,
    kind: kindOf(msg.messaging),
    references: [],
    decrypted: [],
    encrypted: [],
  };
  const messageId = messageIdOf(msg.messaging);
  if (messageId !== undefined) result.messageId = messageId;
  let attachments: As4Attachment[] = msg.attachments;
  let dispose: (() => Promise<void>) | undefined;
  let verified: VerifyResult | undefined;
  try {
    verified = await verifyEnvelope(doc, msg.attachments, {
      trust: async (chain) => {
        if (given && chain[0]!.fingerprint256 !== given.fingerprint256) {
          throw new EhmiError(
            'EHMI_AS4_FAILED_AUTHENTICATION',
            `the message is signed by "${chain[0]!.subject.replace(/\n/g, ', ')}", not by the given certificate`,
            { details: { reason: 'other-signer' } },
          );
        }
        return options.trust ? options.trust(chain) : true;
      },
      profile: policy,
      ...(given ? { knownCertificates: [given] } : {}),
      deferAttachmentDigests: encrypted,
      detachedAttachments: detached,
      timestampWindow: options.timestampWindow ?? false,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.skewSeconds !== undefined ? { skewSeconds: options.skewSeconds } : {}),
    });
    checkSignedCoverage(msg.envelope, verified);
    Object.assign(result, signerOf(verified));
    if (encrypted) {
      const pending = verified.references.filter((r) => r.target === 'attachment' && !r.digestVerified);
      if (options.privateKey) {
        const dec = await decryptAttachments(doc, msg.attachments, {
          privateKey: options.privateKey,
          profile: policy,
          sink: msg.sink,
        });
        dispose = dec.dispose;
        attachments = dec.attachments;
        result.decrypted = decryptedParts(dec.attachments, dec.decrypted);
        await verifyAttachmentReferences(verified, dec.attachments);
      } else if (pending.length > 0) {
        result.complete = false;
        result.encrypted = encryptedIds(doc);
        result.reason = `the attachments are encrypted: ${pending.map((r) => r.uri).join(', ')} cannot be checked without the decryption key`;
      }
    }
    result.valid = result.complete;
    if (detached) result.notKept = [...msg.notKept];
    result.references = verified.references.map((r) => ({
      uri: r.uri,
      target: r.target,
      ok: r.digestVerified ? true : null,
      ...(r.digestVerified ? {} : { note: detached ? NOT_KEPT : 'encrypted' }),
    }));
  } catch (err) {
    const e = asEhmiError(err);
    if (e.exitCode !== EXIT.failed || e.code === 'EHMI_INTERNAL') throw err;
    Object.assign(result, failure(e));
    result.valid = false;
    if (verified) Object.assign(result, signerOf(verified));
    if (encrypted && !options.privateKey) result.encrypted = encryptedIds(doc);
    if (detached) result.notKept = [...msg.notKept];
    result.references = await referenceReport(
      doc,
      attachments,
      policy,
      encrypted && attachments === msg.attachments,
      detached,
    );
  } finally {
    await dispose?.().catch(() => {});
    await msg.dispose().catch(() => {});
  }
  return result;
}

/** The note of a `cid:` reference whose attachment a kept SOAP part does not carry. */
const NOT_KEPT = 'not kept';

function failure(
  e: EhmiError,
): Pick<As4CheckResult, 'valid' | 'errorCode' | 'code' | 'reason' | 'reasonCode'> {
  const out: Pick<As4CheckResult, 'valid' | 'errorCode' | 'code' | 'reason' | 'reasonCode'> = {
    valid: false,
    code: e.code,
    reason: e.message,
  };
  out.errorCode = e.ebmsCode;
  if (typeof e.details.reason === 'string') out.reasonCode = e.details.reason;
  return out;
}

function signerOf(v: VerifyResult): Pick<As4CheckResult, 'signer' | 'tokenReference' | 'signatureMethod'> {
  const c = v.certificate;
  return {
    signer: {
      subject: c.subject.replace(/\n/g, ', '),
      issuer: c.issuer.replace(/\n/g, ', '),
      serialNumber: c.serialNumber,
      fingerprint256: c.fingerprint256,
    },
    tokenReference: v.tokenReference,
    signatureMethod: v.signatureMethod,
  };
}

function decryptedParts(
  attachments: readonly As4Attachment[],
  ids: readonly string[],
): As4CheckResult['decrypted'] {
  return attachments
    .filter((a) => ids.includes(a.contentId))
    .map((a) => ({
      contentId: a.contentId,
      ...(a.size !== undefined ? { size: a.size } : {}),
      ...(a.headers['content-type'] ? { contentType: a.headers['content-type'] } : {}),
    }));
}

/** The `cid:` parts the Security header names as EncryptedData. */
function encryptedIds(doc: Document): string[] {
  const out: string[] = [];
  for (const ed of Array.from(doc.getElementsByTagNameNS(NS.xenc, 'EncryptedData')) as Element[]) {
    const cd = childElement(ed, NS.xenc, 'CipherData');
    const uri = (cd && childElement(cd, NS.xenc, 'CipherReference')?.getAttribute('URI')) ?? '';
    if (uri.startsWith('cid:')) out.push(uri.slice(4));
  }
  return out;
}

/**
 * After a failure: each reference's digest on its own, to show which parts are intact. Informative only — the
 * verdict is {@link verifyEnvelope}'s, with its wrapping and coverage checks; this only recomputes digests.
 */
async function referenceReport(
  doc: Document,
  attachments: readonly As4Attachment[],
  policy: AlgorithmPolicy,
  stillEncrypted: boolean,
  detached: boolean,
): Promise<CheckedReference[]> {
  const security = (Array.from(doc.getElementsByTagNameNS(NS.wsse, 'Security')) as Element[])[0];
  const sig = security && childElement(security, NS.ds, 'Signature');
  const si = sig && childElement(sig, NS.ds, 'SignedInfo');
  if (!si) return [];
  let ids: Map<string, Element>;
  try {
    ids = buildIdMap(doc);
  } catch {
    return [];
  }
  const byId = new Map(attachments.map((a) => [a.contentId, a] as const));
  const out: CheckedReference[] = [];
  for (const el of childElements(si, NS.ds, 'Reference')) {
    let uri = el.getAttribute('URI') ?? '';
    try {
      const r = parseReference(el);
      uri = r.uri;
      checkAlgorithm('digest', r.digestMethod, policy);
      const hash = digestName(r.digestMethod);
      let digest: Buffer;
      if (uri.startsWith('cid:')) {
        if (detached) {
          out.push({ uri, target: 'attachment', ok: null, note: NOT_KEPT });
          continue;
        }
        const att = attachmentFor(byId, uri);
        if (!att) {
          out.push({ uri, target: 'attachment', ok: false, note: 'missing' });
          continue;
        }
        if (stillEncrypted) {
          out.push({ uri, target: 'attachment', ok: null, note: 'encrypted' });
          continue;
        }
        digest = await digestAttachment(att, r.transforms[0]?.algorithm ?? '', hash);
      } else {
        const target = ids.get(uri.replace(/^#/, ''));
        if (!target) {
          out.push({ uri, ok: false, note: 'missing' });
          continue;
        }
        digest = digestElement(target, {
          digestMethod: r.digestMethod,
          inclusivePrefixes: r.transforms[0]?.inclusivePrefixes ?? [],
        });
      }
      const ok = digest.equals(Buffer.from(r.digestValue, 'base64'));
      out.push({
        uri,
        target: uri.startsWith('cid:') ? 'attachment' : targetName(ids.get(uri.slice(1))),
        ok,
      });
    } catch (err) {
      out.push({ uri, ok: false, note: asEhmiError(err).message });
    }
  }
  return out;
}

function targetName(el: Element | undefined): string | undefined {
  if (!el) return undefined;
  return el.localName ?? undefined;
}
