import type { KeyObject, X509Certificate } from 'node:crypto';
import {
  type CertificateAuthority,
  type Credential,
  createCertificateAuthority,
  issueCertificate,
} from '@ehmi/pki';

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

const notBefore = new Date('2025-01-01T00:00:00Z');
const notAfter = new Date('2035-01-01T00:00:00Z');

const party = (c: Credential): TestParty => ({ key: c.privateKey, certificate: c.certificate });

function signer(
  ca: CertificateAuthority,
  subject: string,
  dates = { notBefore, notAfter },
): Promise<Credential> {
  return issueCertificate(ca, { subject, purposes: ['signing'], ...dates });
}

let pki: Promise<TestPki> | undefined;

/** A small test PKI (root CA → SMP certificate, and the variants the trust tests need), made once per process. */
export function testPki(): Promise<TestPki> {
  pki ??= (async () => {
    const [root, rogue, pssRoot] = await Promise.all([
      createCertificateAuthority({
        subject: 'CN=EHMI Test SMP Root CA, O=EHMI Test, C=DK',
        notBefore,
        notAfter,
        pathLength: 2,
      }),
      createCertificateAuthority({ subject: 'CN=Rogue CA, O=Nobody, C=XX', notBefore, notAfter }),
      createCertificateAuthority({
        subject: 'CN=EHMI Test PSS Root CA, O=EHMI Test, C=DK',
        keyType: 'rsa-pss-2048',
        notBefore,
        notAfter,
      }),
    ]);
    const intermediate = await issueCertificate(root, {
      subject: 'CN=EHMI Test SMP Issuing CA, O=EHMI Test, C=DK',
      purposes: [],
      ca: {},
      notBefore,
      notAfter,
    });
    const [smp, smpViaIntermediate, expiredSmp, rogueSmp, ap, smpUnderPss] = await Promise.all([
      signer(root, 'CN=SMP ehmi-test, O=EHMI Test, C=DK'),
      signer(intermediate, 'CN=SMP ehmi-test 2, O=EHMI Test, C=DK'),
      signer(root, 'CN=SMP expired, O=EHMI Test, C=DK', {
        notBefore: new Date('2020-01-01T00:00:00Z'),
        notAfter: new Date('2021-01-01T00:00:00Z'),
      }),
      signer(rogue, 'CN=SMP ehmi-test, O=EHMI Test, C=DK'),
      issueCertificate(root, {
        subject: 'CN=AP 5790000121526, O=EHMI Test, C=DK',
        purposes: ['signing', 'encryption'],
        notBefore,
        notAfter,
      }),
      signer(pssRoot, 'CN=SMP ehmi-test PSS, O=EHMI Test, C=DK'),
    ]);
    return {
      root: root.certificate,
      intermediate: intermediate.certificate,
      smp: party(smp),
      smpViaIntermediate: party(smpViaIntermediate),
      expiredSmp: party(expiredSmp),
      rogueSmp: party(rogueSmp),
      ap: party(ap),
      pssRoot: pssRoot.certificate,
      smpUnderPss: party(smpUnderPss),
    };
  })();
  return pki;
}
