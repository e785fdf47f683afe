import type { KeyObject, X509Certificate } from 'node:crypto';
import { EhmiError } from '@ehmi/errors';
import { childElement, escapeText, parseXml, rootElement } from '@ehmi/xml';
import { digestElement, signSignedInfo } from '@ehmi/xmldsig';
import { NS } from '../lib/ns.ts';
import { unsignedSignedServiceMetadataXml } from '../model/build.ts';
import type { ServiceMetadata } from '../model/types.ts';
import { DSIG, signatureMethodFor } from './algorithms.ts';
import { type CertificateInput, toCertificate } from './trust.ts';

export interface SignOptions {
  /** The SMP's private key (RSA, or EC P-256). */
  key: KeyObject;
  /** The SMP certificate, or its chain signer first (intermediates go into X509Data after it). */
  certificate: CertificateInput | readonly CertificateInput[];
}

/**
 * Writes a SignedServiceMetadata: the ServiceMetadata plus an enveloped XML signature over the whole document
 * (OASIS BDXR SMP 1.0 and Peppol SMP 1.x): `Reference URI=""` with the enveloped-signature and exclusive c14n
 * transforms, SHA-256 digest, RSA-SHA256 (or ECDSA-SHA256), exclusive c14n of SignedInfo, and the certificate
 * in `ds:KeyInfo/ds:X509Data` (with its subject name, as Peppol SMPs write it). Verifies with xmlsec1 and with
 * {@link verifySignedServiceMetadata}.
 *
 * @example
 * const xml = buildSignedServiceMetadata(model, { key: createPrivateKey(keyPem), certificate: certPem });
 */
export function buildSignedServiceMetadata(md: ServiceMetadata, options: SignOptions): string {
  const chain = (Array.isArray(options.certificate) ? options.certificate : [options.certificate]).map((c) =>
    toCertificate(c as CertificateInput, 'SMP certificate'),
  );
  const signer = chain[0];
  if (!signer) throw new EhmiError('EHMI_USAGE', 'buildSignedServiceMetadata needs the SMP certificate');
  if (!signer.checkPrivateKey(options.key)) {
    throw new EhmiError('EHMI_USAGE', 'the private key does not belong to the SMP certificate');
  }
  const method = signatureMethodFor(options.key);
  const unsigned = unsignedSignedServiceMetadataXml(md);
  const close = '</SignedServiceMetadata>';
  // The enveloped-signature transform removes the Signature again, so the digest is that of the document as it
  // is before the Signature is appended.
  const digest = digestElement(rootElement(parseXml(unsigned)), { digestMethod: DSIG.sha256 }).toString(
    'base64',
  );
  const signedInfo =
    '<SignedInfo>' +
    `<CanonicalizationMethod Algorithm="${DSIG.excC14n}"/>` +
    `<SignatureMethod Algorithm="${method}"/>` +
    '<Reference URI="">' +
    `<Transforms><Transform Algorithm="${DSIG.envelopedSignature}"/><Transform Algorithm="${DSIG.excC14n}"/></Transforms>` +
    `<DigestMethod Algorithm="${DSIG.sha256}"/>` +
    `<DigestValue>${digest}</DigestValue>` +
    '</Reference>' +
    '</SignedInfo>';
  const keyInfo = `<KeyInfo><X509Data><X509SubjectName>${escapeText(rfc2253(signer))}</X509SubjectName>${chain
    .map((c) => `<X509Certificate>${c.raw.toString('base64')}</X509Certificate>`)
    .join('')}</X509Data></KeyInfo>`;
  const body = unsigned.slice(0, -close.length);
  const skeleton = `${body}<Signature xmlns="${NS.ds}">${signedInfo}<SignatureValue></SignatureValue>${keyInfo}</Signature>${close}`;
  // Canonicalise SignedInfo where it will stand (exclusive c14n only renders the namespace it uses, the ds default).
  const placed = childElement(
    childElement(rootElement(parseXml(skeleton)), NS.ds, 'Signature')!,
    NS.ds,
    'SignedInfo',
  )!;
  const value = signSignedInfo(placed, method, options.key);
  return skeleton.replace('<SignatureValue></SignatureValue>', `<SignatureValue>${value}</SignatureValue>`);
}

/** The subject as an RFC 2253 string (most significant RDN last), for ds:X509SubjectName. */
function rfc2253(cert: X509Certificate): string {
  return cert.subject
    .split('\n')
    .filter((l) => l.includes('='))
    .reverse()
    .map((l) => {
      const eq = l.indexOf('=');
      return `${l.slice(0, eq)}=${l.slice(eq + 1).replace(/([,+"\\<>;])/g, '\\$1')}`;
    })
    .join(',');
}
