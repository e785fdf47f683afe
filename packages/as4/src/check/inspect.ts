import { X509Certificate } from 'node:crypto';
import { childElement, childElements, type Element, textOf } from '@ehmi/xml';
import type { As4Limits } from '../limits.ts';
import type { AttachmentSink } from '../mime/sink.ts';
import type { As4Attachment } from '../model/attachment.ts';
import type { EbmsErrorElement } from '../model/signal-message.ts';
import {
  type AgreementRef,
  contentIdOfHref,
  finalRecipient,
  originalSender,
  type PartInfo,
  type Party,
  type Property,
  propertyValue,
  type Service,
} from '../model/user-message.ts';
import { decodePkiPath } from '../wss/certificates.ts';
import { NS, SWA, TOKEN } from '../wss/ns.ts';
import { attachmentFor } from '../wss/verify.ts';
import { type As4MessageKind, kindOf, openAs4Message } from './open.ts';

/** How a signature or EncryptedKey names its certificate (WSS X.509 Token Profile 1.1 §3.2, XML Signature §4.5). */
export type KeyReferenceKind =
  | 'BinarySecurityToken (X509v3)'
  | 'BinarySecurityToken (X509PKIPathv1)'
  | 'IssuerSerial'
  | 'SKI'
  | 'Thumbprint'
  | 'KeyIdentifier (X509v3)'
  | 'X509Certificate'
  | 'KeyValue'
  | 'AgreementMethod'
  | 'other';

export interface As4PartSummary {
  href?: string;
  contentId?: string;
  /** PartProperties as carried (MimeType, CompressionType, CharacterSet, …). */
  properties: Property[];
  mimeType?: string;
  compressionType?: string;
  /** The MIME part's own Content-Type, and its size as carried (octets). */
  contentType?: string;
  size?: number;
  /** True when an xenc:EncryptedData covers the part. */
  encrypted: boolean;
}

export interface As4SecuritySummary {
  signed: boolean;
  signature?: {
    method: string;
    canonicalization: string;
    digestMethods: string[];
    references: { uri: string; transforms: string[]; digestMethod: string }[];
    keyReference: KeyReferenceKind;
    /** The certificate the message carries (BinarySecurityToken or ds:X509Certificate), not verified. */
    certificate?: { subject: string; issuer: string; serialNumber: string };
  };
  timestamp?: { created?: string; expires?: string };
  encrypted: boolean;
  encryption?: {
    keys: { algorithm: string; digest?: string; mgf?: string; keyReference: KeyReferenceKind }[];
    data: { contentId?: string; algorithm: string; type: string; mimeType?: string }[];
  };
}

/** What `ehmi as4 inspect` prints: the ebMS header, the parts and the security header, nothing verified. */
export interface As4MessageSummary {
  kind: As4MessageKind;
  soapVersion: '1.1' | '1.2';
  /** The Content-Type of the body (from the file's headers, or deduced). */
  contentType: string;
  messageId?: string;
  timestamp?: string;
  refToMessageId?: string;
  mpc?: string;
  from?: Party;
  to?: Party;
  service?: Service;
  action?: string;
  conversationId?: string;
  agreement?: AgreementRef;
  properties: Property[];
  originalSender?: string;
  finalRecipient?: string;
  parts: As4PartSummary[];
  errors: EbmsErrorElement[];
  receipt?: { nonRepudiation: boolean; references: number };
  security: As4SecuritySummary;
}

/**
 * Summarises a saved AS4 message without checking its security: the ebMS header (ebMS3 Core §5.2), the parts with
 * their properties, what the Security header uses (signature and digest algorithms, how the key is referenced,
 * encryption algorithms). The file is read as {@link openAs4Message} reads it (its errors are this function's).
 *
 * @example
 * const s = await inspectAs4Message(readFileSync('message.as4'));
 * console.log(s.kind, s.messageId, s.security.signature?.method);
 */
export async function inspectAs4Message(
  bytes: Uint8Array,
  options: { limits?: Partial<As4Limits>; sink?: AttachmentSink } = {},
): Promise<As4MessageSummary> {
  const msg = await openAs4Message(bytes, options);
  try {
    const { envelope, messaging } = msg;
    const security = securitySummary(envelope.security);
    const encryptedIds = new Set(security.encryption?.data.map((d) => d.contentId) ?? []);
    const kind = kindOf(messaging);
    const byId = new Map(msg.attachments.map((a) => [a.contentId, a] as const));
    let summary: As4MessageSummary;
    if (messaging.kind === 'user') {
      const um = messaging.userMessage;
      const mi = um.messageInfo;
      const ci = um.collaborationInfo;
      const os = originalSender(um)?.value;
      const fr = finalRecipient(um)?.value;
      summary = {
        kind,
        soapVersion: envelope.soapVersion,
        contentType: msg.file.contentType,
        messageId: mi.messageId,
        timestamp: mi.timestamp,
        ...(mi.refToMessageId !== undefined ? { refToMessageId: mi.refToMessageId } : {}),
        ...(um.mpc !== undefined ? { mpc: um.mpc } : {}),
        from: um.partyInfo.from,
        to: um.partyInfo.to,
        service: ci.service,
        action: ci.action,
        conversationId: ci.conversationId,
        ...(ci.agreementRef ? { agreement: ci.agreementRef } : {}),
        properties: um.messageProperties,
        ...(os !== undefined ? { originalSender: os } : {}),
        ...(fr !== undefined ? { finalRecipient: fr } : {}),
        parts: um.payloadInfo.map((p) => partSummary(p, byId, encryptedIds)),
        errors: [],
        security,
      };
    } else {
      const s = messaging.signalMessages[0];
      summary = {
        kind,
        soapVersion: envelope.soapVersion,
        contentType: msg.file.contentType,
        ...(s ? { messageId: s.messageInfo.messageId, timestamp: s.messageInfo.timestamp } : {}),
        ...(s?.messageInfo.refToMessageId !== undefined
          ? { refToMessageId: s.messageInfo.refToMessageId }
          : {}),
        ...(s?.pullRequest ? { mpc: s.pullRequest.mpc } : {}),
        properties: [],
        parts: [],
        errors: s?.errors ?? [],
        ...(s?.receipt
          ? {
              receipt: {
                nonRepudiation: s.receipt.nonRepudiationInformation !== undefined,
                references: s.receipt.nonRepudiationInformation?.length ?? 0,
              },
            }
          : {}),
        security,
      };
    }
    return summary;
  } finally {
    await msg.dispose();
  }
}

function partSummary(
  p: PartInfo,
  byId: ReadonlyMap<string, As4Attachment>,
  encryptedIds: ReadonlySet<string | undefined>,
): As4PartSummary {
  const att = contentIdOfHref(p.href) === undefined ? undefined : attachmentFor(byId, p.href!);
  const mimeType = propertyValue(p.partProperties, 'MimeType');
  const compressionType = propertyValue(p.partProperties, 'CompressionType');
  return {
    ...(p.href !== undefined ? { href: p.href } : {}),
    ...(att ? { contentId: att.contentId } : {}),
    properties: p.partProperties,
    ...(mimeType !== undefined ? { mimeType } : {}),
    ...(compressionType !== undefined ? { compressionType } : {}),
    ...(att?.headers['content-type'] ? { contentType: att.headers['content-type'] } : {}),
    ...(att?.size !== undefined ? { size: att.size } : {}),
    encrypted: att !== undefined && encryptedIds.has(att.contentId),
  };
}

function securitySummary(security: Element | undefined): As4SecuritySummary {
  const out: As4SecuritySummary = { signed: false, encrypted: false };
  if (!security) return out;
  const bsts = new Map<string, Element>();
  for (const bst of childElements(security, NS.wsse, 'BinarySecurityToken')) {
    const id = bst.getAttributeNS(NS.wsu, 'Id') ?? bst.getAttribute('Id');
    if (id) bsts.set(id, bst);
  }
  const sig = childElement(security, NS.ds, 'Signature');
  const si = sig && childElement(sig, NS.ds, 'SignedInfo');
  if (sig && si) {
    const refs = childElements(si, NS.ds, 'Reference').map((r) => {
      const t = childElement(r, NS.ds, 'Transforms');
      return {
        uri: r.getAttribute('URI') ?? '',
        transforms: t
          ? childElements(t, NS.ds, 'Transform').map((x) => x.getAttribute('Algorithm') ?? '')
          : [],
        digestMethod: childElement(r, NS.ds, 'DigestMethod')?.getAttribute('Algorithm') ?? '',
      };
    });
    const keyInfo = childElement(sig, NS.ds, 'KeyInfo');
    const { kind, certificate } = keyReference(keyInfo, bsts);
    out.signed = true;
    out.signature = {
      method: childElement(si, NS.ds, 'SignatureMethod')?.getAttribute('Algorithm') ?? '',
      canonicalization: childElement(si, NS.ds, 'CanonicalizationMethod')?.getAttribute('Algorithm') ?? '',
      digestMethods: [...new Set(refs.map((r) => r.digestMethod))],
      references: refs,
      keyReference: kind,
    };
    if (certificate) out.signature.certificate = certificate;
  }
  const ts = childElement(security, NS.wsu, 'Timestamp');
  if (ts) {
    const created = textOf(childElement(ts, NS.wsu, 'Created'));
    const expires = textOf(childElement(ts, NS.wsu, 'Expires'));
    out.timestamp = {
      ...(created !== undefined ? { created } : {}),
      ...(expires !== undefined ? { expires } : {}),
    };
  }
  const keys = childElements(security, NS.xenc, 'EncryptedKey');
  const data = childElements(security, NS.xenc, 'EncryptedData');
  if (keys.length > 0 || data.length > 0) {
    out.encrypted = true;
    out.encryption = {
      keys: keys.map((k) => {
        const m = childElement(k, NS.xenc, 'EncryptionMethod');
        const digest = m && childElement(m, NS.ds, 'DigestMethod')?.getAttribute('Algorithm');
        const mgf = m && childElement(m, NS.xenc11, 'MGF')?.getAttribute('Algorithm');
        return {
          algorithm: m?.getAttribute('Algorithm') ?? '',
          ...(digest ? { digest } : {}),
          ...(mgf ? { mgf } : {}),
          keyReference: keyReference(childElement(k, NS.ds, 'KeyInfo'), bsts).kind,
        };
      }),
      data: data.map((d) => {
        const cd = childElement(d, NS.xenc, 'CipherData');
        const uri = (cd && childElement(cd, NS.xenc, 'CipherReference')?.getAttribute('URI')) ?? '';
        const mimeType = d.getAttribute('MimeType');
        const type = d.getAttribute('Type') ?? '';
        return {
          ...(uri.startsWith('cid:') ? { contentId: uri.slice(4) } : {}),
          algorithm: childElement(d, NS.xenc, 'EncryptionMethod')?.getAttribute('Algorithm') ?? '',
          type:
            type === SWA.contentOnly
              ? 'Attachment-Content-Only'
              : type === SWA.complete
                ? 'Attachment-Complete'
                : type,
          ...(mimeType ? { mimeType } : {}),
        };
      }),
    };
  }
  return out;
}

function keyReference(
  keyInfo: Element | undefined,
  bsts: Map<string, Element>,
): { kind: KeyReferenceKind; certificate?: { subject: string; issuer: string; serialNumber: string } } {
  if (!keyInfo) return { kind: 'other' };
  if (childElement(keyInfo, NS.xenc, 'AgreementMethod')) return { kind: 'AgreementMethod' };
  const str = childElement(keyInfo, NS.wsse, 'SecurityTokenReference');
  if (!str) {
    const data = childElement(keyInfo, NS.ds, 'X509Data');
    const certEl = data && childElement(data, NS.ds, 'X509Certificate');
    if (certEl)
      return {
        kind: 'X509Certificate',
        ...describeCert(() => [Buffer.from(textOf(certEl) ?? '', 'base64')]),
      };
    if (childElement(keyInfo, NS.ds, 'KeyValue')) return { kind: 'KeyValue' };
    return { kind: 'other' };
  }
  const ref = childElement(str, NS.wsse, 'Reference');
  if (ref) {
    const bst = bsts.get((ref.getAttribute('URI') ?? '').replace(/^#/, ''));
    const pkiPath = bst?.getAttribute('ValueType') === TOKEN.x509PkiPathV1;
    const der = () => {
      const bytes = Buffer.from((bst?.textContent ?? '').replace(/\s+/g, ''), 'base64');
      return pkiPath
        ? decodePkiPath(bytes)
            .map((c) => c.raw)
            .reverse()
        : [bytes];
    };
    return {
      kind: pkiPath ? 'BinarySecurityToken (X509PKIPathv1)' : 'BinarySecurityToken (X509v3)',
      ...(bst ? describeCert(der) : {}),
    };
  }
  const keyIdType = childElement(str, NS.wsse, 'KeyIdentifier')?.getAttribute('ValueType');
  if (keyIdType === TOKEN.x509Ski) return { kind: 'SKI' };
  if (keyIdType === TOKEN.thumbprintSha1) return { kind: 'Thumbprint' };
  if (keyIdType === TOKEN.x509v3) return { kind: 'KeyIdentifier (X509v3)' };
  const data = childElement(str, NS.ds, 'X509Data');
  if (data && childElement(data, NS.ds, 'X509IssuerSerial')) return { kind: 'IssuerSerial' };
  if (data && childElement(data, NS.ds, 'X509SKI')) return { kind: 'SKI' };
  return { kind: 'other' };
}

/** The signer-side certificate of a token (first of the DER list), or nothing when it cannot be read. */
function describeCert(der: () => Buffer[]): {
  certificate?: { subject: string; issuer: string; serialNumber: string };
} {
  try {
    const cert = new X509Certificate(der()[0]!);
    return {
      certificate: {
        subject: cert.subject.replace(/\n/g, ', '),
        issuer: cert.issuer.replace(/\n/g, ', '),
        serialNumber: cert.serialNumber,
      },
    };
  } catch {
    return {};
  }
}
