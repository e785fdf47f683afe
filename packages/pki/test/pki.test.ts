import assert from 'node:assert/strict';
import { createPublicKey, createSign, createVerify, diffieHellman, generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { EhmiError } from '@ehmi/errors';
import {
  checkCertificateTrust,
  createCertificateAuthority,
  issueCertificate,
  loadCredential,
  toCertificate,
} from '../src/index.ts';

const isCode = (code: string) => (err: unknown) => err instanceof EhmiError && err.code === code;

describe('issuing certificates', () => {
  it('issues an RSA signing certificate that chains to its root and whose key signs', async () => {
    const root = await createCertificateAuthority({ subject: 'CN=Test Root, O=EHMI, C=DK' });
    assert.equal(root.certificate.ca, true);
    const ap = await issueCertificate(root, {
      subject: 'CN=ap.gp, O=GP, C=DK',
      purposes: ['signing', 'encryption'],
    });
    assert.equal(ap.certificate.ca, false);
    assert.ok(ap.certificate.checkIssued(root.certificate));
    assert.ok(ap.certificate.verify(root.certificate.publicKey));
    assert.deepEqual(ap.chain, [ap.certificate, root.certificate]);
    assert.equal(ap.certificate.publicKey.asymmetricKeyType, 'rsa');
    const sig = createSign('sha256').update('x').sign(ap.privateKey);
    assert.ok(createVerify('sha256').update('x').verify(ap.certificate.publicKey, sig));
    assert.deepEqual(checkCertificateTrust(ap.certificate, { trustAnchors: [root.certificate] }), [
      ap.certificate,
      root.certificate,
    ]);
  });

  it('issues a TLS server certificate with its DNS and IP subjectAltNames and serverAuth', async () => {
    const root = await createCertificateAuthority({ subject: 'CN=Test Root' });
    const tls = await issueCertificate(root, {
      subject: 'CN=localhost',
      purposes: ['tls-server', 'tls-client'],
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
    });
    assert.match(tls.certificate.subjectAltName ?? '', /DNS:localhost/);
    assert.match(tls.certificate.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
    assert.deepEqual([...(tls.certificate.keyUsage ?? [])].sort(), [
      '1.3.6.1.5.5.7.3.1',
      '1.3.6.1.5.5.7.3.2',
    ]);
    assert.ok(tls.certificate.checkHost('localhost'));
    assert.ok(tls.certificate.checkIP('127.0.0.1'));
  });

  it('issues Ed25519 and X25519 certificates for the AS4 2.0 profile from an Ed25519 CA', async () => {
    const root = await createCertificateAuthority({ subject: 'CN=Ed Root', keyType: 'ed25519' });
    const sign = await issueCertificate(root, {
      subject: 'CN=ed',
      keyType: 'ed25519',
      purposes: ['signing'],
    });
    const enc = await issueCertificate(root, {
      subject: 'CN=x',
      keyType: 'x25519',
      purposes: ['encryption'],
    });
    assert.equal(sign.certificate.publicKey.asymmetricKeyType, 'ed25519');
    assert.equal(enc.certificate.publicKey.asymmetricKeyType, 'x25519');
    assert.ok(enc.certificate.verify(root.certificate.publicKey));
    const peer = generateKeyPairSync('x25519');
    const a = diffieHellman({ privateKey: enc.privateKey, publicKey: peer.publicKey });
    const b = diffieHellman({ privateKey: peer.privateKey, publicKey: enc.certificate.publicKey });
    assert.deepEqual(a, b);
  });

  it('refuses an X25519 key for signing', async () => {
    const root = await createCertificateAuthority({ subject: 'CN=Root' });
    await assert.rejects(
      issueCertificate(root, { subject: 'CN=x', keyType: 'x25519', purposes: ['signing'] }),
    );
  });

  it('certifies a private key it is given, for a CA and an end entity, and refuses one of another type', async () => {
    const rootKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const root = await createCertificateAuthority({ subject: 'CN=Given Root', privateKey: rootKey });
    assert.ok(root.certificate.publicKey.equals(createPublicKey(rootKey)));
    assert.ok(root.certificate.verify(root.certificate.publicKey));
    const apKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    const ap = await issueCertificate(root, {
      subject: 'CN=ap.given',
      keyType: 'p-256',
      purposes: ['signing'],
      privateKey: apKey,
    });
    assert.ok(ap.certificate.publicKey.equals(createPublicKey(apKey)));
    assert.ok(ap.certificate.verify(root.certificate.publicKey));
    assert.ok(ap.certificate.checkPrivateKey(ap.privateKey));
    await assert.rejects(
      issueCertificate(root, {
        subject: 'CN=x',
        keyType: 'rsa-3072',
        purposes: ['as4'],
        privateKey: rootKey,
      }),
      (err: unknown) =>
        isCode('EHMI_USAGE')(err) && /no rsa-3072 key \(rsa-2048\)/.test((err as Error).message),
    );
  });

  it('reads a credential back from its PEM texts', async () => {
    const root = await createCertificateAuthority({ subject: 'CN=Root', keyType: 'p-256' });
    const ap = await issueCertificate(root, { subject: 'CN=ap', keyType: 'p-256', purposes: ['signing'] });
    const again = loadCredential(ap.certificatePem + root.certificatePem, ap.privateKeyPem);
    assert.equal(again.keyType, 'p-256');
    assert.equal(again.chain.length, 2);
    assert.ok(again.certificate.raw.equals(ap.certificate.raw));
    assert.ok(createPublicKey(again.privateKey).equals(ap.certificate.publicKey));
  });
});

describe('checkCertificateTrust', () => {
  it('refuses a certificate from another CA, naming it, with the caller’s error code', async () => {
    const root = await createCertificateAuthority({ subject: 'CN=Good Root' });
    const other = await createCertificateAuthority({ subject: 'CN=Other Root' });
    const stranger = await issueCertificate(other, { subject: 'CN=stranger', purposes: ['signing'] });
    assert.throws(
      () =>
        checkCertificateTrust(stranger.certificate, {
          trustAnchors: [root.certificate],
          what: 'signing certificate',
        }),
      (err: unknown) =>
        isCode('EHMI_CERTIFICATE_UNTRUSTED')(err) &&
        /signing certificate "CN=stranger" \(issuer "CN=Other Root"\) does not chain/.test(
          (err as Error).message,
        ),
    );
    assert.throws(
      () =>
        checkCertificateTrust(stranger.certificate, {
          trustAnchors: [root.certificate],
          errorCode: 'EHMI_AS4_FAILED_AUTHENTICATION',
        }),
      isCode('EHMI_AS4_FAILED_AUTHENTICATION'),
    );
  });

  it('refuses a certificate outside its validity', async () => {
    const root = await createCertificateAuthority({ subject: 'CN=Root' });
    const old = await issueCertificate(root, {
      subject: 'CN=old',
      purposes: ['signing'],
      notBefore: new Date('2020-01-01T00:00:00Z'),
      notAfter: new Date('2021-01-01T00:00:00Z'),
    });
    assert.throws(
      () => checkCertificateTrust(old.certificate, { trustAnchors: [root.certificate] }),
      /is not valid at/,
    );
  });

  it('builds a path through an intermediate CA, and not without it', async () => {
    const root = await createCertificateAuthority({ subject: 'CN=Root', pathLength: 1 });
    const intermediateCa = await issueCertificate(root, {
      subject: 'CN=Intermediate',
      purposes: ['signing'],
    });
    // An end-entity certificate is no CA: a path through it must not be built.
    const fake = await issueCertificate(intermediateCa as never, {
      subject: 'CN=leaf',
      purposes: ['signing'],
    });
    assert.throws(
      () =>
        checkCertificateTrust(fake.certificate, {
          trustAnchors: [root.certificate],
          intermediates: [intermediateCa.certificate],
        }),
      isCode('EHMI_CERTIFICATE_UNTRUSTED'),
    );
  });

  it('builds a path through an intermediate CA given as intermediate, and not without it', async () => {
    const root = await createCertificateAuthority({ subject: 'CN=Root', pathLength: 1 });
    const issuing = await issueCertificate(root, { subject: 'CN=Issuing CA', purposes: [], ca: {} });
    assert.equal(issuing.certificate.ca, true);
    const leaf = await issueCertificate(issuing, { subject: 'CN=leaf', purposes: ['signing'] });
    assert.equal(leaf.chain.length, 3);
    const path = checkCertificateTrust(leaf.certificate, {
      trustAnchors: [root.certificate],
      intermediates: [issuing.certificate],
    });
    assert.deepEqual(
      path.map((c) => c.subject),
      ['CN=leaf', 'CN=Issuing CA', 'CN=Root'],
    );
    assert.throws(
      () => checkCertificateTrust(leaf.certificate, { trustAnchors: [root.certificate] }),
      isCode('EHMI_CERTIFICATE_UNTRUSTED'),
    );
  });

  it('issues from a CA that signs with RSASSA-PSS, as OCES3 CAs do', async () => {
    const root = await createCertificateAuthority({ subject: 'CN=PSS Root', keyType: 'rsa-pss-2048' });
    const leaf = await issueCertificate(root, { subject: 'CN=leaf', purposes: ['signing'] });
    assert.ok(leaf.certificate.verify(root.certificate.publicKey));
    assert.equal(checkCertificateTrust(leaf.certificate, { trustAnchors: [root.certificate] }).length, 2);
  });

  it('accepts a pinned certificate as its own anchor', async () => {
    const root = await createCertificateAuthority({ subject: 'CN=Root' });
    const ap = await issueCertificate(root, { subject: 'CN=ap', purposes: ['signing'] });
    assert.equal(checkCertificateTrust(ap.certificate, { trustAnchors: [ap.certificatePem] }).length, 1);
  });

  it('needs trust anchors: none configured is a configuration error', async () => {
    const root = await createCertificateAuthority({ subject: 'CN=Root' });
    assert.throws(
      () => checkCertificateTrust(root.certificate, { trustAnchors: [] }),
      isCode('EHMI_CONFIG_INVALID'),
    );
  });

  it('still decides validity by the time of each check when the path was found before', async () => {
    const root = await createCertificateAuthority({ subject: 'CN=Root' });
    const ap = await issueCertificate(root, {
      subject: 'CN=ap',
      purposes: ['signing'],
      notBefore: new Date('2030-01-01T00:00:00Z'),
      notAfter: new Date('2031-01-01T00:00:00Z'),
    });
    const leaf = toCertificate(ap.certificatePem);
    const options = { trustAnchors: [root.certificatePem] };
    assert.deepEqual(checkCertificateTrust(leaf, { ...options, at: new Date('2030-06-01T00:00:00Z') }), [
      leaf,
      toCertificate(root.certificatePem),
    ]);
    assert.throws(
      () => checkCertificateTrust(leaf, { ...options, at: new Date('2031-06-01T00:00:00Z') }),
      /is not valid at/,
    );
    // The same octets from another issuer's key do not chain because they chained before.
    const other = await createCertificateAuthority({ subject: 'CN=Root' });
    assert.throws(
      () => checkCertificateTrust(leaf, { trustAnchors: [other.certificate], at: new Date('2030-06-01Z') }),
      /does not chain/,
    );
  });

  it('parses the same certificate once: PEM or DER, the same input gives the same object', async () => {
    const root = await createCertificateAuthority({ subject: 'CN=Root' });
    const ap = await issueCertificate(root, { subject: 'CN=ap', purposes: ['signing'] });
    const fromPem = toCertificate(ap.certificatePem);
    assert.equal(toCertificate(ap.certificatePem), fromPem);
    const der = new Uint8Array(ap.certificate.raw);
    const fromDer = toCertificate(der);
    assert.equal(toCertificate(Buffer.from(der)), fromDer);
    assert.ok(fromDer.raw.equals(fromPem.raw));
    // Other octets are another certificate, not a match on a prefix or a hash.
    const other = await issueCertificate(root, { subject: 'CN=ap', purposes: ['signing'] });
    assert.notEqual(toCertificate(other.certificate.raw), fromDer);
    assert.notEqual(toCertificate(other.certificate.raw).serialNumber, fromDer.serialNumber);
  });

  it('reports unreadable certificate input with the caller’s wording', () => {
    assert.throws(
      () => toCertificate('not a cert', { what: 'trust anchor' }),
      /the trust anchor is not an X\.509/,
    );
  });
});
