import 'reflect-metadata';
import { createPrivateKey, type KeyObject, webcrypto, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';

type CryptoKeyPair = webcrypto.CryptoKeyPair;
type CryptoKey = webcrypto.CryptoKey;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export interface TestParty {
  key: KeyObject;
  certificate: X509Certificate;
}

export interface TestPki {
  /** The trust anchor: a root CA. */
  root: X509Certificate;
  /** An intermediate CA under the root. */
  intermediate: X509Certificate;
  /** The SMP's signing certificate, issued by the root. */
  smp: TestParty;
  /** An SMP certificate issued by the intermediate (the path needs the intermediate). */
  smpViaIntermediate: TestParty;
  /** An SMP certificate under the root that expired in 2021. */
  expiredSmp: TestParty;
  /** An SMP certificate from a CA nobody trusts. */
  rogueSmp: TestParty;
  /** A receiving access point's certificate, published in the SMP. */
  ap: TestParty;
  /** A root CA that signs with RSASSA-PSS (as the Danish OCES3 CAs do), and an SMP certificate it issued. */
  pssRoot: X509Certificate;
  smpUnderPss: TestParty;
}

const NOT_BEFORE = new Date('2025-01-01T00:00:00Z');
const NOT_AFTER = new Date('2035-01-01T00:00:00Z');
const RSA = {
  name: 'RSASSA-PKCS1-v1_5',
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: 'SHA-256',
};

const PSS = {
  name: 'RSA-PSS',
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: 'SHA-256',
};
const PSS_SIGN = { name: 'RSA-PSS', saltLength: 32, hash: 'SHA-256' };

const keyPair = async () =>
  (await webcrypto.subtle.generateKey(RSA, true, ['sign', 'verify'])) as CryptoKeyPair;

async function selfSigned(
  name: string,
  keys: CryptoKeyPair,
  signingAlgorithm: object = RSA,
): Promise<{ cert: x509.X509Certificate; key: CryptoKey }> {
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name,
    notBefore: NOT_BEFORE,
    notAfter: NOT_AFTER,
    keys,
    signingAlgorithm: signingAlgorithm as never,
    extensions: [new x509.BasicConstraintsExtension(true, 2, true)],
  });
  return { cert, key: keys.privateKey };
}

async function issue(
  name: string,
  serial: string,
  ca: { cert: x509.X509Certificate; key: CryptoKey },
  keys: CryptoKeyPair,
  options: { isCa?: boolean; notBefore?: Date; notAfter?: Date; signingAlgorithm?: object } = {},
): Promise<{ cert: x509.X509Certificate; key: CryptoKey; party: TestParty }> {
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
    subject: name,
    issuer: ca.cert.subject,
    notBefore: options.notBefore ?? NOT_BEFORE,
    notAfter: options.notAfter ?? NOT_AFTER,
    publicKey: keys.publicKey as never,
    signingKey: ca.key as never,
    signingAlgorithm: (options.signingAlgorithm ?? RSA) as never,
    extensions: [
      new x509.BasicConstraintsExtension(options.isCa === true, options.isCa ? 0 : undefined, true),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return {
    cert,
    key: keys.privateKey,
    party: {
      key: createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }),
      certificate: new X509Certificate(Buffer.from(cert.rawData)),
    },
  };
}

const node = (c: x509.X509Certificate) => new X509Certificate(Buffer.from(c.rawData));

let pki: Promise<TestPki> | undefined;

/** A small test PKI (root CA → SMP certificate, and the variants the trust tests need), made once per process. */
export function testPki(): Promise<TestPki> {
  pki ??= (async () => {
    // RSA key generation dominates; the thread pool makes the keys in parallel.
    const k = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map(keyPair));
    const root = await selfSigned('CN=EHMI Test SMP Root CA, O=EHMI Test, C=DK', k[0]!);
    const rogue = await selfSigned('CN=Rogue CA, O=Nobody, C=XX', k[1]!);
    const intermediate = await issue('CN=EHMI Test SMP Issuing CA, O=EHMI Test, C=DK', '02', root, k[2]!, {
      isCa: true,
    });
    const smp = await issue('CN=SMP ehmi-test, O=EHMI Test, C=DK', '10', root, k[3]!);
    const smpViaIntermediate = await issue(
      'CN=SMP ehmi-test 2, O=EHMI Test, C=DK',
      '11',
      intermediate,
      k[4]!,
    );
    const expiredSmp = await issue('CN=SMP expired, O=EHMI Test, C=DK', '12', root, k[5]!, {
      notBefore: new Date('2020-01-01T00:00:00Z'),
      notAfter: new Date('2021-01-01T00:00:00Z'),
    });
    const rogueSmp = await issue('CN=SMP ehmi-test, O=EHMI Test, C=DK', '13', rogue, k[6]!);
    const ap = await issue('CN=AP 5790000121526, O=EHMI Test, C=DK', '20', root, k[7]!);
    const pssKeys = (await webcrypto.subtle.generateKey(PSS, true, ['sign', 'verify'])) as CryptoKeyPair;
    const pssRoot = await selfSigned('CN=EHMI Test PSS Root CA, O=EHMI Test, C=DK', pssKeys, PSS_SIGN);
    const smpUnderPss = await issue(
      'CN=SMP ehmi-test PSS, O=EHMI Test, C=DK',
      '30',
      pssRoot,
      await keyPair(),
      {
        signingAlgorithm: PSS_SIGN,
      },
    );
    return {
      root: node(root.cert),
      intermediate: node(intermediate.cert),
      smp: smp.party,
      smpViaIntermediate: smpViaIntermediate.party,
      expiredSmp: expiredSmp.party,
      rogueSmp: rogueSmp.party,
      ap: ap.party,
      pssRoot: node(pssRoot.cert),
      smpUnderPss: smpUnderPss.party,
    };
  })();
  return pki;
}
