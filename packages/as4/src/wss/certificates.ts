import { createHash, type X509Certificate } from 'node:crypto';
import { EhmiError } from '@ehmi/errors';
import { type CertificateInput, toCertificate as toPkiCertificate } from '@ehmi/pki';

export type { CertificateInput };

/**
 * Normalises a certificate input to node:crypto's X509Certificate (which also parses RSA-PSS-signed OCES3 certs).
 * Unreadable input is EBMS:0101 (a token that cannot be read cannot authenticate anything).
 *
 * @example
 * const cert = toCertificate(readFileSync('partner.pem', 'utf8'));
 */
export function toCertificate(input: CertificateInput): X509Certificate {
  return toPkiCertificate(input, { what: 'security token', errorCode: 'EHMI_AS4_FAILED_AUTHENTICATION' });
}

interface Tlv {
  tag: number;
  start: number;
  end: number;
  /** Offset of the whole TLV (tag byte). */
  offset: number;
}

function readTlv(buf: Uint8Array, offset: number): Tlv {
  const tag = buf[offset]!;
  let len = buf[offset + 1]!;
  let start = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new Error('unsupported DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[start + i]!;
    start += n;
  }
  const end = start + len;
  if (end > buf.length) throw new Error('truncated DER');
  return { tag, start, end, offset };
}

function children(buf: Uint8Array, tlv: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let p = tlv.start; p < tlv.end; ) {
    const c = readTlv(buf, p);
    out.push(c);
    p = c.end;
  }
  return out;
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/**
 * Decodes a WSS X.509 Token Profile 1.1 §3.1 `X509PKIPathv1` token: an ASN.1 `SEQUENCE OF Certificate` ordered from
 * the trust anchor side to the signer, so the signer is the LAST element.
 *
 * @example
 * const path = decodePkiPath(Buffer.from(bst.textContent, 'base64'));
 * const signer = path[path.length - 1];
 */
export function decodePkiPath(der: Uint8Array): X509Certificate[] {
  try {
    const outer = readTlv(der, 0);
    if (outer.tag !== 0x30) throw new Error('not a SEQUENCE');
    return children(der, outer).map((c) => toCertificate(der.subarray(c.offset, c.end)));
  } catch (err) {
    throw new EhmiError('EHMI_AS4_FAILED_AUTHENTICATION', 'the X509PKIPathv1 token cannot be decoded', {
      cause: err,
    });
  }
}

/**
 * Encodes a chain (signer first, as callers usually hold it) as `X509PKIPathv1` (signer last).
 *
 * @example
 * const der = encodePkiPath([apCert, intermediateCa]);
 */
export function encodePkiPath(chainSignerFirst: readonly X509Certificate[]): Buffer {
  const certs = [...chainSignerFirst].reverse().map((c) => c.raw);
  const body = Buffer.concat(certs);
  return Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]);
}

const SKI_OID = Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x0e]);

/**
 * The subject key identifier (RFC 5280 §4.2.1.2) used by the WSS `X509SubjectKeyIdentifier` reference: the SKI
 * extension value, or when absent the SHA-1 of the subjectPublicKey bits (RFC 5280 method 1, as WSS4J does).
 *
 * @example
 * subjectKeyIdentifier(cert).toString('base64'); // the wsse:KeyIdentifier text
 */
export function subjectKeyIdentifier(cert: X509Certificate): Buffer {
  const der = cert.raw;
  const certSeq = readTlv(der, 0);
  const tbs = children(der, certSeq)[0]!;
  for (const field of children(der, tbs)) {
    if (field.tag !== 0xa3) continue;
    const extSeq = readTlv(der, field.start);
    for (const ext of children(der, extSeq)) {
      const parts = children(der, ext);
      const oid = parts[0]!;
      if (!Buffer.from(der.subarray(oid.offset, oid.end)).equals(SKI_OID)) continue;
      const octets = parts[parts.length - 1]!;
      const inner = readTlv(der, octets.start);
      return Buffer.from(der.subarray(inner.start, inner.end));
    }
  }
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
  const spkiSeq = readTlv(spki, 0);
  const bits = children(spki, spkiSeq)[1]!;
  return createHash('sha1')
    .update(spki.subarray(bits.start + 1, bits.end))
    .digest();
}

const ATTR_ALIASES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  S: 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.5': 'SERIALNUMBER',
  '2.5.4.97': 'ORGANIZATIONIDENTIFIER',
  '1.2.840.113549.1.9.1': 'EMAILADDRESS',
  E: 'EMAILADDRESS',
  EMAIL: 'EMAILADDRESS',
};

function normalizeAttr(pair: string): string {
  const eq = pair.indexOf('=');
  let type = pair.slice(0, eq).trim().toUpperCase();
  if (type.startsWith('OID.')) type = type.slice(4);
  type = ATTR_ALIASES[type] ?? type;
  const value = hexValue(pair.slice(eq + 1).trim())
    .replace(/^"(.*)"$/, '$1')
    .replace(/\\(.)/g, '$1')
    .replace(/\s+/g, ' ')
    .toLowerCase();
  return `${type}=${value}`;
}

/**
 * RFC 4514 §2.4: a value written `#` + hex is the BER of the attribute value. Java's `X500Principal.getName()` (so
 * WSS4J's X509IssuerName, e.g. from Domibus) writes every attribute type it has no keyword for that way:
 * emailAddress, serialNumber, organizationIdentifier. The string types are decoded; anything else stays as written.
 */
function hexValue(value: string): string {
  if (!/^#([0-9a-fA-F]{2})+$/.test(value)) return value;
  const der = Buffer.from(value.slice(1), 'hex');
  try {
    const tlv = readTlv(der, 0);
    if (tlv.end !== der.length) return value;
    const content = der.subarray(tlv.start, tlv.end);
    if (tlv.tag === 0x1e) return content.swap16().toString('utf16le'); // BMPString
    // UTF8String; PrintableString, TeletexString, IA5String (ASCII in practice).
    if ([0x0c, 0x13, 0x14, 0x16].includes(tlv.tag))
      return content.toString(tlv.tag === 0x0c ? 'utf8' : 'latin1');
  } catch {
    // not BER: compared as written
  }
  return value;
}

/** Splits an RFC 2253/4514 distinguished name on unescaped `,` `;` and `+`. */
function splitDn(dn: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < dn.length; i++) {
    const ch = dn[i]!;
    if (ch === '\\' && i + 1 < dn.length) {
      cur += ch + dn[++i];
      continue;
    }
    if (ch === '"') quoted = !quoted;
    if (!quoted && (ch === ',' || ch === ';' || ch === '+')) {
      if (cur.trim()) out.push(cur);
      cur = '';
      continue;
    }
    cur += ch;
  }
  if (cur.trim()) out.push(cur);
  return out;
}

/** The issuer attributes of a certificate, normalised, as a sorted list (order-insensitive comparison). */
function issuerAttrs(cert: X509Certificate): string[] {
  return cert.issuer
    .split('\n')
    .filter((l) => l.includes('='))
    .map(normalizeAttr)
    .sort();
}

/** True when an XML-DSig `X509IssuerName` (RFC 2253 string) and `X509SerialNumber` (decimal) name this certificate. */
export function matchesIssuerSerial(cert: X509Certificate, issuerName: string, serial: string): boolean {
  let wanted: bigint;
  try {
    wanted = BigInt(serial.trim());
  } catch {
    return false;
  }
  if (BigInt(`0x${cert.serialNumber}`) !== wanted) return false;
  const a = splitDn(issuerName).map(normalizeAttr).sort();
  const b = issuerAttrs(cert);
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** The issuer as an RFC 2253 string (most significant RDN last) and the serial number in decimal. */
export function issuerSerialOf(cert: X509Certificate): { issuerName: string; serialNumber: string } {
  const rdns = cert.issuer.split('\n').filter((l) => l.includes('='));
  const issuerName = rdns
    .reverse()
    .map((l) => {
      const eq = l.indexOf('=');
      return `${l.slice(0, eq)}=${l.slice(eq + 1).replace(/([,+"\\<>;])/g, '\\$1')}`;
    })
    .join(',');
  return { issuerName, serialNumber: BigInt(`0x${cert.serialNumber}`).toString(10) };
}
