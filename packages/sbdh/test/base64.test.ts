import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
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

  it("ignores XML's whitespace in the text and refuses any other space character", () => {
    const bytes = randomBytes(60);
    const text = bytes.toString('base64');
    const lines = `${text.slice(0, 40)}\r\n\t${text.slice(40, 60)} ${text.slice(60)}\n`;
    assert.deepEqual(decodeBase64(lines), bytes);
    for (const space of ['\u00a0', '\u2028', '\u000b', '\u000c', '\u3000'])
      assert.equal(
        decodeBase64(`${text.slice(0, 40)}${space}${text.slice(40)}`),
        undefined,
        JSON.stringify(space),
      );
  });

  it('only the last few short texts are kept: texts beyond them, and a text too long to keep, take the round trip', (t) => {
    const texts = Array.from({ length: 6 }, () => randomBytes(300).toString('base64'));
    const long = randomBytes(300_000).toString('base64');
    // Each round trip encodes the decoded bytes back to base64: counted at Buffer#toString.
    const encode = t.mock.method(Buffer.prototype, 'toString');
    const roundTrips = (): number =>
      encode.mock.calls.filter((c: { arguments: unknown[] }) => c.arguments[0] === 'base64').length;
    for (const text of texts) assert.equal(isCanonicalBase64(text), true);
    assert.equal(roundTrips(), 6);
    // The last four are kept: answered without a round trip, by isCanonicalBase64 and by decodeBase64.
    for (const text of texts.slice(2)) assert.equal(isCanonicalBase64(text), true);
    for (const text of texts.slice(2)) assert.deepEqual(decodeBase64(text), Buffer.from(text, 'base64'));
    assert.equal(roundTrips(), 6);
    // The first two were evicted: each takes the round trip again.
    for (const text of texts.slice(0, 2)) assert.equal(isCanonicalBase64(text), true);
    assert.equal(roundTrips(), 8);
    // A text beyond 256 Ki characters is never kept.
    assert.equal(isCanonicalBase64(long), true);
    assert.equal(isCanonicalBase64(long), true);
    assert.equal(roundTrips(), 10);
  });

  it('a kept text does not keep the document it was read from alive', () => {
    const child = fileURLToPath(new URL('./base64-retain-child.ts', import.meta.url));
    const run = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', child], {
      encoding: 'utf8',
      maxBuffer: 1024 * 1024,
    });
    assert.equal(run.status, 0, run.stderr);
    const { start, end } = JSON.parse(run.stdout) as { start: number; end: number };
    // Four documents of 16 MB each were read: kept, they would add ~64 MB. The last one may still linger in V8's
    // last-match state now and then (the child resets it, not always with effect): less than two documents' worth.
    assert.ok(
      end - start < 24,
      `heap ${start.toFixed(1)} MB before, ${end.toFixed(1)} MB after the documents`,
    );
  });
});
