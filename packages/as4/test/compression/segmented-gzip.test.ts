import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { constants, deflateRaw, gunzipSync } from 'node:zlib';
import { SEGMENT_BYTES, segmentCoding, segmentedGzip } from '../../src/compression/segmented-gzip.ts';

async function gzipOf(data: Buffer, chunkSize: number): Promise<Buffer> {
  async function* chunks() {
    for (let i = 0; i < data.length; i += chunkSize) yield data.subarray(i, i + chunkSize);
  }
  const out: Buffer[] = [];
  for await (const c of segmentedGzip(chunks())) out.push(c);
  return Buffer.concat(out);
}

function xmlText(bytes: number): Buffer {
  let s = '';
  for (let i = 0; s.length < bytes; i++)
    s += `<Observation id="o${i}"><value>${i * 7}</value></Observation>\n`;
  return Buffer.from(s.slice(0, bytes));
}

const random = randomBytes(SEGMENT_BYTES * 2 + 12_345);
const base64 = Buffer.from(randomBytes(SEGMENT_BYTES).toString('base64'));
const text = xmlText(SEGMENT_BYTES + 999);
const mixed = Buffer.concat([text, random, base64]);

describe('segmentedGzip', () => {
  it('writes one gzip member that gunzip reads back, for every kind of content and for none', async () => {
    for (const data of [random, base64, text, mixed, Buffer.alloc(0), Buffer.from('<a/>')]) {
      assert.ok(gunzipSync(await gzipOf(data, 65_536)).equals(data));
    }
  });

  it('is read by gzip(1) too, a reader other than Node zlib', {
    skip: spawnSync('gzip', ['-V']).error !== undefined,
  }, async () => {
    const r = spawnSync('gzip', ['-dc'], { input: await gzipOf(mixed, 65_536), maxBuffer: 16 * 1024 * 1024 });
    assert.equal(r.status, 0, String(r.stderr));
    assert.ok(r.stdout.equals(mixed));
  });

  it('writes the same octets however the input is chunked (the signed digest stays valid)', async () => {
    const whole = await gzipOf(mixed, mixed.length);
    assert.ok(whole.equals(await gzipOf(mixed, 65_536)));
    assert.ok(whole.equals(await gzipOf(mixed, 1_000)));
  });

  it('writes a small part as the thread-pool deflate did: the same octets, however it is deflated', async () => {
    for (const data of [text.subarray(0, 10_000), text.subarray(0, 64 * 1024)]) {
      const deflated = await promisify(deflateRaw)(data, { level: 6, finishFlush: constants.Z_SYNC_FLUSH });
      const gz = await gzipOf(data, 4096);
      assert.ok(gz.subarray(10, 10 + deflated.length).equals(deflated));
      assert.equal(gz.length, 10 + deflated.length + 5 + 8);
    }
  });

  it('stores incompressible segments, Huffman-codes base64 and deflates text', async () => {
    assert.equal(await segmentCoding(random.subarray(0, SEGMENT_BYTES)), 'stored');
    assert.equal(await segmentCoding(base64), 'huffman');
    assert.equal(await segmentCoding(text), 'deflate');
    // Stored: 5 octets per 64 KiB block, the 10-octet header, the 13-octet trailer.
    const gz = await gzipOf(random, 65_536);
    assert.ok(gz.length - random.length < 200, `${gz.length - random.length} octets of overhead`);
    assert.ok((await gzipOf(base64, 65_536)).length < base64.length * 0.8);
    assert.ok((await gzipOf(text, 65_536)).length < text.length * 0.3);
  });
});
