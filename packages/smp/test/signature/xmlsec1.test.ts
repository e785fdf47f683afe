import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildSignedServiceMetadata, DSIG, NS, verifySignedServiceMetadata } from '../../src/index.ts';
import { smpFixture } from '../helpers/fixtures.ts';
import { sampleMetadata } from '../helpers/model.ts';
import { type TestPki, testPki } from '../helpers/pki.ts';

const HAS_XMLSEC = spawnSync('xmlsec1', ['--version']).status === 0;
const skip = HAS_XMLSEC ? false : 'xmlsec1 is not installed (apt-get install -y xmlsec1)';

let pki: TestPki;
let dir: string;
before(async () => {
  pki = await testPki();
  dir = mkdtempSync(join(tmpdir(), 'smp-xmlsec-'));
  writeFileSync(join(dir, 'root.pem'), pki.root.toString());
  writeFileSync(join(dir, 'smp.pem'), pki.smp.certificate.toString());
  writeFileSync(join(dir, 'smp.key'), pki.smp.key.export({ type: 'pkcs8', format: 'pem' }));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function xmlsec(args: string[]): { ok: boolean; out: string } {
  const r = spawnSync('xmlsec1', args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}

describe('interoperability with xmlsec1 (Debian xmlsec1 1.2.x)', () => {
  for (const flavour of ['oasis-bdxr-1', 'peppol'] as const) {
    it(`xmlsec1 verifies a response we signed, chained to our root CA (${flavour})`, { skip }, () => {
      const file = join(dir, `signed-${flavour}.xml`);
      writeFileSync(
        file,
        buildSignedServiceMetadata(sampleMetadata(pki.ap.certificate.raw, { flavour }), {
          key: pki.smp.key,
          certificate: pki.smp.certificate,
        }),
      );
      const r = xmlsec(['--verify', '--trusted-pem', join(dir, 'root.pem'), file]);
      assert.ok(r.ok, r.out);
    });
  }

  it('xmlsec1 refuses a response we signed and someone changed', { skip }, () => {
    const file = join(dir, 'tampered.xml');
    const xml = buildSignedServiceMetadata(sampleMetadata(pki.ap.certificate.raw), {
      key: pki.smp.key,
      certificate: pki.smp.certificate,
    });
    writeFileSync(file, xml.replace('https://ap.ehmi.test/as4', 'https://evil.test/as4'));
    assert.equal(xmlsec(['--verify', '--trusted-pem', join(dir, 'root.pem'), file]).ok, false);
  });

  it('xmlsec1 agrees that peppol-signed-service-metadata2.xml verifies', { skip }, () => {
    const file = join(dir, 'peppol2.xml');
    writeFileSync(file, smpFixture('peppol-signed-service-metadata2.xml'));
    const r = xmlsec(['--verify', '--insecure', '--enabled-key-data', 'x509', file]);
    assert.ok(r.ok, r.out);
  });

  it('we verify a Peppol response xmlsec1 signed with a ds: prefix and InclusiveNamespaces', { skip }, () => {
    const unsigned = buildSignedServiceMetadata(
      sampleMetadata(pki.ap.certificate.raw, { flavour: 'peppol' }),
      {
        key: pki.smp.key,
        certificate: pki.smp.certificate,
      },
    ).replace(/<Signature [\s\S]*<\/Signature>/, '');
    const ec = 'http://www.w3.org/2001/10/xml-exc-c14n#';
    const template = unsigned.replace(
      '</SignedServiceMetadata>',
      `<ds:Signature xmlns:ds="${NS.ds}"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="${DSIG.excC14n}">` +
        `<ec:InclusiveNamespaces xmlns:ec="${ec}" PrefixList="ids"/></ds:CanonicalizationMethod>` +
        `<ds:SignatureMethod Algorithm="${DSIG.rsaSha256}"/><ds:Reference URI=""><ds:Transforms>` +
        `<ds:Transform Algorithm="${DSIG.envelopedSignature}"/><ds:Transform Algorithm="${DSIG.excC14n}">` +
        `<ec:InclusiveNamespaces xmlns:ec="${ec}" PrefixList="wsa"/></ds:Transform></ds:Transforms>` +
        `<ds:DigestMethod Algorithm="${DSIG.sha256}"/><ds:DigestValue/></ds:Reference></ds:SignedInfo>` +
        '<ds:SignatureValue/><ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature></SignedServiceMetadata>',
    );
    const tpl = join(dir, 'template-ds.xml');
    const out = join(dir, 'xmlsec-signed-ds.xml');
    writeFileSync(tpl, template);
    const r = xmlsec([
      '--sign',
      '--privkey-pem',
      `${join(dir, 'smp.key')},${join(dir, 'smp.pem')}`,
      '--output',
      out,
      tpl,
    ]);
    assert.ok(r.ok, r.out);
    const result = verifySignedServiceMetadata(readFileSync(out, 'utf8'), { trustAnchors: [pki.root] });
    assert.equal(result.serviceMetadata.flavour, 'peppol');
  });

  it('we verify a response xmlsec1 signed with inclusive Canonical XML 1.0 (the Domibus form)', {
    skip,
  }, () => {
    const unsigned = buildSignedServiceMetadata(sampleMetadata(pki.ap.certificate.raw), {
      key: pki.smp.key,
      certificate: pki.smp.certificate,
    }).replace(/<Signature [\s\S]*<\/Signature>/, '');
    const template = unsigned.replace(
      '</SignedServiceMetadata>',
      `<Signature xmlns="${NS.ds}"><SignedInfo><CanonicalizationMethod Algorithm="${DSIG.c14n10}"/>` +
        `<SignatureMethod Algorithm="${DSIG.rsaSha256}"/><Reference URI=""><Transforms>` +
        `<Transform Algorithm="${DSIG.envelopedSignature}"/></Transforms><DigestMethod Algorithm="${DSIG.sha256}"/>` +
        '<DigestValue/></Reference></SignedInfo><SignatureValue/><KeyInfo><X509Data/></KeyInfo></Signature></SignedServiceMetadata>',
    );
    const tpl = join(dir, 'template.xml');
    const out = join(dir, 'xmlsec-signed.xml');
    writeFileSync(tpl, template);
    const r = xmlsec([
      '--sign',
      '--privkey-pem',
      `${join(dir, 'smp.key')},${join(dir, 'smp.pem')}`,
      '--output',
      out,
      tpl,
    ]);
    assert.ok(r.ok, r.out);
    const result = verifySignedServiceMetadata(readFileSync(out, 'utf8'), { trustAnchors: [pki.root] });
    assert.equal(result.signatureMethod, DSIG.rsaSha256);
    assert.equal(result.certificate.fingerprint256, pki.smp.certificate.fingerprint256);
  });
});
