import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseXml } from '@ehmi/xml';
import {
  decodePkiPath,
  encodePkiPath,
  issuerSerialOf,
  matchesIssuerSerial,
} from '../../src/wss/certificates.ts';
import { buildIdMap } from '../../src/wss/ids.ts';
import { NS, TOKEN } from '../../src/wss/ns.ts';
import { binarySecurityTokenXml, resolveKeyInfo } from '../../src/wss/token.ts';
import { AS4_FIXTURES } from '../helpers.ts';
import { testPki } from './helpers.ts';

const red = new X509Certificate(readFileSync(`${AS4_FIXTURES}keys/domibus-red_gw.cert.pem`));

/** An attribute value as RFC 4514 `#hex` BER, as Java's X500Principal writes types it has no keyword for. */
const ber = (tag: number, text: string) =>
  `#${Buffer.concat([Buffer.from([tag, Buffer.byteLength(text)]), Buffer.from(text)]).toString('hex')}`;

describe('X509IssuerSerial matching', () => {
  const { serialNumber } = issuerSerialOf(red);

  it('matches the RFC 2253 form Domibus writes, in any RDN order and case', () => {
    assert.ok(matchesIssuerSerial(red, 'C=BE,O=eDelivery,CN=red_gw', serialNumber));
    assert.ok(matchesIssuerSerial(red, 'cn=RED_GW, o=eDelivery, c=BE', serialNumber));
    assert.ok(!matchesIssuerSerial(red, 'C=BE,O=eDelivery,CN=blue_gw', serialNumber));
    assert.ok(!matchesIssuerSerial(red, 'C=BE,O=eDelivery,CN=red_gw', '1'));
  });

  it('decodes #hex values (RFC 4514 §2.4; Java writes emailAddress, serialNumber, organizationIdentifier so)', () => {
    const hex = `2.5.4.6=${ber(0x13, 'BE')},2.5.4.10=${ber(0x0c, 'eDelivery')},2.5.4.3=${ber(0x0c, 'red_gw')}`;
    assert.ok(matchesIssuerSerial(red, hex, serialNumber));
    assert.ok(!matchesIssuerSerial(red, `2.5.4.6=${ber(0x13, 'DK')},O=eDelivery,CN=red_gw`, serialNumber));
  });
});

describe('BinarySecurityToken text', () => {
  const content = (xml: string) =>
    /^<wsse:BinarySecurityToken [^>]*>([^<]*)<\/wsse:BinarySecurityToken>$/.exec(xml)?.[1];

  it('carries the path or the certificate of the chain it is given, also when written again', async () => {
    const pki = await testPki();
    for (let i = 0; i < 2; i++) {
      for (const party of [pki.rsa, pki.ed25519]) {
        const path = binarySecurityTokenXml(party.chain, 'X509PKIPathv1');
        assert.equal(content(path.xml), encodePkiPath(party.chain).toString('base64'));
        assert.ok(path.xml.includes(`wsu:Id="${path.id}"`));
        const single = binarySecurityTokenXml(party.chain, 'X509v3');
        assert.equal(content(single.xml), party.certificate.raw.toString('base64'));
        assert.notEqual(single.id, path.id);
      }
    }
    // The same signer in another chain (here: without its issuer, as other objects) gets its own text.
    const alone = binarySecurityTokenXml([pki.rsa.certificate], 'X509PKIPathv1');
    assert.equal(content(alone.xml), encodePkiPath([pki.rsa.certificate]).toString('base64'));
    const copied = pki.rsa.chain.map((c) => new X509Certificate(c.raw));
    const other = binarySecurityTokenXml([pki.rsa.certificate, copied[1]!], 'X509PKIPathv1');
    assert.equal(content(other.xml), encodePkiPath(pki.rsa.chain).toString('base64'));
    assert.deepEqual(
      decodePkiPath(Buffer.from(content(other.xml)!, 'base64')).map((c) => c.fingerprint256),
      [pki.rsa.chain[1]!.fingerprint256, pki.rsa.certificate.fingerprint256],
    );
  });
});

describe('BinarySecurityToken read', () => {
  /** A Security header with the token and a KeyInfo referring to it, parsed; resolved as the verifier does. */
  const resolve = (token: string) => {
    const doc = parseXml(
      `<wsse:Security xmlns:wsse="${NS.wsse}" xmlns:wsu="${NS.wsu}">${token}` +
        `<ds:KeyInfo xmlns:ds="${NS.ds}"><wsse:SecurityTokenReference><wsse:Reference URI="#${/wsu:Id="([^"]+)"/.exec(token)![1]}"/>` +
        '</wsse:SecurityTokenReference></ds:KeyInfo></wsse:Security>',
    );
    const security = doc.documentElement!;
    const keyInfo = security.getElementsByTagNameNS(NS.ds, 'KeyInfo')[0]!;
    return resolveKeyInfo(keyInfo, { idMap: buildIdMap(doc), security });
  };

  it('gives the certificates of the token it reads, the same when read again, in an array of its own', async () => {
    const pki = await testPki();
    for (const party of [pki.rsa, pki.ecdsa]) {
      const path = binarySecurityTokenXml(party.chain, 'X509PKIPathv1').xml;
      const single = binarySecurityTokenXml(party.chain, 'X509v3').xml;
      const first = resolve(path);
      assert.deepEqual(
        first.chain.map((c) => c.fingerprint256),
        party.chain.map((c) => c.fingerprint256),
      );
      first.chain.pop();
      const again = resolve(path);
      assert.equal(again.chain.length, party.chain.length);
      assert.equal(again.certificate.fingerprint256, party.certificate.fingerprint256);
      // The same octets as X509v3: the signer alone.
      assert.deepEqual(
        resolve(single).chain.map((c) => c.fingerprint256),
        [party.certificate.fingerprint256],
      );
      // The same text under another value type is read as that type.
      assert.throws(() => resolve(path.replace(TOKEN.x509PkiPathV1, `${TOKEN.x509v3}x`)), {
        code: 'EHMI_AS4_FAILED_AUTHENTICATION',
      });
    }
  });

  it('refuses an unsupported value type also when its attribute and text spell a token read before', async () => {
    const pki = await testPki();
    const base64 = encodePkiPath(pki.rsa.chain).toString('base64');
    const head = base64.slice(0, 40);
    const tail = base64.slice(40);
    // An honest path token with its base64 wrapped by a space after 40 characters, read (and kept) first.
    const honest = binarySecurityTokenXml(pki.rsa.chain, 'X509PKIPathv1').xml.replace(
      base64,
      `${head} ${tail}`,
    );
    assert.equal(resolve(honest).chain.length, 2);
    // The value type's attribute carries the path's URI, a space and the first 40 characters; the text the rest.
    const forged = honest
      .replace(`ValueType="${TOKEN.x509PkiPathV1}"`, `ValueType="${TOKEN.x509PkiPathV1} ${head}"`)
      .replace(`${head} ${tail}`, tail);
    assert.throws(() => resolve(forged), { code: 'EHMI_AS4_FAILED_AUTHENTICATION', message: /ValueType/ });
  });

  it('reads the same octets wrapped differently as the same certificates', async () => {
    const pki = await testPki();
    const base64 = encodePkiPath(pki.rsa.chain).toString('base64');
    const token = binarySecurityTokenXml(pki.rsa.chain, 'X509PKIPathv1').xml;
    const wrapped = token.replace(base64, base64.replace(/(.{64})/g, '$1\n'));
    assert.deepEqual(
      resolve(wrapped).chain.map((c) => c.fingerprint256),
      pki.rsa.chain.map((c) => c.fingerprint256),
    );
  });
});
