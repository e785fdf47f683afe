import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { decodeBase64, isCanonicalBase64 } from '../src/parse/base64.ts';
import { base64 } from '../src/validate/xsd-compiled.ts';

describe('canonical base64: the texts found canonical lately are kept', () => {
  it('a text checked again gives the same bytes; copies differing in one place stay refused', () => {
    const bytes = randomBytes(10_001);
    const text = bytes.toString('base64');
    assert.deepEqual(decodeBase64(text), bytes);
    assert.deepEqual(decodeBase64(text), bytes);
    assert.equal(base64(text), true);
    // Same length as a kept text, but not canonical: each must still fail the round trip.
    const badChar = `${text.slice(0, 100)}!${text.slice(101)}`;
    const urlSafe = text.replace(/\+/g, '-').replace(/\//g, '_');
    assert.notEqual(urlSafe, text);
    // 10,001 octets end in one padding character after a character whose last two bits are unused: 'R' sets one.
    const lastBits = `${text.slice(0, -2)}R=`;
    assert.equal(text.endsWith('=') && !text.endsWith('=='), true);
    for (const bad of [badChar, urlSafe, lastBits]) {
      assert.equal(bad.length, text.length);
      assert.equal(decodeBase64(bad), undefined);
      assert.equal(base64(bad), false);
      assert.equal(isCanonicalBase64(bad), false);
    }
  });

  it('texts beyond the few kept, and a text too long to keep, are checked again by the round trip', () => {
    const texts = Array.from({ length: 6 }, () => randomBytes(300).toString('base64'));
    for (const t of texts) assert.equal(isCanonicalBase64(t), true);
    for (const t of texts) assert.equal(isCanonicalBase64(t, Buffer.from(t, 'base64')), true);
    const long = randomBytes(300_000).toString('base64');
    assert.equal(isCanonicalBase64(long), true);
    // Its bytes as a caller with other bytes would give them: not kept, so the round trip decides (false).
    assert.equal(isCanonicalBase64(long, randomBytes(300_000)), false);
    // A kept text answers from the memory whatever bytes come with it: only callers who decoded it pass bytes.
    const kept = texts[5]!;
    assert.equal(isCanonicalBase64(kept, randomBytes(300)), true);
  });
});
