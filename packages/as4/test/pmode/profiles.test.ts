import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ALGORITHMS,
  createPMode,
  EDELIVERY_AS4_20_NIST_SECURITY,
  EDELIVERY_AS4_20_SECURITY,
  EDELIVERY_AS4_115_SECURITY,
  securityProfileOf,
} from '../../src/pmode/profiles.ts';

const base = { id: 'p', service: { value: 'urn:s' }, action: 'urn:a' };

describe('createPMode', () => {
  it('defaults to eDelivery AS4 1.15: RSA-SHA256, AES-128-GCM, RSA-OAEP/MGF1-SHA256', () => {
    const p = createPMode(base);
    assert.equal(p.profile, 'edelivery-as4-1.15');
    assert.equal(p.leg.security.x509.sign.algorithm, ALGORITHMS.rsaSha256);
    assert.equal(p.leg.security.x509.encryption.algorithm, ALGORITHMS.aes128Gcm);
    assert.deepEqual(p.leg.security.x509.encryption.keyTransport, {
      algorithm: ALGORITHMS.rsaOaep,
      mgf: ALGORITHMS.mgf1Sha256,
      digest: ALGORITHMS.sha256,
    });
  });

  it('fixes what the 1.15 profile fixes: One-Way/Push, SOAP 1.2, gzip, NRR receipts as response, reception awareness', () => {
    const p = createPMode(base);
    assert.equal(p.mep, 'http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/oneWay');
    assert.equal(p.mepBinding, 'http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/push');
    assert.equal(p.leg.protocol.soapVersion, '1.2');
    assert.equal(p.leg.payloadService.compressionType, 'application/gzip');
    assert.deepEqual(p.leg.security.sendReceipt, {
      required: true,
      nonRepudiation: true,
      replyPattern: 'response',
    });
    assert.equal(p.leg.errorHandling.reportAsResponse, true);
    assert.equal(p.leg.receptionAwareness.duplicateDetection.enabled, true);
  });

  it('eDelivery AS4 2.0: Ed25519 and X25519 + HKDF + AES-KW', () => {
    const p = createPMode({ ...base, profile: 'edelivery-as4-2.0' });
    assert.equal(p.leg.security.x509.sign.algorithm, ALGORITHMS.ed25519);
    assert.deepEqual(p.leg.security.x509.encryption.keyAgreement, {
      algorithm: ALGORITHMS.x25519,
      keyDerivation: ALGORITHMS.hkdf,
      keyWrap: ALGORITHMS.kwAes128,
    });
    assert.equal(p.leg.security.x509.encryption.keyTransport, undefined);
  });

  it('eDelivery AS4 2.0 alternative EC profile: ECDSA P-256 and ECDH-ES', () => {
    const p = createPMode({ ...base, profile: 'edelivery-as4-2.0', curve: 'nist' });
    assert.equal(p.leg.security.x509.sign.algorithm, ALGORITHMS.ecdsaSha256);
    assert.equal(p.leg.security.x509.encryption.keyAgreement?.algorithm, ALGORITHMS.ecdhEs);
  });

  it('requires originalSender and finalRecipient unless four corner is turned off', () => {
    assert.deepEqual(createPMode(base).leg.businessInfo.requiredProperties, [
      'originalSender',
      'finalRecipient',
    ]);
    assert.deepEqual(createPMode({ ...base, fourCorner: false }).leg.businessInfo.requiredProperties, []);
  });

  it('gives each P-Mode its own security object (profiles are not shared mutable state)', () => {
    const a = createPMode(base);
    a.leg.security.x509.encryption.required = false;
    assert.equal(createPMode(base).leg.security.x509.encryption.required, true);
  });

  it("copies every level of its profile's security parameters, equal to the profile's", () => {
    const profiles = [
      [{ ...base }, EDELIVERY_AS4_115_SECURITY],
      [{ ...base, profile: 'edelivery-as4-2.0' as const }, EDELIVERY_AS4_20_SECURITY],
      [
        { ...base, profile: 'edelivery-as4-2.0' as const, curve: 'nist' as const },
        EDELIVERY_AS4_20_NIST_SECURITY,
      ],
    ] as const;
    for (const [input, profile] of profiles) {
      const before = structuredClone(profile);
      const s = createPMode(input).leg.security;
      assert.deepEqual(s, profile);
      // Every object in the copy is its own: a change anywhere in one P-Mode reaches neither the profile nor another.
      const objects = (o: object): object[] => [
        o,
        ...Object.values(o).flatMap((v) => (v !== null && typeof v === 'object' ? objects(v) : [])),
      ];
      const shared = new Set(objects(profile));
      for (const o of objects(s)) assert.ok(!shared.has(o), 'an object shared with the profile');
      for (const o of objects(s))
        for (const k of Object.keys(o)) (o as Record<string, unknown>)[k] = 'changed';
      assert.deepEqual(profile, before);
      assert.deepEqual(createPMode(input).leg.security, before);
    }
  });

  it('refuses a P-Mode without Service or Action (eDelivery AS4 1.15 Table 1)', () => {
    assert.throws(() => createPMode({ ...base, action: '' }), { code: 'EHMI_CONFIG_INVALID' });
  });
});

describe('securityProfileOf', () => {
  it('maps the P-Mode profile to the wss algorithm profile', () => {
    assert.equal(securityProfileOf(createPMode(base)), 'edelivery-1.15');
    assert.equal(securityProfileOf(createPMode({ ...base, profile: 'edelivery-as4-2.0' })), 'edelivery-2.0');
  });
});
