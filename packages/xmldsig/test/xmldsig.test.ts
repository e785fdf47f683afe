import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { childElement, parseXml, rootElement } from '@ehmi/xml';
import {
  canonicalize,
  DSIG,
  DSIG_NS,
  digestElement,
  readReference,
  SIGNATURE_METHODS,
  sameDigest,
  signatureMethodFor,
  signBytes,
  signBytesAsync,
  signSignedInfo,
  verifyBytes,
  verifySignatureValue,
} from '../src/index.ts';

const KEYS = {
  rsa: generateKeyPairSync('rsa', { modulusLength: 2048 }),
  ec: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }),
  ec384: generateKeyPairSync('ec', { namedCurve: 'secp384r1' }),
  ed25519: generateKeyPairSync('ed25519'),
};

function keyFor(method: string) {
  if (method === DSIG.ed25519) return KEYS.ed25519;
  if (method.includes('ecdsa')) return KEYS.ec;
  return KEYS.rsa;
}

describe('signature methods', () => {
  for (const method of SIGNATURE_METHODS) {
    it(`signs and verifies ${method.split('#')[1]}`, () => {
      const { privateKey, publicKey } = keyFor(method);
      const data = Buffer.from('<SignedInfo/>');
      const value = signBytes(method, privateKey, data);
      assert.ok(verifyBytes(method, publicKey, data, value));
      assert.ok(
        verifyBytes(method, privateKey, data, value),
        'a private key verifies through its public key',
      );
      assert.equal(verifyBytes(method, publicKey, Buffer.from('other'), value), false);
    });
  }

  for (const method of SIGNATURE_METHODS) {
    it(`signs ${method.split('#')[1]} off the event loop with the same result`, async () => {
      const { privateKey, publicKey } = keyFor(method);
      const data = Buffer.from('<SignedInfo/>');
      const value = await signBytesAsync(method, privateKey, data);
      assert.ok(verifyBytes(method, publicKey, data, value));
      assert.equal(verifyBytes(method, publicKey, Buffer.from('other'), value), false);
      // PKCS#1 v1.5 and Ed25519 are deterministic: the very same octets as signing on the main thread.
      if (method === DSIG.rsaSha256 || method === DSIG.ed25519) {
        assert.deepEqual(value, signBytes(method, privateKey, data));
      }
    });
  }

  it('signing off the event loop refuses an unknown method as signing on it does', async () => {
    await assert.rejects(signBytesAsync('urn:made-up', KEYS.rsa.privateKey, Buffer.from('x')), {
      code: 'EHMI_NOT_SUPPORTED',
    });
  });

  it('a key of the wrong type, a malformed value or an unknown method is false, not an exception', () => {
    const data = Buffer.from('x');
    const rsaValue = signBytes(DSIG.rsaSha256, KEYS.rsa.privateKey, data);
    assert.equal(verifyBytes(DSIG.ecdsaSha256, KEYS.ec.publicKey, data, rsaValue), false);
    assert.equal(verifyBytes(DSIG.rsaSha256, KEYS.ec.publicKey, data, rsaValue), false);
    assert.equal(verifyBytes(DSIG.ed25519, KEYS.ed25519.publicKey, data, Buffer.alloc(3)), false);
    assert.equal(verifyBytes('urn:made-up', KEYS.rsa.publicKey, data, rsaValue), false);
  });

  it('ECDSA values are r‖s (64 octets for P-256), not DER', () => {
    assert.equal(signBytes(DSIG.ecdsaSha256, KEYS.ec.privateKey, Buffer.from('x')).length, 64);
  });

  it('the method for a key: RSA-SHA256, Ed25519, ECDSA-SHA256 on P-256; others EHMI_NOT_SUPPORTED', () => {
    assert.equal(signatureMethodFor(KEYS.rsa.privateKey), DSIG.rsaSha256);
    assert.equal(signatureMethodFor(KEYS.ed25519.privateKey), DSIG.ed25519);
    assert.equal(signatureMethodFor(KEYS.ec.privateKey), DSIG.ecdsaSha256);
    assert.throws(() => signatureMethodFor(KEYS.ec384.privateKey), { code: 'EHMI_NOT_SUPPORTED' });
    assert.throws(() => signBytes('urn:made-up', KEYS.rsa.privateKey, Buffer.from('x')), {
      code: 'EHMI_NOT_SUPPORTED',
    });
  });
});

describe('canonicalisation and references', () => {
  const doc = parseXml(
    '<r:root xmlns:r="urn:r" xmlns:u="urn:unused" xmlns="urn:d"><r:a  b="1"   a="2">t&amp;<r:e/></r:a></r:root>',
  );
  const a = childElement(rootElement(doc), 'urn:r', 'a')!;

  it('exclusive c14n renders only the namespaces used; inclusive all in scope', () => {
    assert.equal(canonicalize(a, DSIG.excC14n), '<r:a xmlns:r="urn:r" a="2" b="1">t&amp;<r:e></r:e></r:a>');
    assert.equal(
      canonicalize(a, DSIG.excC14n, { inclusivePrefixes: ['u'] }),
      '<r:a xmlns:r="urn:r" xmlns:u="urn:unused" a="2" b="1">t&amp;<r:e></r:e></r:a>',
    );
    assert.equal(
      canonicalize(a, DSIG.c14n10),
      '<r:a xmlns="urn:d" xmlns:r="urn:r" xmlns:u="urn:unused" a="2" b="1">t&amp;<r:e></r:e></r:a>',
    );
    assert.throws(() => canonicalize(a, 'urn:made-up'), TypeError);
  });

  it('digests an element and compares a DigestValue', () => {
    const d = digestElement(a, { digestMethod: DSIG.sha256 });
    assert.ok(sameDigest(d, d.toString('base64')));
    assert.equal(sameDigest(d, Buffer.alloc(32).toString('base64')), false);
    assert.equal(sameDigest(d, ''), false);
    assert.throws(() => digestElement(a, { digestMethod: 'urn:made-up' }), TypeError);
  });

  it('reads a ds:Reference; one without DigestValue is undefined', () => {
    const ref = rootElement(
      parseXml(
        `<ds:Reference xmlns:ds="${DSIG_NS.ds}" URI="#x"><ds:Transforms><ds:Transform Algorithm="${DSIG.excC14n}"><ec:InclusiveNamespaces xmlns:ec="${DSIG_NS.ec}" PrefixList="a  b"/></ds:Transform></ds:Transforms><ds:DigestMethod Algorithm="${DSIG.sha256}"/><ds:DigestValue> AA\nBB </ds:DigestValue></ds:Reference>`,
      ),
    );
    const r = readReference(ref)!;
    assert.deepEqual(
      { uri: r.uri, transforms: r.transforms, digestMethod: r.digestMethod, digestValue: r.digestValue },
      {
        uri: '#x',
        transforms: [{ algorithm: DSIG.excC14n, inclusivePrefixes: ['a', 'b'] }],
        digestMethod: DSIG.sha256,
        digestValue: 'AABB',
      },
    );
    ref.removeChild(childElement(ref, DSIG_NS.ds, 'DigestValue')!);
    assert.equal(readReference(ref), undefined);
  });

  it('signs SignedInfo in place and verifies its SignatureValue', () => {
    const sig = parseXml(
      `<x xmlns:s="urn:s"><Signature xmlns="${DSIG_NS.ds}"><SignedInfo><CanonicalizationMethod Algorithm="${DSIG.excC14n}"/><SignatureMethod Algorithm="${DSIG.rsaSha256}"/></SignedInfo><SignatureValue/></Signature></x>`,
    );
    const signature = childElement(rootElement(sig), DSIG_NS.ds, 'Signature')!;
    const si = childElement(signature, DSIG_NS.ds, 'SignedInfo')!;
    const sv = childElement(signature, DSIG_NS.ds, 'SignatureValue')!;
    sv.appendChild(sig.createTextNode(signSignedInfo(si, DSIG.rsaSha256, KEYS.rsa.privateKey)));
    assert.ok(verifySignatureValue(si, sv, DSIG.rsaSha256, KEYS.rsa.publicKey));
    si.setAttribute('Id', 'changed');
    assert.equal(verifySignatureValue(si, sv, DSIG.rsaSha256, KEYS.rsa.publicKey), false);
  });
});
