import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Element, parseXml } from '@ehmi/xml';
import { NS } from '../../src/wss/ns.ts';
import { signEnvelope } from '../../src/wss/sign.ts';
import { addTimestamp, checkTimestamp } from '../../src/wss/timestamp.ts';
import { verifyEnvelope } from '../../src/wss/verify.ts';
import { rejectsWith, reparse, testPki, trustRoot, userMessageXml } from './helpers.ts';

const T0 = new Date('2026-11-26T01:00:00Z');
const at = (secondsFromT0: number) => () => new Date(T0.getTime() + secondsFromT0 * 1000);

function stamped(ttlSeconds = 300) {
  const doc = parseXml(userMessageXml());
  addTimestamp(doc, { clock: at(0), ttlSeconds });
  return reparse(doc);
}

describe('WS-Security Timestamp (WSS 1.1.1 SOAP Message Security §10)', () => {
  it('addTimestamp writes Created and Expires in UTC', () => {
    const doc = stamped(300);
    const ts = doc.getElementsByTagNameNS(NS.wsu, 'Timestamp')[0] as Element;
    assert.equal(ts.getElementsByTagNameNS(NS.wsu, 'Created')[0]!.textContent, '2026-11-26T01:00:00.000Z');
    assert.equal(ts.getElementsByTagNameNS(NS.wsu, 'Expires')[0]!.textContent, '2026-11-26T01:05:00.000Z');
  });

  it('a timestamp inside its lifetime passes', () => {
    assert.ok(checkTimestamp(stamped(), { clock: at(100), skewSeconds: 0 }));
  });

  it('EBMS:0101 for an expired timestamp beyond the skew window', async () => {
    await rejectsWith(
      (async () => checkTimestamp(stamped(300), { clock: at(300 + 61), skewSeconds: 60 }))(),
      'EBMS:0101',
      'timestamp-expired',
    );
  });

  it('an expired timestamp inside the skew window passes', () => {
    assert.ok(checkTimestamp(stamped(300), { clock: at(300 + 59), skewSeconds: 60 }));
  });

  it('EBMS:0101 for a timestamp created beyond the skew window in the future', async () => {
    await rejectsWith(
      (async () => checkTimestamp(stamped(), { clock: at(-61), skewSeconds: 60 }))(),
      'EBMS:0101',
      'timestamp-future',
    );
  });

  it('a timestamp created in the future inside the skew window passes', () => {
    assert.ok(checkTimestamp(stamped(), { clock: at(-59), skewSeconds: 60 }));
  });

  it('EBMS:0103 when a timestamp is required and absent', async () => {
    await rejectsWith(
      (async () => checkTimestamp(parseXml(userMessageXml()), { required: true }))(),
      'EBMS:0103',
      'timestamp-missing',
    );
  });

  it('EBMS:0101 for a Created that is not an xsd:dateTime', async () => {
    const doc = stamped();
    (doc.getElementsByTagNameNS(NS.wsu, 'Created')[0] as Element).textContent = 'yesterday';
    await rejectsWith(
      (async () => checkTimestamp(doc, { clock: at(0) }))(),
      'EBMS:0101',
      'timestamp-invalid',
    );
  });

  it('signEnvelope signs the timestamp and verifyEnvelope checks it with the configured skew', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    addTimestamp(doc, { clock: at(0), ttlSeconds: 300 });
    await signEnvelope(doc, [], { privateKey: pki.rsa.key, certificate: pki.rsa.certificate });
    const signed = reparse(doc);
    const r = await verifyEnvelope(signed, [], {
      trust: trustRoot(pki.root),
      clock: at(10),
      requireTimestamp: true,
    });
    assert.ok(r.references.some((x) => x.target === 'Timestamp'));
    await rejectsWith(
      verifyEnvelope(signed, [], { trust: trustRoot(pki.root), clock: at(1000), skewSeconds: 60 }),
      'EBMS:0101',
      'timestamp-expired',
    );
  });

  it('EBMS:0103 when a timestamp is present but not signed', async () => {
    const pki = await testPki();
    const doc = parseXml(userMessageXml());
    await signEnvelope(doc, [], { privateKey: pki.rsa.key, certificate: pki.rsa.certificate });
    addTimestamp(doc, { clock: at(0) });
    await rejectsWith(
      verifyEnvelope(reparse(doc), [], { trust: trustRoot(pki.root), clock: at(1) }),
      'EBMS:0103',
      'timestamp-unsigned',
    );
  });
});
