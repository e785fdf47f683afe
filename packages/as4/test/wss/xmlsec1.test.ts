import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseXml, serializeXml } from '@ehmi/xml';
import { signEnvelope } from '../../src/wss/sign.ts';
import { addTimestamp } from '../../src/wss/timestamp.ts';
import { testPki, userMessageXml } from './helpers.ts';

const available = spawnSync('xmlsec1', ['--version']).status === 0;

/** Verifies with xmlsec1 (libxmlsec1 + OpenSSL), an independent XML-DSig implementation, as SOURCES-as4-smp.md did. */
function xmlsec1Verify(xml: string, certPem: string): { ok: boolean; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ehmi-xmlsec1-'));
  try {
    writeFileSync(join(dir, 'msg.xml'), xml);
    writeFileSync(join(dir, 'cert.pem'), certPem);
    const r = spawnSync(
      'xmlsec1',
      [
        '--verify',
        '--pubkey-cert-pem',
        join(dir, 'cert.pem'),
        '--id-attr:Id',
        'Messaging',
        '--id-attr:Id',
        'Body',
        '--id-attr:Id',
        'Timestamp',
        join(dir, 'msg.xml'),
      ],
      { encoding: 'utf8' },
    );
    return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('our signatures verify with xmlsec1 (independent implementation)', {
  skip: !available && 'no xmlsec1',
}, () => {
  it('RSA-SHA256 over eb:Messaging, Body and wsu:Timestamp verifies with xmlsec1', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml('<x:Payload xmlns:x="urn:x" a="1">t &amp; &lt;</x:Payload>'));
    addTimestamp(doc);
    await signEnvelope(doc, [], { privateKey: pki.rsa.key, certificate: pki.rsa.certificate });
    const r = xmlsec1Verify(serializeXml(doc), pki.rsa.certificate.toString());
    assert.ok(r.ok, r.output);
  });

  it('ECDSA P-256 signature verifies with xmlsec1', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    await signEnvelope(doc, [], { privateKey: pki.ecdsa.key, certificate: pki.ecdsa.certificate });
    const r = xmlsec1Verify(serializeXml(doc), pki.ecdsa.certificate.toString());
    assert.ok(r.ok, r.output);
  });

  it('xmlsec1 rejects our signature once eb:Messaging is altered (the check can fail)', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    await signEnvelope(doc, [], { privateKey: pki.rsa.key, certificate: pki.rsa.certificate });
    const xml = serializeXml(doc).replace('m1@test', 'm2@test');
    assert.equal(xmlsec1Verify(xml, pki.rsa.certificate.toString()).ok, false);
  });
});
