import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { type Credential, createCertificateAuthority, issueCertificate } from '@ehmi/pki';
import { subjectMatches } from '../../src/auth/index.ts';

describe('tls_client_auth_subject_dn (RFC 8705 §2.1.2)', () => {
  let plain: Credential;
  let oces: Credential;
  before(async () => {
    const ca = await createCertificateAuthority({ subject: 'CN=DN test CA, O=EHMI Test, C=DK' });
    plain = await issueCertificate(ca, { subject: 'CN=msh.gp, O=Lægehuset, C=DK', purposes: ['tls-client'] });
    oces = await issueCertificate(ca, {
      subject: {
        cvr: '12345678',
        organisation: 'Læge, huset',
        name: 'msh.gp',
        serialNumber: 'UI:DK-S:G:abc',
      },
      purposes: ['tls-client'],
    });
  });

  it('matches the DN in the certificate order and in RFC 4514 order', () => {
    assert.ok(subjectMatches(plain.certificate, 'CN=msh.gp, O=Lægehuset, C=DK'));
    assert.ok(subjectMatches(plain.certificate, 'C=DK,O=Lægehuset,CN=msh.gp'));
  });

  it('matches an OCES3-style subject (organizationIdentifier, serialNumber, an escaped comma)', () => {
    assert.ok(
      subjectMatches(
        oces.certificate,
        'serialNumber=UI:DK-S:G:abc, CN=msh.gp, organizationIdentifier=NTRDK-12345678, O=Læge\\, huset, C=DK',
      ),
    );
  });

  it('refuses another value, a missing RDN or an extra one', () => {
    assert.equal(subjectMatches(plain.certificate, 'CN=msh.gp2, O=Lægehuset, C=DK'), false);
    assert.equal(subjectMatches(plain.certificate, 'CN=msh.gp, C=DK'), false);
    assert.equal(subjectMatches(plain.certificate, 'CN=msh.gp, OU=x, O=Lægehuset, C=DK'), false);
    assert.equal(subjectMatches(plain.certificate, 'O=Lægehuset, CN=msh.gp, C=DK'), false);
  });
});
