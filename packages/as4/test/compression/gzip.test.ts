import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  checkCompressionProperties,
  compressAttachment,
  decompressAttachment,
  GZIP,
} from '../../src/compression/gzip.ts';
import { memorySink } from '../../src/mime/sink.ts';
import type { As4Attachment } from '../../src/model/attachment.ts';
import type { PartInfo } from '../../src/model/user-message.ts';
import { ebmsCodeOf } from '../helpers.ts';

const attachment = (bytes: Buffer): As4Attachment => ({
  contentId: 'p1@x',
  headers: { 'content-type': 'application/octet-stream' },
  open: () => Readable.from([bytes]),
  size: bytes.length,
});
const gzPart: PartInfo = {
  href: 'cid:p1@x',
  partProperties: [
    { name: 'MimeType', value: 'application/xml' },
    { name: 'CompressionType', value: GZIP },
  ],
};

async function collect(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

describe('compressAttachment', () => {
  it('gzips the body and returns MimeType, CharacterSet and CompressionType part properties', async () => {
    const { attachment: gz, partProperties } = compressAttachment(attachment(Buffer.from('<a/>')), {
      mimeType: 'application/xml',
      characterSet: 'utf-8',
    });
    assert.equal(gunzipSync(await collect(gz.open())).toString(), '<a/>');
    assert.deepEqual(partProperties, [
      { name: 'MimeType', value: 'application/xml' },
      { name: 'CharacterSet', value: 'utf-8' },
      { name: 'CompressionType', value: 'application/gzip' },
    ]);
    assert.equal(gz.headers['content-type'], 'application/octet-stream');
  });

  it('produces the same octets on every open() (the signed digest stays valid)', async () => {
    const { attachment: gz } = compressAttachment(attachment(Buffer.alloc(100_000, 7)), { mimeType: 'x/y' });
    assert.deepEqual(await collect(gz.open()), await collect(gz.open()));
  });
});

describe('decompressAttachment', () => {
  it('decompresses a gzip part and types it by its MimeType property', async () => {
    const out = await decompressAttachment(attachment(gzipSync('<doc/>')), gzPart, { sink: memorySink() });
    assert.equal((await collect(out.open())).toString(), '<doc/>');
    assert.equal(out.headers['content-type'], 'application/xml');
    assert.equal(out.size, 6);
  });

  it('passes an uncompressed part through unchanged (receivers MUST accept them)', async () => {
    const plain = attachment(Buffer.from('x'));
    const out = await decompressAttachment(
      plain,
      { href: 'cid:p1@x', partProperties: [] },
      { sink: memorySink() },
    );
    assert.equal(out, plain);
  });

  it('EBMS:0303 for a corrupt gzip stream', async () => {
    const corrupt = gzipSync('hello world, hello world');
    corrupt.writeUInt8(corrupt.readUInt8(corrupt.length - 6) ^ 0xff, corrupt.length - 6); // CRC32 trailer
    assert.equal(
      await ebmsCodeOf(() => decompressAttachment(attachment(corrupt), gzPart, { sink: memorySink() })),
      'EBMS:0303',
    );
  });

  it('EBMS:0303 for data that is not gzip at all', async () => {
    assert.equal(
      await ebmsCodeOf(() =>
        decompressAttachment(attachment(Buffer.from('plain')), gzPart, { sink: memorySink() }),
      ),
      'EBMS:0303',
    );
  });

  it('maxDecompressedBytes: exactly the limit is accepted', async () => {
    const out = await decompressAttachment(attachment(gzipSync(Buffer.alloc(1000))), gzPart, {
      sink: memorySink(),
      maxDecompressedBytes: 1000,
    });
    assert.equal(out.size, 1000);
  });

  it('maxDecompressedBytes: one octet over → EBMS:0303 (decompression bomb)', async () => {
    assert.equal(
      await ebmsCodeOf(() =>
        decompressAttachment(attachment(gzipSync(Buffer.alloc(1001))), gzPart, {
          sink: memorySink(),
          maxDecompressedBytes: 1000,
        }),
      ),
      'EBMS:0303',
    );
  });
});

describe('checkCompressionProperties', () => {
  it('EBMS:0303 for a CompressionType other than application/gzip', () => {
    assert.throws(
      () =>
        checkCompressionProperties({
          partProperties: [
            { name: 'MimeType', value: 'application/xml' },
            { name: 'CompressionType', value: 'application/rar' },
          ],
        }),
      { ebmsCode: 'EBMS:0303' },
    );
  });

  it('EBMS:0009 for CompressionType without MimeType (AS4 Profile §3.1)', () => {
    assert.throws(
      () => checkCompressionProperties({ partProperties: [{ name: 'CompressionType', value: GZIP }] }),
      {
        ebmsCode: 'EBMS:0009',
      },
    );
  });

  it('false for a part without CompressionType', () => {
    assert.equal(checkCompressionProperties({ partProperties: [{ name: 'MimeType', value: 'a/b' }] }), false);
  });
});

describe("decompressAttachment: failures that are not the sender's", () => {
  it('EBMS:0303 for a truncated gzip stream', async () => {
    const full = gzipSync(randomBytes(10_000));
    const truncated = full.subarray(0, full.length - 100);
    assert.equal(
      await ebmsCodeOf(() => decompressAttachment(attachment(truncated), gzPart, { sink: memorySink() })),
      'EBMS:0303',
    );
  });

  it('EHMI_INTERNAL (not EBMS:0303) when reading the stored part fails', async () => {
    const broken: As4Attachment = {
      contentId: 'p1@x',
      headers: {},
      open: () =>
        new Readable({
          read() {
            this.destroy(Object.assign(new Error('EIO'), { code: 'EIO' }));
          },
        }),
    };
    await assert.rejects(decompressAttachment(broken, gzPart, { sink: memorySink() }), {
      code: 'EHMI_INTERNAL',
    });
  });
});
