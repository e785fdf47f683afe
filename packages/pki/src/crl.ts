import 'reflect-metadata';
import type { X509Certificate } from 'node:crypto';
import { EhmiError, type EhmiErrorCode } from '@ehmi/errors';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  Certificate as AsnCertificate,
  CertificateList,
  CRLNumber,
  CRLReason,
  id_ce_cRLNumber,
  id_ce_cRLReasons,
} from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';
import { oneLineName } from './certificate.ts';
import { authorityKeyIdentifier, type CertificateAuthority, signerKey, signingAlgorithm } from './issue.ts';
import { verifySignature } from './signature.ts';

/** CRLReason codes (RFC 5280 §5.3.1), by name. */
export type RevocationReason =
  | 'unspecified'
  | 'keyCompromise'
  | 'cACompromise'
  | 'affiliationChanged'
  | 'superseded'
  | 'cessationOfOperation'
  | 'certificateHold'
  | 'removeFromCRL'
  | 'privilegeWithdrawn'
  | 'aACompromise';

const REASONS: Record<RevocationReason, number> = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
};

/** @internal The CRLReason code of a reason name. */
export function reasonCode(reason: RevocationReason): number {
  return REASONS[reason];
}

/** @internal The reason name of a CRLReason code. */
export function reasonName(code: number | undefined): RevocationReason | undefined {
  if (code === undefined) return undefined;
  return (Object.keys(REASONS) as RevocationReason[]).find((k) => REASONS[k] === code) ?? 'unspecified';
}

/** @internal A serial number in one spelling: lower-case hex without leading zeros, whatever the source. */
export function normalSerial(serial: string): string {
  return BigInt(`0x${serial.replace(/[^0-9a-f]/gi, '') || '0'}`).toString(16);
}

export interface RevokedEntry {
  /** Hex, as node:crypto's `X509Certificate.serialNumber` gives it. */
  serialNumber: string;
  revokedAt: Date;
  reason?: RevocationReason;
}

export interface IssueCrlOptions {
  revoked: readonly RevokedEntry[];
  /** Default: now. */
  thisUpdate?: Date;
  /** When the next CRL will be issued; relying parties treat this one as stale after it. */
  nextUpdate: Date;
  /** The cRLNumber extension (RFC 5280 §5.2.3), monotonically increasing per CA. Default 1. */
  crlNumber?: number;
}

export interface IssuedCrl {
  der: Buffer;
  pem: string;
}

/**
 * Issue a v2 CRL signed by `ca`, listing `revoked`, with the authorityKeyIdentifier and cRLNumber extensions RFC
 * 5280 §5.2 requires of conforming CAs.
 *
 * @example
 * const { der } = await issueCrl(ca, {
 *   revoked: [{ serialNumber: ap.certificate.serialNumber, revokedAt: new Date(), reason: 'keyCompromise' }],
 *   nextUpdate: new Date(Date.now() + 86_400_000),
 * });
 */
export async function issueCrl(ca: CertificateAuthority, options: IssueCrlOptions): Promise<IssuedCrl> {
  const crlNumber = new x509.Extension(
    id_ce_cRLNumber,
    false,
    AsnConvert.serialize(new CRLNumber(options.crlNumber ?? 1)),
  );
  const crl = await x509.X509CrlGenerator.create({
    issuer: new x509.X509Certificate(ca.certificate.raw).subjectName,
    thisUpdate: options.thisUpdate ?? new Date(),
    nextUpdate: options.nextUpdate,
    signingKey: await signerKey(ca),
    signingAlgorithm: signingAlgorithm(ca.keyType) as never,
    extensions: [await authorityKeyIdentifier(ca), crlNumber],
    entries: options.revoked.map((e) => ({
      serialNumber: normalSerial(e.serialNumber).padStart(2, '0'),
      revocationDate: e.revokedAt,
      ...(e.reason ? { reason: REASONS[e.reason] } : {}),
    })),
  });
  const der = Buffer.from(crl.rawData);
  // RFC 7468 §5 labels a CRL `X509 CRL` (as OpenSSL writes and expects it); @peculiar/x509 writes `CRL`.
  const base64 = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return { der, pem: `-----BEGIN X509 CRL-----\n${base64}\n-----END X509 CRL-----\n` };
}

/** A CRL whose signature, issuer and currency were checked by `readCrl`. */
export interface VerifiedCrl {
  der: Buffer;
  issuer: string;
  thisUpdate: Date;
  nextUpdate?: Date;
  crlNumber?: number;
  entries: readonly RevokedEntry[];
  /** The entry revoking `serialNumber` (hex), or undefined when this CRL does not list it. */
  revoked(serialNumber: string): RevokedEntry | undefined;
}

export interface ReadCrlOptions {
  /** When thisUpdate/nextUpdate are checked. Default: now. */
  at?: Date;
  /** How long past nextUpdate a CRL is still accepted (a CA publishing a little late). Default 0. */
  graceMs?: number;
  /** The error code to throw. Default EHMI_CERTIFICATE_UNTRUSTED. */
  errorCode?: EhmiErrorCode;
}

/** CRL extensions we know how to process; any other marked critical makes the CRL unusable (RFC 5280 §5.2). */
const KNOWN_CRL_EXTENSIONS = new Set([id_ce_cRLNumber, '2.5.29.35']);

function toDer(input: Uint8Array | string): Buffer {
  if (typeof input !== 'string') return Buffer.from(input);
  const m = /-----BEGIN (?:X509 )?CRL-----([\s\S]+?)-----END (?:X509 )?CRL-----/.exec(input);
  if (!m) throw new Error('no PEM X509 CRL found');
  return Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
}

/**
 * Read a CRL (DER or PEM) and check it the way RFC 5280 §6.3.3 asks before use: issued under `issuer`'s name,
 * signed by `issuer`'s key (which must be allowed cRLSign), no unknown critical extension, thisUpdate not in the
 * future and nextUpdate not past (plus `graceMs`) at `at`. Throws `errorCode` (default
 * EHMI_CERTIFICATE_UNTRUSTED) saying which check failed; a CRL that comes back can be trusted to answer `revoked`.
 *
 * @example
 * const crl = readCrl(await (await fetch(url)).bytes(), caCertificate);
 * if (crl.revoked(peer.serialNumber)) throw new Error('revoked');
 */
export function readCrl(
  input: Uint8Array | string,
  issuer: X509Certificate,
  options: ReadCrlOptions = {},
): VerifiedCrl {
  const code = options.errorCode ?? 'EHMI_CERTIFICATE_UNTRUSTED';
  const ca = oneLineName(issuer.subject);
  const fail = (message: string, cause?: unknown) =>
    new EhmiError(code, message, { details: { issuer: issuer.subject }, ...(cause ? { cause } : {}) });
  let der: Buffer;
  let asn: CertificateList;
  try {
    der = toDer(input);
    asn = AsnConvert.parse(der, CertificateList);
  } catch (err) {
    throw fail(`the CRL of "${ca}" is not a readable X.509 CRL`, err);
  }
  const tbs = asn.tbsCertList;
  const issuerAsn = AsnConvert.parse(issuer.raw, AsnCertificate).tbsCertificate;
  if (
    !Buffer.from(AsnConvert.serialize(tbs.issuer)).equals(
      Buffer.from(AsnConvert.serialize(issuerAsn.subject)),
    )
  ) {
    throw fail(
      `the CRL was issued by "${new x509.Name(AsnConvert.serialize(tbs.issuer)).toString()}", not "${ca}"`,
    );
  }
  const ku = new x509.X509Certificate(issuer.raw).getExtension(x509.KeyUsagesExtension);
  if (ku && !(ku.usages & x509.KeyUsageFlags.cRLSign)) {
    throw fail(`the certificate of "${ca}" may not sign CRLs (its KeyUsage lacks cRLSign)`);
  }
  if (
    !asn.tbsCertListRaw ||
    !verifySignature(asn.signatureAlgorithm, asn.tbsCertListRaw, asn.signature, issuer.publicKey)
  ) {
    throw fail(`the signature of the CRL of "${ca}" does not verify with its certificate`);
  }
  const unknown = (tbs.crlExtensions ?? []).find((e) => e.critical && !KNOWN_CRL_EXTENSIONS.has(e.extnID));
  if (unknown)
    throw fail(`the CRL of "${ca}" has a critical extension we do not process (${unknown.extnID})`);
  const at = options.at ?? new Date();
  const thisUpdate = tbs.thisUpdate.getTime();
  const nextUpdate = tbs.nextUpdate?.getTime();
  if (thisUpdate.getTime() > at.getTime()) {
    throw fail(
      `the CRL of "${ca}" is not yet valid at ${at.toISOString()} (thisUpdate ${thisUpdate.toISOString()})`,
    );
  }
  if (nextUpdate && nextUpdate.getTime() + (options.graceMs ?? 0) < at.getTime()) {
    throw fail(`the CRL of "${ca}" is stale at ${at.toISOString()} (nextUpdate ${nextUpdate.toISOString()})`);
  }
  const numberExt = tbs.crlExtensions?.find((e) => e.extnID === id_ce_cRLNumber);
  const entries = (tbs.revokedCertificates ?? []).map((r): RevokedEntry => {
    const reasonExt = r.crlEntryExtensions?.find((e) => e.extnID === id_ce_cRLReasons);
    const reason = reasonExt
      ? reasonName(AsnConvert.parse(reasonExt.extnValue, CRLReason).reason)
      : undefined;
    return {
      serialNumber: Buffer.from(r.userCertificate).toString('hex'),
      revokedAt: r.revocationDate.getTime(),
      ...(reason ? { reason } : {}),
    };
  });
  const bySerial = new Map(entries.map((e) => [normalSerial(e.serialNumber), e]));
  return {
    der,
    issuer: issuer.subject,
    thisUpdate,
    ...(nextUpdate ? { nextUpdate } : {}),
    ...(numberExt ? { crlNumber: AsnConvert.parse(numberExt.extnValue, CRLNumber).value } : {}),
    entries,
    revoked: (serialNumber) => bySerial.get(normalSerial(serialNumber)),
  };
}
