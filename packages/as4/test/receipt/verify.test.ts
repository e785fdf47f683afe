import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { serializeXml } from '@ehmi/xml';
import { buildReceipt } from '../../src/receipt/build.ts';
import { signReceipt } from '../../src/receipt/sign.ts';
import { verifyReceipt } from '../../src/receipt/verify.ts';
import { AS4_FIXTURES, ebmsCodeOf } from '../helpers.ts';

const key = createPrivateKey(readFileSync(`${AS4_FIXTURES}keys/phase4-ph-as4.key.pem`));
const cert = readFileSync(`${AS4_FIXTURES}keys/phase4-ph-as4.cert.pem`, 'utf8');
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';
const sentRefs = [
  {
    uri: '#msg-1',
    transforms: [],
    digestMethod: SHA256,
    digestValue: Buffer.alloc(32, 1).toString('base64'),
  },
  {
    uri: 'cid:p1@x',
    transforms: [],
    digestMethod: SHA256,
    digestValue: Buffer.alloc(32, 2).toString('base64'),
  },
];

async function signedReceipt(references = sentRefs): Promise<string> {
  const receipt = buildReceipt({ refToMessageId: 'm1@x', references });
  return (await signReceipt(receipt, { privateKey: key, certificate: cert })).xml;
}

describe('verifyReceipt', () => {
  it('accepts a signed receipt whose NRI matches what was sent', async () => {
    const { signal, verified } = await verifyReceipt(
      await signedReceipt(),
      { messageId: 'm1@x', references: sentRefs },
      {
        trust: () => true,
      },
    );
    assert.equal(signal.receipt?.nonRepudiationInformation?.length, 2);
    assert.match(verified.certificate.subject, /ph-as4/);
  });

  it('EBMS:0101 when the receipt was changed after signing', async () => {
    const xml = (await signedReceipt()).replace(
      Buffer.alloc(32, 2).toString('base64'),
      Buffer.alloc(32, 3).toString('base64'),
    );
    const code = await ebmsCodeOf(() =>
      verifyReceipt(xml, { messageId: 'm1@x', references: sentRefs }, { trust: () => true }),
    );
    assert.equal(code, 'EBMS:0101');
  });

  it('EBMS:0101 when the signer is not trusted', async () => {
    const code = await ebmsCodeOf(async () =>
      verifyReceipt(
        await signedReceipt(),
        { messageId: 'm1@x', references: sentRefs },
        { trust: () => false },
      ),
    );
    assert.equal(code, 'EBMS:0101');
  });

  it('EBMS:0103 for an unsigned receipt', async () => {
    const xml = serializeXml(buildReceipt({ refToMessageId: 'm1@x', references: sentRefs }).document);
    const code = await ebmsCodeOf(() =>
      verifyReceipt(xml, { messageId: 'm1@x', references: sentRefs }, { trust: () => true }),
    );
    assert.equal(code, 'EBMS:0103');
  });

  it('EBMS:0302 for a valid signed receipt whose NRI does not match what was sent', async () => {
    const other = [sentRefs[0]!, { ...sentRefs[1]!, digestValue: Buffer.alloc(32, 7).toString('base64') }];
    const code = await ebmsCodeOf(async () =>
      verifyReceipt(
        await signedReceipt(other),
        { messageId: 'm1@x', references: sentRefs },
        { trust: () => true },
      ),
    );
    assert.equal(code, 'EBMS:0302');
  });

  it('EBMS:0302 when the response is an error signal, not a receipt', async () => {
    const { buildErrorSignal } = await import('../../src/signals/error.ts');
    const xml = serializeXml(buildErrorSignal(new Error('x'), { refToMessageInError: 'm1@x' }).document);
    const code = await ebmsCodeOf(() =>
      verifyReceipt(xml, { messageId: 'm1@x', references: sentRefs }, { trust: () => true }),
    );
    assert.equal(code, 'EBMS:0302');
  });
});
