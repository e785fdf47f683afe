import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { EhmiError } from '@ehmi/errors';
import { ByteBudget } from '../../src/budget.ts';
import {
  checkCompressionProperties,
  compressAttachment,
  type DecompressOptions,
  decompressAttachment,
  GZIP,
  partCharacterSet,
} from '../../src/compression/gzip.ts';
import { type AttachmentSink, memorySink } from '../../src/mime/sink.ts';
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
    // The compressed part is typed as what it is (phase4's WSS4JAttachment does the same), so the encryptor writes
    // EncryptedData/@MimeType="application/gzip" and the signature digests it as octets.
    assert.equal(gz.headers['content-type'], 'application/gzip');
  });

  it('takes CharacterSet from the charset parameter of mimeType or of the source, and keeps MimeType bare', async () => {
    const fromMime = compressAttachment(attachment(Buffer.from('<a/>')), {
      mimeType: 'application/xml; charset=UTF-8',
    });
    assert.deepEqual(fromMime.partProperties, [
      { name: 'MimeType', value: 'application/xml' },
      { name: 'CharacterSet', value: 'UTF-8' },
      { name: 'CompressionType', value: GZIP },
    ]);
    const text: As4Attachment = {
      ...attachment(Buffer.from('x')),
      headers: { 'content-type': 'text/plain; charset="iso-8859-1"' },
    };
    assert.deepEqual(compressAttachment(text, { mimeType: 'text/plain' }).partProperties, [
      { name: 'MimeType', value: 'text/plain' },
      { name: 'CharacterSet', value: 'iso-8859-1' },
      { name: 'CompressionType', value: GZIP },
    ]);
    // A binary payload has no character set: no CharacterSet property.
    assert.deepEqual(
      compressAttachment(attachment(Buffer.from('x')), { mimeType: 'application/pdf' }).partProperties.map(
        (p) => p.name,
      ),
      ['MimeType', 'CompressionType'],
    );
  });

  it('refuses a character set that is not a charset name (it would break a Content-Type)', () => {
    assert.throws(
      () =>
        compressAttachment(attachment(Buffer.from('x')), {
          mimeType: 'text/plain',
          characterSet: 'utf-8; x=y',
        }),
      { code: 'EHMI_USAGE' },
    );
  });

  it('produces the same octets on every open() (the signed digest stays valid)', async () => {
    const { attachment: gz } = compressAttachment(attachment(Buffer.alloc(100_000, 7)), { mimeType: 'x/y' });
    assert.deepEqual(await collect(gz.open()), await collect(gz.open()));
  });

  it('gives each later read of a small part its own octets: a reader changing its chunk changes no other read', async () => {
    const { attachment: gz } = compressAttachment(attachment(Buffer.from('<a>x</a>')), { mimeType: 'x/y' });
    const first = await collect(gz.open());
    for (let i = 0; i < 2; i++) for await (const chunk of gz.open()) (chunk as Buffer).fill(0);
    assert.deepEqual(await collect(gz.open()), first);
  });

  it('gzips a small part once, when first read to its end, and a large one on every read', async () => {
    const counted = (bytes: Buffer) => {
      let opened = 0;
      const source: As4Attachment = {
        contentId: 'p1@x',
        headers: {},
        open: () => {
          opened++;
          return Readable.from([bytes]);
        },
      };
      return { source, opened: () => opened };
    };
    const small = counted(randomBytes(20_000));
    const { attachment: gz } = compressAttachment(small.source, { mimeType: 'x/y' });
    // A read given up on keeps nothing.
    for await (const _ of gz.open()) break;
    const first = await collect(gz.open());
    assert.equal(small.opened(), 2);
    assert.deepEqual(await collect(gz.open()), first);
    assert.deepEqual(await collect(gz.open()), first);
    assert.equal(small.opened(), 2);
    assert.deepEqual(gunzipSync(first), await collect(small.source.open()));

    // Random octets do not shrink: 100,000 of them gzip to more than the 64 KiB kept.
    const large = counted(randomBytes(100_000));
    const { attachment: big } = compressAttachment(large.source, { mimeType: 'x/y' });
    assert.deepEqual(await collect(big.open()), await collect(big.open()));
    assert.equal(large.opened(), 2);
  });
});

describe('decompressAttachment', () => {
  it('decompresses a gzip part and types it by its MimeType property', async () => {
    const out = await decompressAttachment(attachment(gzipSync('<doc/>')), gzPart, { sink: memorySink() });
    assert.equal((await collect(out.open())).toString(), '<doc/>');
    assert.equal(out.headers['content-type'], 'application/xml');
    assert.equal(out.size, 6);
  });

  it('types a compressed part by its MimeType and CharacterSet properties', async () => {
    const part: PartInfo = {
      href: 'cid:p1@x',
      partProperties: [
        { name: 'MimeType', value: ' application/xml ' },
        { name: 'CharacterSet', value: 'utf-8' },
        { name: 'CompressionType', value: GZIP },
      ],
    };
    const out = await decompressAttachment(attachment(gzipSync('<doc/>')), part, { sink: memorySink() });
    assert.equal(out.headers['content-type'], 'application/xml; charset=utf-8');
  });

  it('an uncompressed part with CharacterSet gets it as its charset; one without keeps its type', async () => {
    const plain: As4Attachment = {
      ...attachment(Buffer.from('<a/>')),
      headers: { 'content-type': 'application/xml' },
    };
    const part = (props: PartInfo['partProperties']): PartInfo => ({
      href: 'cid:p1@x',
      partProperties: props,
    });
    const out = await decompressAttachment(
      plain,
      part([
        { name: 'MimeType', value: 'application/xml' },
        { name: 'CharacterSet', value: 'UTF-8' },
      ]),
      { sink: memorySink() },
    );
    assert.equal(out.headers['content-type'], 'application/xml; charset=UTF-8');
    assert.equal((await collect(out.open())).toString(), '<a/>');
    const same = await decompressAttachment(plain, part([{ name: 'MimeType', value: 'application/xml' }]), {
      sink: memorySink(),
    });
    assert.equal(same, plain);
  });

  it('EBMS:0003 for a CharacterSet that is not a charset name; an empty one counts as absent', async () => {
    const props = (value: string): PartInfo => ({
      href: 'cid:p1@x',
      partProperties: [...gzPart.partProperties, { name: 'CharacterSet', value }],
    });
    assert.equal(partCharacterSet(props('')), undefined);
    assert.equal(partCharacterSet(gzPart), undefined);
    assert.equal(partCharacterSet(props('windows-1252')), 'windows-1252');
    assert.equal(
      await ebmsCodeOf(() =>
        decompressAttachment(attachment(gzipSync('<doc/>')), props('utf-8; x="y"'), { sink: memorySink() }),
      ),
      'EBMS:0003',
    );
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

  it('EHMI_STORE_UNAVAILABLE (retryable, not EBMS:0303) when reading the stored part fails', async () => {
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
      code: 'EHMI_STORE_UNAVAILABLE',
      transient: true,
    });
  });

  it('EHMI_STORE_UNAVAILABLE (retryable, not EBMS:0303) when writing the sink fails', async () => {
    const full = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    const sink: AttachmentSink = {
      create: () => ({
        writable: new Writable({ write: (_c, _e, cb) => cb(full) }),
        open: () => Readable.from([]),
      }),
      dispose: async () => {},
    };
    await assert.rejects(
      decompressAttachment(attachment(gzipSync(Buffer.alloc(10_000))), gzPart, { sink }),
      (err: EhmiError) =>
        err.code === 'EHMI_STORE_UNAVAILABLE' && err.ebmsCode === 'EBMS:0004' && err.transient,
    );
  });

  it("EHMI_UNAVAILABLE (retryable, not EBMS:0303) when the receiver's pool of decompressed octets is spent", async () => {
    const pool = new ByteBudget(64 * 1024, 'decompressed payloads');
    const other = pool.lease();
    other.take(60 * 1024);
    const lease = pool.lease();
    await assert.rejects(
      decompressAttachment(attachment(gzipSync(randomBytes(20_000))), gzPart, { sink: memorySink(), lease }),
      (err: EhmiError) => err.code === 'EHMI_UNAVAILABLE' && err.ebmsCode === 'EBMS:0004' && err.transient,
    );
    lease.release();
    other.release();
    assert.equal(pool.used, 0);
    const ok = pool.lease();
    const out = await decompressAttachment(attachment(gzipSync(randomBytes(20_000))), gzPart, {
      sink: memorySink(),
      lease: ok,
    });
    assert.equal(out.size, 20_000);
    assert.equal(pool.used, 20_000, 'held until the message gives it back');
  });
});

describe('decompressAttachment: the ratio bound (decompression bombs)', () => {
  /** A sink that counts what reaches it. */
  function countingSink(): { sink: AttachmentSink; written: () => number } {
    let written = 0;
    return {
      sink: {
        create: () => ({
          writable: new Writable({
            write(c: Buffer, _e, cb) {
              written += c.length;
              cb();
            },
          }),
          open: () => Readable.from([]),
        }),
        dispose: async () => {},
      },
      written: () => written,
    };
  }

  it('past decompressionRatioFreeBytes, exactly maxDecompressionRatio × the compressed size is accepted', async () => {
    const gz = gzipSync(Buffer.alloc(100_000));
    const ratio = Math.ceil(100_000 / gz.length);
    const out = await decompressAttachment(attachment(gz), gzPart, {
      sink: memorySink(),
      maxDecompressionRatio: ratio,
      decompressionRatioFreeBytes: 1000,
    });
    assert.equal(out.size, 100_000);
  });

  it('one ratio step less → EBMS:0303, and what reached the sink stays within the bound', async () => {
    const gz = gzipSync(Buffer.alloc(100_000));
    const ratio = Math.ceil(100_000 / gz.length) - 1;
    const counting = countingSink();
    await assert.rejects(
      decompressAttachment(attachment(gz), gzPart, {
        sink: counting.sink,
        maxDecompressionRatio: ratio,
        decompressionRatioFreeBytes: 1000,
      }),
      (err: EhmiError) => err.ebmsCode === 'EBMS:0303' && err.details.limit === 'maxDecompressionRatio',
    );
    assert.ok(counting.written() <= ratio * gz.length, `${counting.written()} octets written`);
  });

  it('below decompressionRatioFreeBytes any ratio is accepted', async () => {
    const gz = gzipSync(Buffer.alloc(100_000));
    const out = await decompressAttachment(attachment(gz), gzPart, {
      sink: memorySink(),
      maxDecompressionRatio: 1,
      decompressionRatioFreeBytes: 100_000,
    });
    assert.equal(out.size, 100_000);
  });

  it('a bomb (256 MiB of zeros in 260 KB) is stopped at the default ratio, far before it is written out', async () => {
    // gzip of zeros reaches about 1,000:1; four concatenated gzip members of 64 MiB each.
    const member = gzipSync(Buffer.alloc(64 * 1024 * 1024));
    const gz = Buffer.concat([member, member, member, member]);
    const counting = countingSink();
    await assert.rejects(
      decompressAttachment(attachment(gz), gzPart, { sink: counting.sink }),
      (err: EhmiError) => err.ebmsCode === 'EBMS:0303' && err.details.limit === 'maxDecompressionRatio',
    );
    const bound = Math.max(10 * 1024 * 1024, 100 * gz.length);
    assert.ok(counting.written() <= bound, `${counting.written()} octets written, bound ${bound}`);
  });
});

describe('decompressAttachment: a small part in one call and the stream give the same verdict', () => {
  const xml = Buffer.from(
    Array.from(
      { length: 400 },
      (_, i) => `<Observation id="o${i}"><value>${i * 7}</value></Observation>\n`,
    ).join(''),
  );
  const spent = () => {
    const pool = new ByteBudget(64 * 1024, 'decompressed payloads');
    pool.lease().take(60 * 1024);
    return pool.lease();
  };
  const failingSink = (): AttachmentSink => ({
    create: () => ({
      writable: new Writable({
        write: (_c, _e, cb) =>
          cb(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' })),
      }),
      open: () => Readable.from([]),
    }),
    dispose: async () => {},
  });
  const zeros = gzipSync(Buffer.alloc(100_000));
  const crc = gzipSync(xml);
  crc.writeUInt8(crc.readUInt8(crc.length - 6) ^ 0xff, crc.length - 6);
  const cases: {
    name: string;
    gz: Buffer;
    options?: Partial<DecompressOptions>;
    sink?: () => AttachmentSink;
    expect: string;
  }[] = [
    { name: 'a 16 KB XML part', gz: gzipSync(xml), expect: `ok ${xml.length}` },
    {
      name: 'two gzip members',
      gz: Buffer.concat([gzipSync(xml), gzipSync(xml)]),
      expect: `ok ${2 * xml.length}`,
    },
    {
      name: 'zero octets after the member',
      gz: Buffer.concat([gzipSync(xml), Buffer.alloc(8)]),
      expect: `ok ${xml.length}`,
    },
    {
      name: 'other octets after the member',
      gz: Buffer.concat([gzipSync(xml), Buffer.from('xyz')]),
      expect: 'EBMS:0303',
    },
    {
      name: 'a member header cut short after the member',
      gz: Buffer.concat([gzipSync(xml), Buffer.from([0x1f])]),
      expect: 'EBMS:0303',
    },
    { name: 'a truncated stream', gz: gzipSync(xml).subarray(0, 100), expect: 'EBMS:0303' },
    { name: 'a wrong CRC', gz: crc, expect: 'EBMS:0303' },
    { name: 'not gzip at all', gz: Buffer.from('plain'), expect: 'EBMS:0303' },
    { name: 'an empty part', gz: Buffer.alloc(0), expect: 'EBMS:0303' },
    {
      name: 'exactly maxDecompressedBytes',
      gz: gzipSync(Buffer.alloc(1000)),
      options: { maxDecompressedBytes: 1000 },
      expect: 'ok 1000',
    },
    {
      name: 'one octet over maxDecompressedBytes',
      gz: gzipSync(Buffer.alloc(1001)),
      options: { maxDecompressedBytes: 1000 },
      expect: 'EBMS:0303 maxDecompressedBytes',
    },
    {
      name: 'exactly the ratio',
      gz: zeros,
      options: {
        maxDecompressionRatio: Math.ceil(100_000 / zeros.length),
        decompressionRatioFreeBytes: 1000,
      },
      expect: 'ok 100000',
    },
    {
      name: 'one ratio step less',
      gz: zeros,
      options: {
        maxDecompressionRatio: Math.ceil(100_000 / zeros.length) - 1,
        decompressionRatioFreeBytes: 1000,
      },
      expect: 'EBMS:0303 maxDecompressionRatio',
    },
    // 64 MiB of zeros in about 64 KB: small enough to be held, stopped at the default ratio.
    {
      name: 'a small bomb',
      gz: gzipSync(Buffer.alloc(63 * 1024 * 1024)),
      expect: 'EBMS:0303 maxDecompressionRatio',
    },
    // Held, but the bounds allow more than one call gives: the stream after all.
    {
      name: '4 MiB out of a small part',
      gz: gzipSync(Buffer.alloc(4 * 1024 * 1024)),
      expect: `ok ${4 * 1024 * 1024}`,
    },
    {
      name: "the receiver's pool spent",
      gz: gzipSync(randomBytes(20_000)),
      options: { lease: spent() },
      expect: 'EHMI_UNAVAILABLE',
    },
    { name: 'the sink failing', gz: gzipSync(xml), sink: failingSink, expect: 'EHMI_STORE_UNAVAILABLE' },
  ];
  async function verdict(c: (typeof cases)[number], oneCallBytes: number | undefined): Promise<string> {
    const sink = c.sink?.() ?? memorySink();
    // In 4 KB chunks, as a part is read: held chunk by chunk.
    const chunks = Array.from({ length: Math.ceil(c.gz.length / 4096) }, (_, i) =>
      c.gz.subarray(i * 4096, (i + 1) * 4096),
    );
    const part: As4Attachment = { contentId: 'p1@x', headers: {}, open: () => Readable.from(chunks) };
    try {
      const out = await decompressAttachment(part, gzPart, {
        sink,
        ...c.options,
        ...(oneCallBytes === undefined ? {} : { oneCallBytes }),
        ...(c.options?.lease && oneCallBytes === 0 ? { lease: spent() } : {}),
      });
      const plain = await collect(out.open());
      assert.equal(plain.length, out.size);
      return `ok ${out.size}`;
    } catch (err) {
      const e = err as EhmiError;
      if (e.code === 'EHMI_AS4_DECOMPRESSION_FAILURE')
        return [e.ebmsCode, e.details.limit].filter(Boolean).join(' ');
      return e.code;
    }
  }
  for (const c of cases) {
    it(c.name, async () => {
      assert.equal(await verdict(c, undefined), c.expect, 'in one call');
      assert.equal(await verdict(c, 0), c.expect, 'streamed');
    });
  }

  it('a part that cannot be read to its end leaves its sink part given up, held or streamed', async () => {
    for (const oneCallBytes of [undefined, 0]) {
      const writable = new Writable({ write: (_c, _e, cb) => cb() });
      const sink: AttachmentSink = {
        create: () => ({ writable, open: () => Readable.from([]) }),
        dispose: async () => {},
      };
      const gz = gzipSync(xml);
      const broken: As4Attachment = {
        contentId: 'p1@x',
        headers: {},
        open: () =>
          Readable.from(
            (async function* () {
              yield gz.subarray(0, 100);
              throw Object.assign(new Error('EIO'), { code: 'EIO' });
            })(),
          ),
      };
      await assert.rejects(
        decompressAttachment(broken, gzPart, {
          sink,
          ...(oneCallBytes === undefined ? {} : { oneCallBytes }),
        }),
        { code: 'EHMI_STORE_UNAVAILABLE' },
      );
      assert.ok(writable.destroyed && !writable.writableFinished, `oneCallBytes ${oneCallBytes}`);
    }
  });

  it('a held part reaches the sink in one write; a larger one streams, and both give the same octets', async () => {
    const big = Buffer.concat(Array.from({ length: 20 }, () => xml));
    const writes: number[] = [];
    const sink: AttachmentSink = {
      create: () => {
        const inner = memorySink().create({ contentId: 'p1@x', headers: {}, index: 0 });
        const writable = new Writable({
          write(c: Buffer, e, cb) {
            writes.push(c.length);
            inner.writable.write(c, e, cb);
          },
          final: (cb) => inner.writable.end(cb),
        });
        return { writable, open: () => inner.open() };
      },
      dispose: async () => {},
    };
    const held = await decompressAttachment(attachment(gzipSync(big)), gzPart, { sink });
    assert.deepEqual(writes, [big.length]);
    assert.deepEqual(await collect(held.open()), big);
    writes.length = 0;
    const streamed = await decompressAttachment(attachment(gzipSync(big)), gzPart, { sink, oneCallBytes: 0 });
    assert.ok(writes.length > 1, `${writes.length} writes`);
    assert.deepEqual(await collect(streamed.open()), big);
  });
});
