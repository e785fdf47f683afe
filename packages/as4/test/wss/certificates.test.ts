import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { issuerSerialOf, matchesIssuerSerial } from '../../src/wss/certificates.ts';
import { AS4_FIXTURES } from '../helpers.ts';

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
