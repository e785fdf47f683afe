import 'reflect-metadata';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { EhmiError, type EhmiErrorCode } from '@ehmi/errors';
import {
  BasicOCSPResponse,
  CertID,
  CertStatus,
  id_kp_OCSPSigning,
  id_pkix_ocsp_basic,
  id_pkix_ocsp_nonce,
  OCSPRequest,
  OCSPResponse,
  OCSPResponseStatus,
  Request,
  ResponderID,
  ResponseBytes,
  ResponseData,
  RevokedInfo,
  SingleResponse,
  TBSRequest,
} from '@peculiar/asn1-ocsp';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  Certificate as AsnCertificate,
  CRLReason,
  Extension,
  Name,
} from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';
import { oneLineName } from './certificate.ts';
import { normalSerial, type RevocationReason, reasonCode, reasonName } from './crl.ts';
import type { Credential } from './issue.ts';
import { signAs, verifySignature } from './signature.ts';

const SHA1 = '1.3.14.3.2.26';
const SHA256 = '2.16.840.1.101.3.4.2.1';
const HASHES: Record<string, string> = { [SHA1]: 'sha1', [SHA256]: 'sha256' };

/** The parts of an issuer certificate that a CertID hashes (RFC 6960 §4.1.1). */
function issuerParts(issuer: X509Certificate): { name: Buffer; key: Buffer } {
  const tbs = AsnConvert.parse(issuer.raw, AsnCertificate).tbsCertificate;
  return {
    name: Buffer.from(AsnConvert.serialize(tbs.subject)),
    // The value of the subjectPublicKey BIT STRING, without tag, length and unused-bits octet.
    key: Buffer.from(tbs.subjectPublicKeyInfo.subjectPublicKey),
  };
}

function serialBytes(cert: X509Certificate): ArrayBuffer {
  return AsnConvert.parse(cert.raw, AsnCertificate).tbsCertificate.serialNumber;
}

/** Whether `id` names a certificate of `issuer` (whatever its hash algorithm, if we know it). */
function issuedBy(id: CertID, issuer: X509Certificate): boolean {
  const hash = HASHES[id.hashAlgorithm.algorithm];
  if (!hash) return false;
  const parts = issuerParts(issuer);
  return (
    Buffer.from(id.issuerNameHash.buffer).equals(createHash(hash).update(parts.name).digest()) &&
    Buffer.from(id.issuerKeyHash.buffer).equals(createHash(hash).update(parts.key).digest())
  );
}

/**
 * The CertID of `cert`. SHA-1, as RFC 5019 §2.1.1 lightweight responders (and most deployed ones) require; the
 * hash identifies, it does not protect.
 */
function certId(cert: X509Certificate, issuer: X509Certificate): CertID {
  const parts = issuerParts(issuer);
  return new CertID({
    hashAlgorithm: new AlgorithmIdentifier({ algorithm: SHA1, parameters: null }),
    issuerNameHash: new OctetString(createHash('sha1').update(parts.name).digest()),
    issuerKeyHash: new OctetString(createHash('sha1').update(parts.key).digest()),
    serialNumber: serialBytes(cert),
  });
}

function nonceExtension(nonce: Uint8Array): Extension {
  // RFC 8954 §2.1: the extnValue holds the nonce as a DER OCTET STRING.
  return new Extension({
    extnID: id_pkix_ocsp_nonce,
    critical: false,
    extnValue: new OctetString(AsnConvert.serialize(new OctetString(nonce))),
  });
}

function nonceOf(extensions: readonly Extension[] | undefined): Buffer | undefined {
  const ext = extensions?.find((e) => e.extnID === id_pkix_ocsp_nonce);
  return ext ? Buffer.from(AsnConvert.parse(ext.extnValue.buffer, OctetString).buffer) : undefined;
}

export interface OcspRequestOptions {
  /** Ask for a nonce (RFC 8954), so a replayed old response is refused; pass bytes to choose it. Default: none. */
  nonce?: boolean | Uint8Array;
}

export interface OcspRequest {
  der: Buffer;
  /** The nonce sent, to pass to `readOcspResponse`. */
  nonce?: Buffer;
}

/**
 * Build an unsigned OCSP request for `cert` (RFC 6960 §4.1), to POST as `application/ocsp-request`.
 *
 * @example
 * const { der, nonce } = createOcspRequest(peer, issuer, { nonce: true });
 */
export function createOcspRequest(
  cert: X509Certificate,
  issuer: X509Certificate,
  options: OcspRequestOptions = {},
): OcspRequest {
  const nonce =
    options.nonce === true ? randomBytes(16) : options.nonce ? Buffer.from(options.nonce) : undefined;
  const tbsRequest = new TBSRequest({ requestList: [new Request({ reqCert: certId(cert, issuer) })] });
  if (nonce) tbsRequest.requestExtensions = [nonceExtension(nonce)];
  const der = Buffer.from(AsnConvert.serialize(new OCSPRequest({ tbsRequest })));
  return nonce ? { der, nonce } : { der };
}

export type OcspCertStatus = 'good' | 'revoked' | 'unknown';

export interface OcspStatus {
  status: OcspCertStatus;
  thisUpdate: Date;
  nextUpdate?: Date;
  revokedAt?: Date;
  reason?: RevocationReason;
}

export interface ReadOcspOptions {
  /** The certificate asked about and its issuer: the answer must be for this CertID and signed for this issuer. */
  cert: X509Certificate;
  issuer: X509Certificate;
  /** The nonce sent: the response must echo it. */
  nonce?: Uint8Array;
  /** When thisUpdate/nextUpdate and a delegated responder's validity are checked. Default: now. */
  at?: Date;
  /** Clock skew allowed on thisUpdate and past nextUpdate. Default 0. */
  graceMs?: number;
  /** The error code to throw. Default EHMI_CERTIFICATE_UNTRUSTED. */
  errorCode?: EhmiErrorCode;
}

function within(cert: X509Certificate, at: Date): boolean {
  return new Date(cert.validFrom) <= at && at <= new Date(cert.validTo);
}

/** Whether the ResponderID names `signer` (RFC 6960 §4.2.2.3). */
function identifies(id: ResponderID, signer: X509Certificate): boolean {
  if (id.byKey) {
    const key = issuerParts(signer).key;
    return Buffer.from(id.byKey.buffer).equals(createHash('sha1').update(key).digest());
  }
  if (id.byName) return Buffer.from(AsnConvert.serialize(id.byName)).equals(issuerParts(signer).name);
  return false;
}

/**
 * Read and verify an OCSP response (RFC 6960 §3.2): successful, a BasicOCSPResponse signed by the issuer or by a
 * responder certificate the issuer issued with EKU id-kp-OCSPSigning (§4.2.2.2), an answer for this CertID,
 * current at `at`, echoing `nonce` when one was sent. Returns the certificate's status; throws `errorCode`
 * (default EHMI_CERTIFICATE_UNTRUSTED) when the response cannot be relied on.
 *
 * @example
 * const { status } = readOcspResponse(responseBytes, { cert: peer, issuer, nonce });
 */
export function readOcspResponse(input: Uint8Array, options: ReadOcspOptions): OcspStatus {
  const { cert, issuer } = options;
  const ca = oneLineName(issuer.subject);
  const fail = (message: string, cause?: unknown) =>
    new EhmiError(options.errorCode ?? 'EHMI_CERTIFICATE_UNTRUSTED', message, {
      details: { subject: cert.subject, serialNumber: cert.serialNumber, issuer: issuer.subject },
      ...(cause ? { cause } : {}),
    });
  let basic: BasicOCSPResponse;
  try {
    const response = AsnConvert.parse(Buffer.from(input), OCSPResponse);
    if (response.responseStatus !== OCSPResponseStatus.successful) {
      throw fail(`the OCSP responder of "${ca}" answered ${OCSPResponseStatus[response.responseStatus]}`);
    }
    if (!response.responseBytes || response.responseBytes.responseType !== id_pkix_ocsp_basic) {
      throw fail(`the OCSP responder of "${ca}" answered without a basic OCSP response`);
    }
    basic = AsnConvert.parse(response.responseBytes.response.buffer, BasicOCSPResponse);
  } catch (err) {
    if (err instanceof EhmiError) throw err;
    throw fail(`the OCSP response for "${ca}" is not readable`, err);
  }
  const at = options.at ?? new Date();
  const grace = options.graceMs ?? 0;
  const tbs = basic.tbsResponseData;
  const raw = basic.tbsResponseDataRaw;
  const signedBy = (signer: X509Certificate) =>
    raw !== undefined &&
    identifies(tbs.responderID, signer) &&
    verifySignature(basic.signatureAlgorithm, raw, basic.signature, signer.publicKey);
  let signer: X509Certificate | undefined = signedBy(issuer) ? issuer : undefined;
  if (!signer) {
    for (const c of basic.certs ?? []) {
      const delegate = new X509Certificate(Buffer.from(AsnConvert.serialize(c)));
      const eku = new x509.X509Certificate(delegate.raw).getExtension(x509.ExtendedKeyUsageExtension);
      const delegated =
        delegate.checkIssued(issuer) &&
        delegate.verify(issuer.publicKey) &&
        eku?.usages.map(String).includes(id_kp_OCSPSigning) &&
        within(delegate, at);
      if (delegated && signedBy(delegate)) {
        signer = delegate;
        break;
      }
    }
  }
  if (!signer) {
    throw fail(
      `the OCSP response for "${ca}" is not signed by it nor by an OCSP responder it delegated (EKU OCSPSigning)`,
    );
  }
  if (options.nonce) {
    const echoed = nonceOf(tbs.responseExtensions);
    if (!echoed?.equals(Buffer.from(options.nonce))) {
      throw fail(`the OCSP response for "${ca}" does not echo our nonce (a replayed response?)`);
    }
  }
  const serial = normalSerial(cert.serialNumber);
  const single = tbs.responses.find(
    (r) =>
      issuedBy(r.certID, issuer) &&
      normalSerial(Buffer.from(r.certID.serialNumber).toString('hex')) === serial,
  );
  if (!single) {
    throw fail(`the OCSP response does not answer for serial ${cert.serialNumber} of "${ca}"`);
  }
  if (single.thisUpdate.getTime() > at.getTime() + grace) {
    throw fail(
      `the OCSP response for "${ca}" is not yet valid (thisUpdate ${single.thisUpdate.toISOString()})`,
    );
  }
  if (single.nextUpdate && single.nextUpdate.getTime() + grace < at.getTime()) {
    throw fail(`the OCSP response for "${ca}" is stale (nextUpdate ${single.nextUpdate.toISOString()})`);
  }
  const base = {
    thisUpdate: single.thisUpdate,
    ...(single.nextUpdate ? { nextUpdate: single.nextUpdate } : {}),
  };
  const revoked = single.certStatus.revoked;
  if (revoked) {
    const reason = reasonName(revoked.revocationReason?.reason);
    return { status: 'revoked', ...base, revokedAt: revoked.revocationTime, ...(reason ? { reason } : {}) };
  }
  if (single.certStatus.unknown !== undefined) return { status: 'unknown', ...base };
  return { status: 'good', ...base };
}

export interface OcspAnswer {
  status: OcspCertStatus;
  revokedAt?: Date;
  reason?: RevocationReason;
}

export interface CreateOcspResponseOptions {
  /** The request as received. */
  request: Uint8Array;
  /** The CA the request asks about. */
  issuer: X509Certificate;
  /** Signs the response: the issuer itself, or a responder credential it issued with EKU OCSPSigning. */
  signer: Credential;
  /** The status of a serial number (hex). */
  status: (serialNumber: string) => OcspAnswer;
  thisUpdate?: Date;
  nextUpdate?: Date;
}

/**
 * Answer an OCSP request as a responder of `issuer` would (RFC 6960 §4.2), for a local network's or a test's
 * responder. A request for another issuer's certificate is answered `unknown`; the nonce is echoed.
 *
 * @example
 * const der = await createOcspResponse({ request, issuer: ca.certificate, signer: ca, status: () => ({ status: 'good' }) });
 */
export async function createOcspResponse(options: CreateOcspResponseOptions): Promise<Buffer> {
  const request = AsnConvert.parse(Buffer.from(options.request), OCSPRequest);
  const thisUpdate = options.thisUpdate ?? new Date();
  const responses = request.tbsRequest.requestList.map((r) => {
    const answer: OcspAnswer = issuedBy(r.reqCert, options.issuer)
      ? options.status(Buffer.from(r.reqCert.serialNumber).toString('hex'))
      : { status: 'unknown' };
    const certStatus =
      answer.status === 'revoked'
        ? new CertStatus({
            revoked: new RevokedInfo({
              revocationTime: answer.revokedAt ?? thisUpdate,
              ...(answer.reason ? { revocationReason: new CRLReason(reasonCode(answer.reason)) } : {}),
            }),
          })
        : answer.status === 'unknown'
          ? new CertStatus({ unknown: null })
          : new CertStatus({ good: null });
    return new SingleResponse({
      certID: r.reqCert,
      certStatus,
      thisUpdate,
      ...(options.nextUpdate ? { nextUpdate: options.nextUpdate } : {}),
    });
  });
  const signerTbs = AsnConvert.parse(options.signer.certificate.raw, AsnCertificate).tbsCertificate;
  const tbsResponseData = new ResponseData({
    responderID: new ResponderID({ byName: AsnConvert.parse(AsnConvert.serialize(signerTbs.subject), Name) }),
    producedAt: new Date(),
    responses,
  });
  const nonce = nonceOf(request.tbsRequest.requestExtensions);
  if (nonce) tbsResponseData.responseExtensions = [nonceExtension(nonce)];
  const signed = signAs(
    options.signer.keyType,
    options.signer.privateKey,
    AsnConvert.serialize(tbsResponseData),
  );
  const basic = new BasicOCSPResponse({
    tbsResponseData,
    signatureAlgorithm: signed.algorithm,
    signature: new Uint8Array(signed.signature).buffer,
    ...(options.signer.certificate.raw.equals(options.issuer.raw)
      ? {}
      : { certs: [AsnConvert.parse(options.signer.certificate.raw, AsnCertificate)] }),
  });
  return Buffer.from(
    AsnConvert.serialize(
      new OCSPResponse({
        responseStatus: OCSPResponseStatus.successful,
        responseBytes: new ResponseBytes({
          responseType: id_pkix_ocsp_basic,
          response: new OctetString(AsnConvert.serialize(basic)),
        }),
      }),
    ),
  );
}
