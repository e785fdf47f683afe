import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseXml, serializeXml } from '@ehmi/xml';
import { signEnvelope } from '../../src/wss/sign.ts';
import { addTimestamp } from '../../src/wss/timestamp.ts';
import { testPki, userMessageXml, XMLSEC1, xmlsec1Verify } from './helpers.ts';

describe('our signatures verify with xmlsec1 (independent implementation)', {
  skip: !XMLSEC1 && 'no xmlsec1',
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
