import 'reflect-metadata';
import assert from 'node:assert/strict';
import { webcrypto, X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { EhmiError } from '@ehmi/errors';
import * as x509 from '@peculiar/x509';
import { checkCertificatePurpose, createCertificateAuthority, issueCertificate } from '../src/index.ts';

const isCode = (code: string, pattern?: RegExp) => (err: unknown) =>
  err instanceof EhmiError && err.code === code && (!pattern || pattern.test(err.message));

const F = x509.KeyUsageFlags;
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

/** A self-signed certificate with exactly the extensions asked for (the purpose check ignores the chain). */
async function certWith(
  options: { keyUsage?: number; eku?: string[]; ca?: boolean; ec?: boolean } = {},
): Promise<X509Certificate> {
  const algorithm = options.ec
    ? { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }
    : {
        name: 'RSASSA-PKCS1-v1_5',
        modulusLength: 2048,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: 'SHA-256',
      };
  const keys = await webcrypto.subtle.generateKey(algorithm as never, true, ['sign', 'verify']);
  const extensions: x509.Extension[] = [];
  if (options.ca !== undefined)
    extensions.push(new x509.BasicConstraintsExtension(options.ca, undefined, true));
  if (options.keyUsage !== undefined) extensions.push(new x509.KeyUsagesExtension(options.keyUsage, true));
  if (options.eku) extensions.push(new x509.ExtendedKeyUsageExtension(options.eku, false));
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=subject under test, O=Test, C=DK',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    keys: keys as never,
    signingAlgorithm: algorithm as never,
    extensions,
  });
  return new X509Certificate(Buffer.from(cert.rawData));
}

describe('issuing certificates by role', () => {
  it('issues an AS4 certificate that signs and is encrypted to, with EKU emailProtection and no TLS EKU', async () => {
    const ca = await createCertificateAuthority({ subject: 'CN=Root' });
    const as4 = await issueCertificate(ca, { subject: 'CN=ap', purposes: ['as4'] });
    const parsed = new x509.X509Certificate(as4.certificate.raw);
    assert.equal(
      parsed.getExtension(x509.KeyUsagesExtension)?.usages,
      F.digitalSignature | F.nonRepudiation | F.keyEncipherment,
    );
    assert.deepEqual(as4.certificate.keyUsage, ['1.3.6.1.5.5.7.3.4']);
    checkCertificatePurpose(as4.certificate, 'as4');
    checkCertificatePurpose(as4.certificate, 'smp-signing');
  });

  it('issues a P-256 AS4 certificate with keyAgreement instead of keyEncipherment', async () => {
    const ca = await createCertificateAuthority({ subject: 'CN=Root', keyType: 'p-256' });
    const as4 = await issueCertificate(ca, { subject: 'CN=ap', keyType: 'p-256', purposes: ['as4'] });
    const ku = new x509.X509Certificate(as4.certificate.raw).getExtension(x509.KeyUsagesExtension);
    assert.equal(ku?.usages, F.digitalSignature | F.nonRepudiation | F.keyAgreement);
    checkCertificatePurpose(as4.certificate, 'as4');
  });

  it('refuses to issue an Ed25519 AS4 certificate, which cannot be encrypted to', async () => {
    const ca = await createCertificateAuthority({ subject: 'CN=Root', keyType: 'ed25519' });
    await assert.rejects(
      issueCertificate(ca, { subject: 'CN=ap', keyType: 'ed25519', purposes: ['as4'] }),
      isCode('EHMI_USAGE', /Ed25519/),
    );
  });

  it('issues an SMP signing certificate with digitalSignature, nonRepudiation and EKU documentSigning', async () => {
    const ca = await createCertificateAuthority({ subject: 'CN=Root' });
    const smp = await issueCertificate(ca, { subject: 'CN=smp', purposes: ['smp-signing'] });
    const parsed = new x509.X509Certificate(smp.certificate.raw);
    assert.equal(parsed.getExtension(x509.KeyUsagesExtension)?.usages, F.digitalSignature | F.nonRepudiation);
    assert.deepEqual(smp.certificate.keyUsage, ['1.3.6.1.5.5.7.3.36']);
    checkCertificatePurpose(smp.certificate, 'smp-signing');
  });

  it('puts an OCES3-style organisation identifier and serialNumber in the subject', async () => {
    const ca = await createCertificateAuthority({ subject: 'CN=Root' });
    const uuid = '5f0c2a7e-8d1b-4c1e-9a0b-3c2d1e0f9a8b';
    const ap = await issueCertificate(ca, {
      subject: {
        cvr: '12345678',
        organisation: 'Lægehuset, Aarhus',
        name: 'EHMI AP',
        serialNumber: `UI:DK-S:G:${uuid}`,
      },
      purposes: ['as4'],
    });
    assert.equal(
      ap.certificate.subject,
      `C=DK\nO=Lægehuset\\, Aarhus\norganizationIdentifier=NTRDK-12345678\nCN=EHMI AP\nserialNumber=UI:DK-S:G:${uuid}`,
    );
    assert.ok(ap.certificate.checkIssued(ca.certificate));
    const generated = await issueCertificate(ca, {
      subject: { cvr: '12345678', organisation: 'O', name: 'N' },
      purposes: ['as4'],
    });
    assert.match(generated.certificate.subject, /serialNumber=UI:DK-S:G:[0-9a-f-]{36}$/);
    await assert.rejects(
      issueCertificate(ca, { subject: { cvr: '1234', organisation: 'O', name: 'N' }, purposes: ['as4'] }),
      isCode('EHMI_USAGE', /CVR/),
    );
  });

  it('puts the CRL distribution point and the OCSP responder in the certificate', async () => {
    const ca = await createCertificateAuthority({ subject: 'CN=Root' });
    const ap = await issueCertificate(ca, {
      subject: 'CN=ap',
      purposes: ['as4'],
      crlDistributionPoint: 'http://ca.example/root.crl',
      ocspResponder: 'http://ca.example/ocsp',
    });
    assert.equal(ap.certificate.infoAccess, 'OCSP - URI:http://ca.example/ocsp');
    const cdp = new x509.X509Certificate(ap.certificate.raw).getExtension(
      x509.CRLDistributionPointsExtension,
    );
    assert.equal(
      cdp?.distributionPoints[0]?.distributionPoint?.fullName?.[0]?.uniformResourceIdentifier,
      'http://ca.example/root.crl',
    );
  });
});

describe('checkCertificatePurpose', () => {
  it('refuses a certificate issued for tls-client as as4 and as smp-signing', async () => {
    const ca = await createCertificateAuthority({ subject: 'CN=Root' });
    const tls = await issueCertificate(ca, { subject: 'CN=client', purposes: ['tls-client'] });
    checkCertificatePurpose(tls.certificate, 'tls-client');
    assert.throws(
      () => checkCertificatePurpose(tls.certificate, 'as4'),
      isCode('EHMI_CERTIFICATE_UNTRUSTED', /"CN=client" cannot serve as as4: .*only TLS usages/),
    );
    assert.throws(
      () => checkCertificatePurpose(tls.certificate, 'smp-signing'),
      isCode('EHMI_CERTIFICATE_UNTRUSTED'),
    );
    assert.throws(
      () => checkCertificatePurpose(tls.certificate, 'tls-server'),
      isCode('EHMI_CERTIFICATE_UNTRUSTED', /serverAuth/),
    );
  });

  it('refuses a certificate issued for as4 as tls-client and tls-server', async () => {
    const ca = await createCertificateAuthority({ subject: 'CN=Root' });
    const as4 = await issueCertificate(ca, { subject: 'CN=ap', purposes: ['as4'] });
    assert.throws(
      () => checkCertificatePurpose(as4.certificate, 'tls-client'),
      isCode(
        'EHMI_CERTIFICATE_UNTRUSTED',
        /ExtendedKeyUsage \(1\.3\.6\.1\.5\.5\.7\.3\.4\) does not allow clientAuth/,
      ),
    );
    assert.throws(
      () => checkCertificatePurpose(as4.certificate, 'tls-server'),
      isCode('EHMI_CERTIFICATE_UNTRUSTED'),
    );
    const sigOnly = await certWith({ keyUsage: F.nonRepudiation | F.keyEncipherment });
    assert.throws(
      () => checkCertificatePurpose(sigOnly, 'tls-client'),
      isCode('EHMI_CERTIFICATE_UNTRUSTED', /lacks digitalSignature/),
    );
  });

  it('lets an absent KeyUsage and ExtendedKeyUsage allow every role', async () => {
    const bare = await certWith();
    for (const role of ['as4', 'tls-server', 'tls-client', 'smp-signing'] as const)
      checkCertificatePurpose(bare, role);
  });

  it('requires digitalSignature and keyEncipherment of an RSA AS4 certificate', async () => {
    const noEnc = await certWith({ keyUsage: F.digitalSignature | F.nonRepudiation });
    assert.throws(
      () => checkCertificatePurpose(noEnc, 'as4'),
      isCode('EHMI_CERTIFICATE_UNTRUSTED', /lacks keyEncipherment/),
    );
    const noSig = await certWith({ keyUsage: F.keyEncipherment | F.nonRepudiation });
    assert.throws(
      () => checkCertificatePurpose(noSig, 'as4'),
      isCode('EHMI_CERTIFICATE_UNTRUSTED', /lacks digitalSignature/),
    );
    checkCertificatePurpose(await certWith({ keyUsage: F.digitalSignature | F.keyEncipherment }), 'as4');
  });

  it('requires keyAgreement, not keyEncipherment, of an EC AS4 certificate', async () => {
    const enc = await certWith({ ec: true, keyUsage: F.digitalSignature | F.keyEncipherment });
    assert.throws(
      () => checkCertificatePurpose(enc, 'as4'),
      isCode('EHMI_CERTIFICATE_UNTRUSTED', /lacks keyAgreement/),
    );
    checkCertificatePurpose(
      await certWith({ ec: true, keyUsage: F.digitalSignature | F.keyAgreement }),
      'as4',
    );
  });

  it('accepts nonRepudiation alone for smp-signing and refuses an encryption-only certificate', async () => {
    checkCertificatePurpose(await certWith({ keyUsage: F.nonRepudiation }), 'smp-signing');
    const enc = await certWith({ keyUsage: F.keyEncipherment });
    assert.throws(
      () => checkCertificatePurpose(enc, 'smp-signing'),
      isCode('EHMI_CERTIFICATE_UNTRUSTED', /lacks digitalSignature or nonRepudiation/),
    );
  });

  it('requires serverAuth or clientAuth of a present EKU for TLS, and anyExtendedKeyUsage allows all', async () => {
    const server = await certWith({ keyUsage: F.digitalSignature, eku: [SERVER_AUTH] });
    checkCertificatePurpose(server, 'tls-server');
    assert.throws(() => checkCertificatePurpose(server, 'tls-client'), isCode('EHMI_CERTIFICATE_UNTRUSTED'));
    const any = await certWith({ keyUsage: F.digitalSignature | F.keyEncipherment, eku: ['2.5.29.37.0'] });
    for (const role of ['as4', 'tls-server', 'tls-client', 'smp-signing'] as const)
      checkCertificatePurpose(any, role);
  });

  it('lets an EKU with a non-TLS usage beside the TLS ones allow as4 and smp-signing', async () => {
    const mixed = await certWith({
      keyUsage: F.digitalSignature | F.keyEncipherment,
      eku: [CLIENT_AUTH, '1.3.6.1.5.5.7.3.4'],
    });
    checkCertificatePurpose(mixed, 'as4');
    checkCertificatePurpose(mixed, 'smp-signing');
  });

  it('refuses a CA certificate for every end-entity role', async () => {
    const ca = await createCertificateAuthority({ subject: 'CN=Root' });
    for (const role of ['as4', 'tls-server', 'tls-client', 'smp-signing'] as const) {
      assert.throws(
        () => checkCertificatePurpose(ca.certificate, role),
        isCode('EHMI_CERTIFICATE_UNTRUSTED', /CA certificate/),
      );
    }
  });

  it('throws the error code the caller asks for, naming the certificate', async () => {
    const enc = await certWith({ keyUsage: F.keyEncipherment });
    assert.throws(
      () =>
        checkCertificatePurpose(enc, 'smp-signing', {
          errorCode: 'EHMI_SMP_CERTIFICATE_UNTRUSTED',
          what: 'SMP certificate',
        }),
      isCode('EHMI_SMP_CERTIFICATE_UNTRUSTED', /^the SMP certificate "CN=subject under test, O=Test, C=DK"/),
    );
  });
});
