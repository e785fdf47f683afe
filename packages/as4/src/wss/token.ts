import { createHash, type X509Certificate } from 'node:crypto';
import { EhmiError } from '@ehmi/errors';
import { childElement, childElements, type Element, textOf } from '@ehmi/xml';
import { attrs, emptyElement, text, textElement } from '../lib/xml-text.ts';
import {
  decodePkiPath,
  encodePkiPath,
  issuerSerialOf,
  matchesIssuerSerial,
  subjectKeyIdentifier,
  toCertificate,
} from './certificates.ts';
import { newId } from './ids.ts';
import { NS, TOKEN } from './ns.ts';

/**
 * How a signature or EncryptedKey points at its certificate (WSS X.509 Token Profile 1.1 §3.2): a
 * BinarySecurityToken in the header, the issuer and serial number, or the subject key identifier.
 * eDelivery AS4 1.15 §2.2.6.2.1: implementations SHOULD support all three, and SHOULD use the BinarySecurityToken.
 */
export type TokenReference = 'BinarySecurityToken' | 'IssuerSerial' | 'SKI' | 'Thumbprint';

/** BinarySecurityToken value type: a single X509v3 certificate, or the whole path (Dynamic Receiver §1.5.3). */
export type BstValueType = 'X509v3' | 'X509PKIPathv1';

/**
 * A wsse:BinarySecurityToken carrying the certificate (or the path) as text, with its fresh wsu:Id, for a
 * wsse:Security header that declares `wsse` and `wsu`.
 */
export function binarySecurityTokenXml(
  chainSignerFirst: readonly X509Certificate[],
  valueType: BstValueType,
): { xml: string; id: string } {
  const id = newId('X509');
  const xml =
    `<wsse:BinarySecurityToken${attrs({
      EncodingType: TOKEN.base64Binary,
      ValueType: valueType === 'X509v3' ? TOKEN.x509v3 : TOKEN.x509PkiPathV1,
      'wsu:Id': id,
    })}>` +
    tokenText(chainSignerFirst, valueType) +
    '</wsse:BinarySecurityToken>';
  return { xml, id };
}

/** The token's content last written for a signer's certificate: the chain it was written for, and the text. */
const tokenTexts = new WeakMap<
  X509Certificate,
  { chain: readonly X509Certificate[]; valueType: BstValueType; text: string }
>();

/**
 * The BinarySecurityToken's content (the certificate's or the path's DER in base64, escaped as text) for a chain:
 * written once per signer and chain, as the same certificates always give the same octets (a node signs every
 * message and receipt with one chain; the path's DER, its base64 and the character check were about 15 µs each
 * time). A chain of other objects, or another value type, is written anew.
 */
function tokenText(chain: readonly X509Certificate[], valueType: BstValueType): string {
  const signer = chain[0]!;
  const held = tokenTexts.get(signer);
  if (
    held &&
    held.valueType === valueType &&
    held.chain.length === chain.length &&
    held.chain.every((c, i) => c === chain[i])
  ) {
    return held.text;
  }
  const der = valueType === 'X509v3' ? signer.raw : encodePkiPath(chain);
  const content = text(der.toString('base64'));
  tokenTexts.set(signer, { chain: [...chain], valueType, text: content });
  return content;
}

/**
 * A wsse:SecurityTokenReference for the certificate as text (WSS X.509 Token Profile 1.1 §3.2), for a place where
 * `wsse` is declared; `ds` is declared where it is used.
 */
export function tokenReferenceXml(
  kind: TokenReference,
  cert: X509Certificate,
  bst?: { id: string; valueType: BstValueType },
): string {
  let inner: string;
  if (kind === 'BinarySecurityToken') {
    if (!bst) throw new EhmiError('EHMI_INTERNAL', 'a BinarySecurityToken reference needs the token');
    inner = emptyElement('wsse:Reference', {
      URI: `#${bst.id}`,
      ValueType: bst.valueType === 'X509v3' ? TOKEN.x509v3 : TOKEN.x509PkiPathV1,
    });
  } else if (kind === 'IssuerSerial') {
    const { issuerName, serialNumber } = issuerSerialOf(cert);
    inner =
      `<ds:X509Data xmlns:ds="${NS.ds}"><ds:X509IssuerSerial>` +
      textElement('ds:X509IssuerName', issuerName) +
      textElement('ds:X509SerialNumber', serialNumber) +
      '</ds:X509IssuerSerial></ds:X509Data>';
  } else {
    const [value, valueType] =
      kind === 'Thumbprint'
        ? [thumbprintSha1(cert), TOKEN.thumbprintSha1]
        : [subjectKeyIdentifier(cert), TOKEN.x509Ski];
    inner = textElement('wsse:KeyIdentifier', value.toString('base64'), {
      EncodingType: TOKEN.base64Binary,
      ValueType: valueType,
    });
  }
  return `<wsse:SecurityTokenReference>${inner}</wsse:SecurityTokenReference>`;
}

/** The certificate a key reference resolved to, with the path when the token carried one (signer first). */
export interface ResolvedToken {
  certificate: X509Certificate;
  chain: X509Certificate[];
  reference: TokenReference;
}

function decodeBst(bst: Element): X509Certificate[] {
  const encoding = bst.getAttribute('EncodingType');
  if (encoding && encoding !== TOKEN.base64Binary) {
    throw new EhmiError('EHMI_AS4_FAILED_AUTHENTICATION', `unsupported token encoding ${encoding}`);
  }
  const valueType = bst.getAttribute('ValueType') ?? '';
  const pkiPath = valueType === TOKEN.x509PkiPathV1;
  if (!pkiPath && valueType !== TOKEN.x509v3 && valueType !== '') {
    throw new EhmiError(
      'EHMI_AS4_FAILED_AUTHENTICATION',
      `unsupported BinarySecurityToken ValueType ${valueType}`,
    );
  }
  const der = Buffer.from((bst.textContent ?? '').replace(/\s+/g, ''), 'base64');
  // The key is the octets, written into a string of its own: a slice of the parsed text would keep the whole
  // envelope it was cut from alive as long as the entry, and the same octets differently wrapped are one token.
  const key = `${pkiPath ? 'p' : 'c'}${der.toString('latin1')}`;
  const held = decodedTokens.get(key);
  if (held) {
    decodedTokens.delete(key);
    decodedTokens.set(key, held);
    return [...held];
  }
  const chain = pkiPath ? decodePkiPath(der).reverse() : [toCertificate(der)];
  if (der.length <= MAX_DECODED_TOKEN_BYTES) {
    if (decodedTokens.size >= MAX_DECODED_TOKENS) decodedTokens.delete(decodedTokens.keys().next().value!);
    decodedTokens.set(key, chain);
  }
  return [...chain];
}

/**
 * The certificates of the tokens read most recently, by the token's kind (a path or one certificate) and its octets, least recently used
 * out first. A partner's AP sends the same token with every message and receipt; its base64, the path's DER and the
 * certificates' cache keys were worked out again each time (about 10 µs). Only the reading is kept: whether a
 * certificate is trusted, valid, meant for AS4 and not revoked is decided by each message's checks, as before.
 */
const MAX_DECODED_TOKENS = 100;
/** A longer token (a path of a few certificates is 2–5 KB of DER) is read each time: the keys hold at most 1.2 MB. */
const MAX_DECODED_TOKEN_BYTES = 12 * 1024;
const decodedTokens = new Map<string, readonly X509Certificate[]>();

/** Every certificate carried in BinarySecurityTokens of the Security header (candidates for SKI/IssuerSerial). */
function headerCertificates(security: Element): X509Certificate[][] {
  return childElements(security, NS.wsse, 'BinarySecurityToken').flatMap((bst) => {
    try {
      return [decodeBst(bst)];
    } catch {
      return [];
    }
  });
}

export interface ResolveContext {
  idMap: Map<string, Element>;
  security: Element;
  /** Partner certificates known out of band (P-Mode, SMP), for IssuerSerial and SKI references. */
  knownCertificates?: readonly X509Certificate[];
}

/**
 * Resolves a ds:KeyInfo (or xenc:RecipientKeyInfo) to a certificate. A direct reference must point at a
 * wsse:BinarySecurityToken that is a child of this Security header (the element processed is the element referenced).
 */
export function resolveKeyInfo(keyInfo: Element, ctx: ResolveContext): ResolvedToken {
  const fail = (msg: string) =>
    new EhmiError('EHMI_AS4_FAILED_AUTHENTICATION', msg, { details: { reason: 'key-info' } });
  const candidates = (): X509Certificate[][] => [
    ...headerCertificates(ctx.security),
    ...(ctx.knownCertificates ?? []).map((c) => [c]),
  ];
  const str = childElement(keyInfo, NS.wsse, 'SecurityTokenReference');
  if (!str) {
    // XML Signature 1.1 §4.5.4 ds:X509Data straight in the KeyInfo: the certificate itself, or a name for it.
    const x509Data = childElement(keyInfo, NS.ds, 'X509Data');
    const certEl = x509Data && childElement(x509Data, NS.ds, 'X509Certificate');
    if (certEl) {
      const cert = toCertificate(Buffer.from((certEl.textContent ?? '').replace(/\s+/g, ''), 'base64'));
      return { certificate: cert, chain: [cert], reference: 'BinarySecurityToken' };
    }
    const named = x509Data && resolveX509Data(x509Data, candidates(), fail);
    if (named) return named;
    throw fail('the KeyInfo has no SecurityTokenReference');
  }
  const ref = childElement(str, NS.wsse, 'Reference');
  if (ref) {
    const uri = ref.getAttribute('URI') ?? '';
    if (!uri.startsWith('#')) throw fail(`unsupported token reference ${uri}`);
    const target = ctx.idMap.get(uri.slice(1));
    if (
      !target ||
      target.namespaceURI !== NS.wsse ||
      target.localName !== 'BinarySecurityToken' ||
      target.parentNode !== ctx.security
    ) {
      throw fail(
        `the token reference ${uri} does not point at a BinarySecurityToken of this Security header`,
      );
    }
    const chain = decodeBst(target);
    return { certificate: chain[0]!, chain, reference: 'BinarySecurityToken' };
  }
  const keyId = childElement(str, NS.wsse, 'KeyIdentifier');
  if (keyId) return resolveKeyIdentifier(keyId, candidates(), fail);
  const data = childElement(str, NS.ds, 'X509Data');
  const named = data && resolveX509Data(data, candidates(), fail);
  if (named) return named;
  throw fail('unsupported SecurityTokenReference');
}

/** The SHA-1 of the certificate's DER encoding: the value of a ThumbprintSHA1 key identifier. */
function thumbprintSha1(cert: X509Certificate): Buffer {
  return createHash('sha1').update(cert.raw).digest();
}

type Fail = (message: string) => EhmiError;

/**
 * A wsse:KeyIdentifier (WSS X.509 Token Profile 1.1 §3.2; SOAP Message Security 1.1 §7.2): a subject key
 * identifier or a SHA-1 thumbprint, matched against the candidates, or the certificate itself (X509v3).
 */
function resolveKeyIdentifier(keyId: Element, candidates: X509Certificate[][], fail: Fail): ResolvedToken {
  const encoding = keyId.getAttribute('EncodingType');
  if (encoding && encoding !== TOKEN.base64Binary)
    throw fail(`unsupported KeyIdentifier encoding ${encoding}`);
  const value = Buffer.from((textOf(keyId) ?? '').replace(/\s+/g, ''), 'base64');
  const valueType = keyId.getAttribute('ValueType');
  if (valueType === TOKEN.x509v3) {
    const cert = toCertificate(value);
    return { certificate: cert, chain: [cert], reference: 'BinarySecurityToken' };
  }
  if (valueType === TOKEN.x509Ski) {
    const found = candidates.find((chain) => subjectKeyIdentifier(chain[0]!).equals(value));
    if (!found) throw fail('no known certificate matches the X509SubjectKeyIdentifier');
    return { certificate: found[0]!, chain: found, reference: 'SKI' };
  }
  if (valueType === TOKEN.thumbprintSha1) {
    const found = candidates.find((chain) => thumbprintSha1(chain[0]!).equals(value));
    if (!found) throw fail('no known certificate matches the ThumbprintSHA1');
    return { certificate: found[0]!, chain: found, reference: 'Thumbprint' };
  }
  throw fail(`unsupported KeyIdentifier ValueType ${valueType}`);
}

/** A ds:X509Data that names a certificate (X509IssuerSerial or X509SKI), matched against the candidates. */
function resolveX509Data(
  data: Element,
  candidates: X509Certificate[][],
  fail: Fail,
): ResolvedToken | undefined {
  const is = childElement(data, NS.ds, 'X509IssuerSerial');
  if (is) {
    const name = textOf(childElement(is, NS.ds, 'X509IssuerName')) ?? '';
    const serial = textOf(childElement(is, NS.ds, 'X509SerialNumber')) ?? '';
    const found = candidates.find((chain) => matchesIssuerSerial(chain[0]!, name, serial));
    if (!found) throw fail('no known certificate matches the X509IssuerSerial');
    return { certificate: found[0]!, chain: found, reference: 'IssuerSerial' };
  }
  const skiEl = childElement(data, NS.ds, 'X509SKI');
  if (skiEl) {
    const ski = Buffer.from((textOf(skiEl) ?? '').replace(/\s+/g, ''), 'base64');
    const found = candidates.find((chain) => subjectKeyIdentifier(chain[0]!).equals(ski));
    if (!found) throw fail('no known certificate matches the X509SKI');
    return { certificate: found[0]!, chain: found, reference: 'SKI' };
  }
  return undefined;
}
