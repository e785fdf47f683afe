import type { X509Certificate } from 'node:crypto';
import { EhmiError } from '@ehmi/errors';
import { childElement, childElements, type Document, type Element, rootElement } from '@ehmi/xml';
import {
  base64Text,
  canonicalizationOf,
  digestElement,
  inclusivePrefixesOf,
  sameDigest,
  signatureMethodOf,
  verifySignatureValue,
} from '@ehmi/xmldsig';
import { NS, type SmpFlavour } from '../lib/ns.ts';
import { serviceMetadataOf, toDocument } from '../model/parse.ts';
import type { ServiceMetadata } from '../model/types.ts';
import { C14N_ALGORITHMS, DIGEST_METHODS, DSIG, SIGNATURE_METHODS } from './algorithms.ts';
import { checkCertificateTrust, type TrustOptions, toCertificate } from './trust.ts';

export interface EnvelopedSignatureResult {
  /** The certificate whose key verified the SignatureValue (from ds:KeyInfo/ds:X509Data). */
  certificate: X509Certificate;
  /** Other certificates in the same X509Data (candidate intermediates). */
  otherCertificates: X509Certificate[];
  signatureMethod: string;
  digestMethod: string;
  canonicalizationMethod: string;
  /** The ds:Signature element that was verified. */
  signature: Element;
}

const invalid = (message: string, reason: string, details: Record<string, unknown> = {}) =>
  new EhmiError('EHMI_SMP_SIGNATURE_INVALID', message, { details: { reason, ...details } });

/**
 * XML Signature core validation (XML Signature 1.1 §3.2) of the enveloped signature that is a direct child of the
 * document element and signs the whole document (`URI=""`, enveloped-signature transform, then at most one c14n
 * transform): the form OASIS BDXR SMP 1.0 and Peppol SMP 1.x use for SignedServiceMetadata. The key comes from the
 * signature's own X509Certificate. Says nothing about trust: {@link verifySignedServiceMetadata} adds that.
 *
 * Anything else — a reference to part of the document, XPath or XSLT transforms, more than one reference, a second
 * signature at the top level — is refused, so what was verified is always the whole document.
 *
 * @example
 * const { certificate } = verifyEnvelopedSignature(parseXml(xml));
 */
export function verifyEnvelopedSignature(doc: Document): EnvelopedSignatureResult {
  const root = rootElement(doc);
  const sigs = childElements(root, NS.ds, 'Signature');
  if (sigs.length === 0) throw invalid(`${root.nodeName} carries no ds:Signature`, 'unsigned');
  if (sigs.length > 1) throw invalid(`${root.nodeName} carries more than one ds:Signature`, 'signatures');
  const sig = sigs[0]!;
  const signedInfo = childElement(sig, NS.ds, 'SignedInfo');
  const sigValueEl = childElement(sig, NS.ds, 'SignatureValue');
  const keyInfo = childElement(sig, NS.ds, 'KeyInfo');
  if (!signedInfo || !sigValueEl) throw invalid('the ds:Signature is incomplete', 'structure');

  const c14nAlg = canonicalizationOf(signedInfo).algorithm;
  if (!C14N_ALGORITHMS.includes(c14nAlg)) {
    throw invalid(`unsupported CanonicalizationMethod "${c14nAlg}"`, 'algorithm', { algorithm: c14nAlg });
  }
  const method = signatureMethodOf(signedInfo);
  if (!SIGNATURE_METHODS.includes(method)) {
    throw invalid(`unsupported SignatureMethod "${method}"`, 'algorithm', { algorithm: method });
  }

  const refs = childElements(signedInfo, NS.ds, 'Reference');
  if (refs.length !== 1) throw invalid(`SignedInfo has ${refs.length} references; expected one`, 'reference');
  const ref = refs[0]!;
  // The whole document, nothing less: a reference to an element by id could sign a copy placed elsewhere
  // (signature wrapping); URI="" cannot.
  if (ref.getAttribute('URI') !== '') {
    throw invalid(
      `the reference URI is "${ref.getAttribute('URI')}"; expected "" (the whole document)`,
      'reference',
    );
  }
  const transforms = childElements(childElement(ref, NS.ds, 'Transforms') ?? ref, NS.ds, 'Transform');
  const algs = transforms.map((t) => t.getAttribute('Algorithm') ?? '');
  if (
    algs[0] !== DSIG.envelopedSignature ||
    algs.length > 2 ||
    (algs.length === 2 && !C14N_ALGORITHMS.includes(algs[1]!))
  ) {
    throw invalid(`unsupported transforms [${algs.join(', ')}]`, 'transform', { transforms: algs });
  }
  // XML Signature 1.1 §4.4.3.2: without a c14n transform the node-set is serialised with Canonical XML 1.0.
  const refC14n = algs[1] ?? DSIG.c14n10;
  const digestMethod = childElement(ref, NS.ds, 'DigestMethod')?.getAttribute('Algorithm') ?? '';
  if (!DIGEST_METHODS.includes(digestMethod))
    throw invalid(`unsupported DigestMethod "${digestMethod}"`, 'algorithm', { algorithm: digestMethod });

  const certs = certificatesOf(keyInfo);
  const signer = certs.find((c) => verifySignatureValue(signedInfo, sigValueEl, method, c.publicKey));
  if (!signer) {
    throw invalid(
      certs.length === 1
        ? `the SignatureValue does not verify with the certificate "${oneLine(certs[0]!.subject)}"`
        : 'the SignatureValue does not verify with any certificate in ds:KeyInfo',
      'signature-value',
    );
  }

  // Enveloped-signature transform (XML Signature 1.1 §6.6.4): the document without this Signature element.
  const index = childElements(root).indexOf(sig);
  const copy = root.cloneNode(true) as Element;
  const sigCopy = childElements(copy)[index]!;
  copy.removeChild(sigCopy);
  const refTransform = transforms[1];
  const digest = digestElement(copy, {
    digestMethod,
    c14n: refC14n,
    inclusivePrefixes: (refTransform && inclusivePrefixesOf(refTransform)) ?? [],
  });
  const digestValueEl = childElement(ref, NS.ds, 'DigestValue');
  if (!sameDigest(digest, digestValueEl ? base64Text(digestValueEl) : '')) {
    throw invalid(
      'the digest of the signed document does not match: the response was changed after signing',
      'digest',
    );
  }
  return {
    certificate: signer,
    otherCertificates: certs.filter((c) => c !== signer),
    signatureMethod: method,
    digestMethod,
    canonicalizationMethod: c14nAlg,
    signature: sig,
  };
}

const MAX_KEYINFO_CERTIFICATES = 8;

function certificatesOf(keyInfo: Element | undefined): X509Certificate[] {
  const out: X509Certificate[] = [];
  for (const data of keyInfo ? childElements(keyInfo, NS.ds, 'X509Data') : []) {
    for (const c of childElements(data, NS.ds, 'X509Certificate')) {
      const der = Buffer.from((c.textContent ?? '').replace(/\s+/g, ''), 'base64');
      try {
        out.push(toCertificate(der));
      } catch {
        throw invalid('a ds:X509Certificate in ds:KeyInfo cannot be read', 'certificate');
      }
    }
  }
  // OASIS BDXR SMP 1.0 and Peppol SMP 1.x put the SMP certificate in KeyInfo; without it there is no key.
  if (out.length === 0) throw invalid('ds:KeyInfo carries no ds:X509Certificate', 'key-info');
  // A signer and its chain are a handful; each candidate costs a public-key operation.
  if (out.length > MAX_KEYINFO_CERTIFICATES) {
    throw invalid(
      `ds:KeyInfo carries ${out.length} certificates; at most ${MAX_KEYINFO_CERTIFICATES} are read`,
      'key-info',
    );
  }
  return out;
}

function oneLine(dn: string): string {
  return dn.split('\n').filter(Boolean).join(', ');
}

export interface VerifySignedServiceMetadataOptions extends TrustOptions {
  /** Accept RSA-SHA1 and SHA-1 (real Peppol SMPs still sign with them). Default true. */
  allowSha1?: boolean;
}

export interface VerifiedServiceMetadata {
  serviceMetadata: ServiceMetadata;
  /** The SMP's signing certificate. */
  certificate: X509Certificate;
  /** The trust path, signer first, ending at the anchor. */
  path: X509Certificate[];
  signatureMethod: string;
}

/**
 * Verifies a SignedServiceMetadata response and returns its content: the signature (as
 * {@link verifyEnvelopedSignature}), then the signing certificate against the trust anchors and validity at
 * `at` (OASIS BDXR SMP 1.0 and Peppol SMP 1.x: the client checks that the SMP's certificate is one of the
 * network's). Defends against wrapping: the document element must be SignedServiceMetadata with exactly the
 * ServiceMetadata and the Signature as children, and the model is read from that ServiceMetadata.
 *
 * Errors: `EHMI_SMP_SIGNATURE_INVALID` (no, broken or changed signature), `EHMI_SMP_CERTIFICATE_UNTRUSTED` (valid
 * signature by a certificate that is expired or does not chain to an anchor), `EHMI_SMP_RESPONSE_INVALID` (not a
 * SignedServiceMetadata).
 *
 * @example
 * const { serviceMetadata, certificate } = verifySignedServiceMetadata(xml, { trustAnchors: [smpCaPem] });
 */
export function verifySignedServiceMetadata(
  input: string | Uint8Array | Document,
  options: VerifySignedServiceMetadataOptions,
): VerifiedServiceMetadata {
  const doc = toDocument(input, 'SignedServiceMetadata');
  const root = rootElement(doc);
  let flavour: SmpFlavour;
  if (root.namespaceURI === NS.bdxr) flavour = 'oasis-bdxr-1';
  else if (root.namespaceURI === NS.peppol) flavour = 'peppol';
  else throw new EhmiError('EHMI_SMP_RESPONSE_INVALID', `${root.nodeName} is not an SMP document`);
  if (root.localName !== 'SignedServiceMetadata') {
    throw new EhmiError(
      'EHMI_SMP_RESPONSE_INVALID',
      `expected a SignedServiceMetadata, got ${root.nodeName}`,
    );
  }
  const children = childElements(root);
  const ns = flavour === 'peppol' ? NS.peppol : NS.bdxr;
  // XSD: sequence (ServiceMetadata, ds:Signature). A second ServiceMetadata or a foreign element is refused.
  if (
    children.length !== 2 ||
    children[0]!.namespaceURI !== ns ||
    children[0]!.localName !== 'ServiceMetadata' ||
    children[1]!.namespaceURI !== NS.ds ||
    children[1]!.localName !== 'Signature'
  ) {
    throw new EhmiError(
      'EHMI_SMP_SIGNATURE_INVALID',
      `SignedServiceMetadata must contain exactly ServiceMetadata then ds:Signature; it contains [${children.map((c) => c.nodeName).join(', ')}]`,
      { details: { reason: 'structure' } },
    );
  }
  const result = verifyEnvelopedSignature(doc);
  if (
    options?.allowSha1 === false &&
    (result.signatureMethod === DSIG.rsaSha1 || result.digestMethod === DSIG.sha1)
  ) {
    throw invalid('the response is signed with SHA-1, which is not allowed', 'algorithm');
  }
  const path = checkCertificateTrust(result.certificate, {
    ...options,
    intermediates: [...(options.intermediates ?? []), ...result.otherCertificates],
  });
  return {
    serviceMetadata: serviceMetadataOf(children[0]!, flavour),
    certificate: result.certificate,
    path,
    signatureMethod: result.signatureMethod,
  };
}
