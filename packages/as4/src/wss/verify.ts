import type { X509Certificate } from 'node:crypto';
import { EhmiError } from '@ehmi/errors';
import { childElement, childElements, type Document, type Element } from '@ehmi/xml';
import { digestElement, sameDigest, verifySignatureValue } from '@ehmi/xmldsig';
import type { As4Attachment } from '../model/attachment.ts';
import {
  ALG,
  type AlgorithmPolicy,
  checkAlgorithm,
  digestName,
  PROFILES,
  type SecurityProfile,
} from './algorithms.ts';
import { type AttachmentDigester, attachmentDigester, digestAttachment } from './attachment-digest.ts';
import { type CertificateInput, toCertificate } from './certificates.ts';
import { envelopeParts, findSecurityHeader } from './envelope.ts';
import { buildIdMap } from './ids.ts';
import { NS, SWA } from './ns.ts';
import { parseReference, type SignatureReference } from './references.ts';
import { checkTimestamp } from './timestamp.ts';
import { resolveKeyInfo, type TokenReference } from './token.ts';

/** What a verified reference points at. */
export type ReferenceTarget = 'Messaging' | 'Body' | 'Timestamp' | 'BinarySecurityToken' | 'attachment';

export interface VerifiedReference extends SignatureReference {
  target: ReferenceTarget;
  /** The signed element (for `attachment`: undefined). */
  signedElement?: Element;
  /** The attachment's Content-ID for `cid:` references. */
  contentId?: string;
  /** False only for attachment digests deferred with `deferAttachmentDigests` and not yet checked. */
  digestVerified: boolean;
}

export interface VerifyOptions {
  /**
   * Decides whether the signer is trusted (chain to a trust anchor, the partner's certificate from the P-Mode or SMP,
   * validity period, revocation). Required: there is no default trust. `chain` is signer first.
   */
  trust: (chain: X509Certificate[]) => boolean | Promise<boolean>;
  /** Algorithm policy. Default `edelivery-1.15`. */
  profile?: SecurityProfile | AlgorithmPolicy;
  /** Certificates known out of band, to resolve IssuerSerial and SKI references. */
  knownCertificates?: readonly CertificateInput[];
  clock?: () => Date;
  /** Clock skew for the wsu:Timestamp check, in seconds. */
  skewSeconds?: number;
  /** Require a wsu:Timestamp. Default false (eDelivery AS4 1.15 leaves it to the P-Mode). */
  requireTimestamp?: boolean;
  /**
   * Check the wsu:Timestamp against the clock. Default true; false checks only its form and that it is signed (to
   * verify a message saved long ago).
   */
  timestampWindow?: boolean;
  /**
   * Check `cid:` digests later with {@link verifyAttachmentReferences}, e.g. when the attachments are still encrypted
   * (sign-then-encrypt: the digests are over the plaintext). Default false: every digest is checked here.
   */
  deferAttachmentDigests?: boolean;
  /**
   * The attachments are not at hand: the envelope is a kept copy of the SOAP part alone (non-repudiation evidence),
   * so `attachments` must be empty and the `cid:` references are left unchecked (`digestVerified: false`). SignedInfo
   * and every same-document reference (eb:Messaging, Body, Timestamp) are verified as always. Default false.
   */
  detachedAttachments?: boolean;
  /**
   * Require eb:Messaging to be signed when present. Default true (eDelivery AS4 1.15 §2.2.6.2 signs the ebMS header);
   * false only to check old producers that signed the Body alone.
   */
  requireSignedMessaging?: boolean;
}

export interface VerifyResult {
  certificate: X509Certificate;
  /** The signer's chain as carried (X509PKIPathv1) or resolved; signer first. */
  chain: X509Certificate[];
  tokenReference: TokenReference;
  signatureMethod: string;
  /** Every ds:Reference in SignedInfo order, for the receipt's NonRepudiationInformation. */
  references: VerifiedReference[];
  signature: Element;
}

/**
 * Most ds:Reference elements accepted in one SignedInfo: eb:Messaging, Body, Timestamp, token and one per
 * attachment, with the MIME layer's 101-part limit (limits.ts) — more can only be an attempt to make us
 * canonicalise and hash the same bytes over and over.
 */
export const MAX_SIGNATURE_REFERENCES = 128;

const authError = (message: string, reason: string, details: Record<string, unknown> = {}) =>
  new EhmiError('EHMI_AS4_FAILED_AUTHENTICATION', message, { details: { reason, ...details } });

/**
 * Verifies the WS-Security signature of an AS4 envelope (WSS 1.1.1 SOAP Message Security §8, XML Signature 1.1
 * §3.2 core validation, SwA Profile 1.1 §5 for `cid:` references) and returns the signer and the references.
 *
 * Signature-wrapping defences: ids are unique in the whole document; each same-document reference must resolve to
 * the eb:Messaging header block, the SOAP Body, or the wsu:Timestamp / BinarySecurityToken of this Security header —
 * at their expected places, found by structure and not by search; eb:Messaging and Body must be signed, and so must
 * every attachment passed in. Failures map to EBMS:0101 FailedAuthentication (a signature or digest that does not
 * verify, an unknown algorithm, an untrusted signer) or EBMS:0103 PolicyNoncompliance (no signature, a known but
 * disallowed algorithm such as RSA-SHA1, a required part left unsigned).
 *
 * @example
 * const result = await verifyEnvelope(doc, attachments, {
 *   trust: (chain) => chain[0].checkIssued(partnerCa) && chain[0].verify(partnerCa.publicKey),
 *   skewSeconds: 300,
 * });
 * result.references; // echo in the receipt's ebbp:NonRepudiationInformation
 */
export async function verifyEnvelope(
  doc: Document,
  attachments: readonly As4Attachment[],
  options: VerifyOptions,
): Promise<VerifyResult> {
  if (typeof options?.trust !== 'function') {
    throw new EhmiError('EHMI_CONFIG_INVALID', 'verifyEnvelope: the trust hook is not configured');
  }
  const policy =
    typeof options.profile === 'object' ? options.profile : PROFILES[options.profile ?? 'edelivery-1.15'];
  const parts = envelopeParts(doc);
  const security = findSecurityHeader(parts);
  const signatures = security ? childElements(security, NS.ds, 'Signature') : [];
  if (signatures.length === 0) {
    throw new EhmiError('EHMI_AS4_POLICY_NONCOMPLIANCE', 'the message is not signed', {
      details: { reason: 'unsigned' },
    });
  }
  if (signatures.length > 1)
    throw authError('more than one ds:Signature in the Security header', 'signatures');
  const sig = signatures[0]!;
  const idMap = buildIdMap(doc);
  const ctx = { security: security!, parts };

  // XML Signature 1.1 §4.4: SignedInfo, c14n and signature method; check the algorithms before any crypto.
  const signedInfo = childElement(sig, NS.ds, 'SignedInfo');
  const sigValueEl = childElement(sig, NS.ds, 'SignatureValue');
  const keyInfo = childElement(sig, NS.ds, 'KeyInfo');
  if (!signedInfo || !sigValueEl || !keyInfo) throw authError('the ds:Signature is incomplete', 'structure');
  const c14nEl = childElement(signedInfo, NS.ds, 'CanonicalizationMethod');
  if (c14nEl?.getAttribute('Algorithm') !== ALG.excC14n) {
    throw authError(`unsupported CanonicalizationMethod ${c14nEl?.getAttribute('Algorithm')}`, 'algorithm');
  }
  const method = childElement(signedInfo, NS.ds, 'SignatureMethod')?.getAttribute('Algorithm') ?? '';
  checkAlgorithm('signature', method, policy);
  const refs = childElements(signedInfo, NS.ds, 'Reference').map(parseReference);
  if (refs.length === 0) throw authError('SignedInfo has no reference', 'structure');
  if (refs.length > MAX_SIGNATURE_REFERENCES) {
    throw authError(
      `SignedInfo has ${refs.length} references (limit ${MAX_SIGNATURE_REFERENCES})`,
      'too-many-references',
    );
  }
  // Each part is signed once; a repeated URI adds no assurance and multiplies the digest work.
  const uris = new Set<string>();
  for (const r of refs) {
    if (uris.has(r.uri))
      throw authError(`${r.uri} is referenced twice`, 'duplicate-reference', { uri: r.uri });
    uris.add(r.uri);
  }
  for (const r of refs) checkAlgorithm('digest', r.digestMethod, policy);

  // WSS 1.1.1 §8.3 / X.509 Token Profile §3.2: the key.
  const token = resolveKeyInfo(keyInfo, {
    idMap,
    security: security!,
    knownCertificates: (options.knownCertificates ?? []).map(toCertificate),
  });
  if (!verifySignatureValue(signedInfo, sigValueEl, method, token.certificate.publicKey)) {
    throw authError('the SignatureValue does not verify', 'signature-value', {
      subject: token.certificate.subject,
    });
  }

  // XML Signature 1.1 §3.2.1 reference validation.
  const references: VerifiedReference[] = [];
  for (const r of refs) {
    if (r.uri.startsWith('cid:')) {
      references.push(attachmentReference(r));
      continue;
    }
    references.push(elementReference(r, idMap, ctx));
  }
  if (
    parts.messaging &&
    options.requireSignedMessaging !== false &&
    !references.some((r) => r.target === 'Messaging')
  ) {
    throw new EhmiError('EHMI_AS4_POLICY_NONCOMPLIANCE', 'eb:Messaging is not signed', {
      details: { reason: 'messaging-unsigned' },
    });
  }
  if (!references.some((r) => r.target === 'Body')) {
    throw new EhmiError('EHMI_AS4_POLICY_NONCOMPLIANCE', 'the SOAP Body is not signed', {
      details: { reason: 'body-unsigned' },
    });
  }
  const result: VerifyResult = {
    certificate: token.certificate,
    chain: token.chain,
    tokenReference: token.reference,
    signatureMethod: method,
    references,
    signature: sig,
  };
  // Coverage (which parts are signed, which signed parts are present) needs no plaintext: checked now even when
  // the digests wait for decryption, so a smuggled unsigned part never depends on a later call.
  if (options.detachedAttachments) {
    if (attachments.length > 0) {
      throw new EhmiError('EHMI_USAGE', 'verifyEnvelope: detachedAttachments with attachments given');
    }
    for (const r of references) if (r.target === 'attachment') r.contentId = r.uri.slice(4);
  } else {
    checkAttachmentCoverage(result, attachments);
    if (!options.deferAttachmentDigests) await verifyAttachmentReferences(result, attachments);
  }

  const ts = checkTimestamp(doc, {
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.skewSeconds !== undefined ? { skewSeconds: options.skewSeconds } : {}),
    required: options.requireTimestamp ?? false,
    window: options.timestampWindow ?? true,
  });
  if (ts && !references.some((r) => r.signedElement === ts)) {
    throw new EhmiError('EHMI_AS4_POLICY_NONCOMPLIANCE', 'the wsu:Timestamp is not signed', {
      details: { reason: 'timestamp-unsigned' },
    });
  }
  if (!(await options.trust(token.chain))) {
    throw authError('the signer certificate is not trusted', 'untrusted', {
      subject: token.certificate.subject,
    });
  }
  return result;
}

function attachmentReference(r: SignatureReference): VerifiedReference {
  const t = r.transforms;
  if (
    t.length !== 1 ||
    (t[0]!.algorithm !== SWA.contentSignatureTransform && t[0]!.algorithm !== SWA.completeSignatureTransform)
  ) {
    throw authError(`unsupported transforms on ${r.uri}`, 'transform', { uri: r.uri });
  }
  return { ...r, target: 'attachment', contentId: r.uri.slice(4), digestVerified: false };
}

function elementReference(
  r: SignatureReference,
  idMap: Map<string, Element>,
  ctx: { security: Element; parts: ReturnType<typeof envelopeParts> },
): VerifiedReference {
  // Only shorthand XPointers (`#id`): no whole-document or XPath references, so there is nothing to wrap.
  if (!/^#[^\s#()]+$/.test(r.uri)) throw authError(`unsupported reference URI "${r.uri}"`, 'reference');
  // Exactly one exclusive c14n transform (eDelivery AS4 1.15 §2.2.6.2); no transform would mean inclusive C14N 1.0
  // (XML Signature 1.1 §4.4.3.2), which AS4 does not use.
  if (r.transforms.length !== 1 || r.transforms[0]!.algorithm !== ALG.excC14n) {
    throw authError(`unsupported transforms on ${r.uri}`, 'transform', { uri: r.uri });
  }
  const el = idMap.get(r.uri.slice(1));
  if (!el) throw authError(`reference ${r.uri} resolves to no element`, 'reference-missing', { uri: r.uri });
  const { parts, security } = ctx;
  let target: ReferenceTarget;
  if (el === parts.messaging) target = 'Messaging';
  else if (el === parts.body) target = 'Body';
  else if (el.parentNode === security && el.namespaceURI === NS.wsu && el.localName === 'Timestamp') {
    target = 'Timestamp';
  } else if (
    el.parentNode === security &&
    el.namespaceURI === NS.wsse &&
    el.localName === 'BinarySecurityToken'
  ) {
    target = 'BinarySecurityToken';
  } else {
    // The signed element is not where the processor reads from: the classic wrapping attack.
    throw authError(
      `reference ${r.uri} points at an element outside its expected place`,
      'reference-misplaced',
      {
        uri: r.uri,
      },
    );
  }
  const digest = digestElement(el, {
    digestMethod: r.digestMethod,
    inclusivePrefixes: r.transforms[0]?.inclusivePrefixes ?? [],
  });
  if (!sameDigest(digest, r.digestValue)) {
    throw authError(`the digest of ${r.uri} (${target}) does not match`, 'digest', { uri: r.uri, target });
  }
  return { ...r, target, signedElement: el, digestVerified: true };
}

/**
 * Checks the `cid:` references of a verified signature against the attachments (SwA Profile 1.1 §5.3), streaming
 * each body. A referenced attachment that is missing, or a digest that differs, is EBMS:0101; an attachment that no
 * reference covers is EBMS:0103 (AS4 1.15 §2.2.6.2: all payload parts are signed). Called by
 * {@link verifyEnvelope} unless `deferAttachmentDigests` is set; then call it after decryption.
 *
 * @example
 * const result = await verifyEnvelope(doc, encrypted, { trust, deferAttachmentDigests: true });
 * const { attachments } = await decryptAttachments(doc, encrypted, { privateKey });
 * await verifyAttachmentReferences(result, attachments);
 */
export async function verifyAttachmentReferences(
  result: VerifyResult,
  attachments: readonly As4Attachment[],
): Promise<void> {
  const byId = checkAttachmentCoverage(result, attachments);
  for (const r of result.references) {
    // Checked already: taken while the part was read for its decryption and decompression (streamedAttachmentDigests).
    if (r.target !== 'attachment' || r.digestVerified) continue;
    const att = byId.get(r.contentId!)!;
    const digest = await digestAttachment(att, r.transforms[0]!.algorithm, digestName(r.digestMethod));
    if (!sameDigest(digest, r.digestValue)) {
      throw authError(`the digest of attachment ${r.uri} does not match`, 'digest', { uri: r.uri });
    }
    r.digestVerified = true;
  }
}

/** The deferred `cid:` digests of a verified signature, taken as the attachments are read: {@link streamedAttachmentDigests}. */
export interface StreamedAttachmentDigests {
  /** The function to give every octet of the attachment, as read; undefined when its digest cannot be streamed. */
  observer(contentId: string): ((chunk: Buffer) => void) | undefined;
  /** After the attachment was read in full: compares its digest (EBMS:0101 on a mismatch) and marks it verified. */
  check(contentId: string): void;
}

/**
 * The deferred `cid:` digests taken in another pass over the attachments (decryption and decompression read each
 * part once; SwA Profile 1.1 §5.3), instead of a pass of their own. Coverage is checked at once as
 * {@link verifyAttachmentReferences} does (EBMS:0101, EBMS:0103). An XML-typed part has no observer (its digest needs
 * the parsed document); a reference not checked here is left for {@link verifyAttachmentReferences}.
 *
 * @example
 * const digests = streamedAttachmentDigests(verified, attachments);
 * for await (const chunk of part.open()) digests.observer(part.contentId)?.(chunk);
 * digests.check(part.contentId);
 */
export function streamedAttachmentDigests(
  result: VerifyResult,
  attachments: readonly As4Attachment[],
): StreamedAttachmentDigests {
  const byId = checkAttachmentCoverage(result, attachments);
  const pending = new Map<string, { r: VerifiedReference; d: AttachmentDigester }>();
  for (const r of result.references) {
    if (r.target !== 'attachment' || r.digestVerified) continue;
    const att = byId.get(r.contentId!)!;
    const d = attachmentDigester(att.headers, r.transforms[0]!.algorithm, digestName(r.digestMethod));
    if (d) pending.set(att.contentId, { r, d });
  }
  return {
    observer: (contentId) => pending.get(contentId)?.d.update,
    check(contentId) {
      const p = pending.get(contentId);
      if (!p) return;
      pending.delete(contentId);
      if (!sameDigest(p.d.digest(), p.r.digestValue)) {
        throw authError(`the digest of attachment ${p.r.uri} does not match`, 'digest', { uri: p.r.uri });
      }
      p.r.digestVerified = true;
    },
  };
}

/**
 * Every `cid:` reference has its attachment (else EBMS:0101) and every attachment is referenced (else EBMS:0103);
 * Content-IDs are unique. Returns the attachments by Content-ID.
 */
function checkAttachmentCoverage(
  result: VerifyResult,
  attachments: readonly As4Attachment[],
): Map<string, As4Attachment> {
  const byId = new Map<string, As4Attachment>();
  for (const a of attachments) {
    if (byId.has(a.contentId)) {
      throw authError(`two attachments with Content-ID ${a.contentId}`, 'duplicate-content-id');
    }
    byId.set(a.contentId, a);
  }
  const covered = new Set<string>();
  for (const r of result.references) {
    if (r.target !== 'attachment') continue;
    const att = attachmentFor(byId, r.uri);
    if (!att)
      throw authError(`the signed attachment ${r.uri} is missing`, 'attachment-missing', { uri: r.uri });
    if (covered.has(att.contentId)) throw authError(`${r.uri} is referenced twice`, 'duplicate-reference');
    r.contentId = att.contentId;
    covered.add(att.contentId);
  }
  for (const a of attachments) {
    if (!covered.has(a.contentId)) {
      throw new EhmiError('EHMI_AS4_POLICY_NONCOMPLIANCE', `attachment cid:${a.contentId} is not signed`, {
        details: { reason: 'attachment-unsigned', contentId: a.contentId },
      });
    }
  }
  return byId;
}

/**
 * The attachment a `cid:` URI names. RFC 2392 says the Content-ID is URL-encoded in the URI; producers (phase4,
 * WSS4J) write it raw. Look it up as written, then decoded.
 */
export function attachmentFor(
  byId: ReadonlyMap<string, As4Attachment>,
  uri: string,
): As4Attachment | undefined {
  const raw = uri.slice(4);
  const found = byId.get(raw);
  if (found) return found;
  try {
    return byId.get(decodeURIComponent(raw));
  } catch {
    return undefined;
  }
}
