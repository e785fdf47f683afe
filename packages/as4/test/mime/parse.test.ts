import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { describe, it } from 'node:test';
import type { EhmiError } from '@ehmi/errors';
import { ByteBudget } from '../../src/budget.ts';
import { readMimeMessage } from '../../src/mime/parse.ts';
import { type AttachmentSink, memorySink, tempFileSink } from '../../src/mime/sink.ts';
import { chunked, ebmsCodeOf, multipart, readVector, userMessageEnvelope } from '../helpers.ts';

const root = {
  headers: { 'Content-Type': 'application/soap+xml; charset=UTF-8' },
  body: userMessageEnvelope(['p1@x']),
};
const att = (id: string, body: string | Buffer = 'payload') => ({
  headers: { 'Content-Type': 'application/octet-stream', 'Content-ID': `<${id}>` },
  body,
});

async function bytes(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

async function text(r: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks).toString('utf8');
}

describe('readMimeMessage', () => {
  it('reads the root part and streams an attachment into the sink', async () => {
    const m = multipart([root, att('p1@x', 'hello')]);
    const msg = await readMimeMessage(chunked(m.body, 7), { contentType: m.contentType, sink: memorySink() });
    assert.match(msg.envelope.toString(), /^<S12:Envelope/);
    assert.equal(msg.attachments.length, 1);
    assert.equal(msg.attachments[0]?.contentId, 'p1@x');
    assert.equal(msg.attachments[0]?.headers['content-type'], 'application/octet-stream');
    assert.equal(msg.attachments[0]?.size, 5);
    assert.equal(await text(msg.attachments[0]!.open()), 'hello');
  });

  it('lets open() be called again (re-readable bodies)', async () => {
    const m = multipart([root, att('p1@x', 'again')]);
    const msg = await readMimeMessage(Readable.from([m.body]), {
      contentType: m.contentType,
      sink: memorySink(),
    });
    assert.equal(await text(msg.attachments[0]!.open()), 'again');
    assert.equal(await text(msg.attachments[0]!.open()), 'again');
  });

  it('writes attachments to temporary files by default and removes them on dispose', async () => {
    const sink = tempFileSink();
    const m = multipart([root, att('p1@x', 'on disk')]);
    const msg = await readMimeMessage(Readable.from([m.body]), { contentType: m.contentType, sink });
    assert.equal(await text(msg.attachments[0]!.open()), 'on disk');
    await sink.dispose();
    assert.throws(() => msg.attachments[0]!.open());
  });

  it('unfolds folded part headers (RFC 5322 §2.2.3) and leaves bodies alone, however the input is split', async () => {
    const body = Buffer.from('line 1\r\n folded-looking body line\r\n\r\n\tmore\r\n');
    const m = multipart([
      {
        headers: { 'Content-Type': 'application/soap+xml;\r\n\tcharset=UTF-8' },
        body: userMessageEnvelope(['p1@x', 'p2@x']),
      },
      { headers: { 'Content-Type': 'application/octet-stream', 'Content-ID': '\r\n <p1@x>' }, body },
      { headers: { 'Content-ID': '<p2@x>', 'Content-Description': 'a\r\n  b' }, body: '' },
    ]);
    for (const size of [1, 2, 3, 7, m.body.length]) {
      const msg = await readMimeMessage(chunked(m.body, size), {
        contentType: m.contentType,
        sink: memorySink(),
      });
      assert.equal(msg.envelopeHeaders['content-type'], 'application/soap+xml;\tcharset=UTF-8');
      assert.deepEqual(
        msg.attachments.map((a) => a.contentId),
        ['p1@x', 'p2@x'],
      );
      assert.equal(msg.attachments[1]?.headers['content-description'], 'a  b');
      assert.equal(await text(msg.attachments[0]!.open()), body.toString());
      assert.equal(await text(msg.attachments[1]!.open()), '');
    }
  });

  it('does not hang when a part over the high-water mark ends in the same input chunk (temp-file sink)', async () => {
    // The part's last write is refused (back-pressure) and the part is ended before the file sink drains: an ended
    // Writable never emits 'drain', so waiting for 'drain' alone hung for ever (every one-chunk body > 16 KiB).
    const big = Buffer.alloc(200_000, 7);
    const sink = tempFileSink();
    const m = multipart([root, att('p1@x', big), att('p2@x', big)]);
    for (const body of [Readable.from([m.body]), chunked(m.body, 65_536)]) {
      const msg = await readMimeMessage(body, { contentType: m.contentType, sink });
      assert.equal((await text(msg.attachments[1]!.open())).length, big.length);
    }
    await sink.dispose();
  });

  it('picks the root part named by the start parameter (RFC 2387 §3.2)', async () => {
    const m = multipart([
      att('p1@x', 'first'),
      { ...root, headers: { ...root.headers, 'Content-ID': '<root@x>' } },
    ]);
    const msg = await readMimeMessage(Readable.from([m.body]), {
      contentType: `${m.contentType}; start="<root@x>"`,
      sink: memorySink(),
    });
    assert.match(msg.envelope.toString(), /^<S12:Envelope/);
    assert.equal(msg.attachments[0]?.contentId, 'p1@x');
  });

  it('decodes a base64 Content-Transfer-Encoding part', async () => {
    const m = multipart([
      root,
      {
        headers: { 'Content-ID': '<p1@x>', 'Content-Transfer-Encoding': 'base64' },
        body: Buffer.from('decoded body')
          .toString('base64')
          .replace(/(.{8})/g, '$1\r\n'),
      },
    ]);
    const msg = await readMimeMessage(chunked(m.body, 5), { contentType: m.contentType, sink: memorySink() });
    assert.equal(await text(msg.attachments[0]!.open()), 'decoded body');
  });

  it('reads a single-part application/soap+xml body as the envelope', async () => {
    const msg = await readMimeMessage(Readable.from([Buffer.from('<x/>')]), {
      contentType: 'application/soap+xml; charset=UTF-8',
    });
    assert.equal(msg.envelope.toString(), '<x/>');
    assert.deepEqual(msg.attachments, []);
  });

  it('keeps memory bounded: waits for a slow sink instead of buffering (back-pressure)', async () => {
    let written = 0;
    let maxAhead = 0;
    let produced = 0;
    const slow: AttachmentSink = {
      create() {
        const writable = new Writable({
          highWaterMark: 1024,
          write(chunk: Buffer, _e, cb) {
            written += chunk.length;
            setImmediate(cb);
          },
        });
        return { writable, open: () => Readable.from([]) };
      },
      async dispose() {},
    };
    const head = multipart([root]).body.subarray(0, -`--MIME_boundary_test--\r\n`.length);
    async function* source() {
      yield head;
      yield Buffer.from('--MIME_boundary_test\r\nContent-ID: <p1@x>\r\n\r\n');
      for (let i = 0; i < 2000; i++) {
        produced += 1024;
        maxAhead = Math.max(maxAhead, produced - written);
        yield Buffer.alloc(1024, 0x61);
      }
      yield Buffer.from('\r\n--MIME_boundary_test--\r\n');
    }
    const msg = await readMimeMessage(source(), { contentType: multipart([]).contentType, sink: slow });
    assert.equal(msg.attachments[0]?.size, 2000 * 1024);
    assert.ok(maxAhead < 256 * 1024, `producer ran ${maxAhead} bytes ahead of the sink`);
  });

  it('parses the phase4 signed+encrypted MIME vector (root + one binary part)', async () => {
    const v = readVector('phase4-peppol-usermessage-signed-encrypted.mime');
    const msg = await readMimeMessage(chunked(v.body, 333), {
      contentType: v.contentType,
      sink: memorySink(),
    });
    assert.match(msg.envelope.toString('utf8'), /<S12:Envelope/);
    assert.equal(msg.attachments.length, 1);
    assert.equal(msg.attachments[0]?.contentId, 'phase4-att-ff0f8ad5-f982-48ba-b8e2-26997600f496@cid');
    assert.equal(msg.attachments[0]?.headers['content-description'], 'Attachment');
  });
});

describe('readMimeMessage limits (one over → an ebMS error)', () => {
  const contentType = multipart([]).contentType;

  it('maxParts: accepts exactly the limit', async () => {
    const m = multipart([root, att('a@x'), att('b@x')]);
    const msg = await readMimeMessage(Readable.from([m.body]), {
      contentType,
      sink: memorySink(),
      limits: { maxParts: 3 },
    });
    assert.equal(msg.attachments.length, 2);
  });

  it('maxParts: one part over → EHMI_TOO_LARGE (EBMS:0004)', async () => {
    const m = multipart([root, att('a@x'), att('b@x'), att('c@x')]);
    await assert.rejects(
      readMimeMessage(Readable.from([m.body]), { contentType, sink: memorySink(), limits: { maxParts: 3 } }),
      (err: { code: string; ebmsCode: string; details: { limit: string } }) =>
        err.code === 'EHMI_TOO_LARGE' && err.ebmsCode === 'EBMS:0004' && err.details.limit === 'maxParts',
    );
  });

  it('maxPartHeaderBytes: one octet over → EHMI_TOO_LARGE', async () => {
    // header block size = sum(name + value + 4) + 2 (RFC 5322: "name: value\r\n" lines, then a blank line)
    const headers = { 'Content-ID': '<p1@x>', 'X-Pad': '' };
    const base = 2 + ('content-id'.length + '<p1@x>'.length + 4) + ('x-pad'.length + 4);
    const limit = 200;
    const ok = multipart([root, { headers: { ...headers, 'X-Pad': 'a'.repeat(limit - base) }, body: 'b' }]);
    const over = multipart([
      root,
      { headers: { ...headers, 'X-Pad': 'a'.repeat(limit - base + 1) }, body: 'b' },
    ]);
    const limits = { maxPartHeaderBytes: limit };
    await readMimeMessage(Readable.from([ok.body]), { contentType, sink: memorySink(), limits });
    await assert.rejects(
      readMimeMessage(Readable.from([over.body]), { contentType, sink: memorySink(), limits }),
      (err: { code: string; details: { limit: string } }) =>
        err.code === 'EHMI_TOO_LARGE' && err.details.limit === 'maxPartHeaderBytes',
    );
  });

  it('maxTotalBytes: one octet over → EHMI_TOO_LARGE', async () => {
    const m = multipart([root, att('p1@x', 'x'.repeat(100))]);
    const exact = m.body.length;
    await readMimeMessage(Readable.from([m.body]), {
      contentType,
      sink: memorySink(),
      limits: { maxTotalBytes: exact },
    });
    await assert.rejects(
      readMimeMessage(Readable.from([m.body]), {
        contentType,
        sink: memorySink(),
        limits: { maxTotalBytes: exact - 1 },
      }),
      (err: { code: string; details: { limit: string } }) =>
        err.code === 'EHMI_TOO_LARGE' && err.details.limit === 'maxTotalBytes',
    );
  });

  it('maxEnvelopeBytes: one octet over → EHMI_TOO_LARGE', async () => {
    const size = Buffer.byteLength(root.body);
    const m = multipart([root]);
    await readMimeMessage(Readable.from([m.body]), { contentType, limits: { maxEnvelopeBytes: size } });
    await assert.rejects(
      readMimeMessage(Readable.from([m.body]), { contentType, limits: { maxEnvelopeBytes: size - 1 } }),
      (err: { code: string; details: { limit: string } }) =>
        err.code === 'EHMI_TOO_LARGE' && err.details.limit === 'maxEnvelopeBytes',
    );
  });

  it('maxEnvelopeBytes applies to a single-part body too', async () => {
    const code = await ebmsCodeOf(() =>
      readMimeMessage(Readable.from([Buffer.from('<x>12345</x>')]), {
        contentType: 'application/soap+xml',
        limits: { maxEnvelopeBytes: 11 },
      }),
    );
    assert.equal(code, 'EBMS:0004');
  });
});

describe('readMimeMessage structure errors → EBMS:0007 MimeInconsistency', () => {
  const contentType = multipart([]).contentType;
  const read = (body: Buffer, ct = contentType) =>
    ebmsCodeOf(() => readMimeMessage(Readable.from([body]), { contentType: ct, sink: memorySink() }));

  it('EBMS:0007 when the closing boundary is missing', async () => {
    assert.equal(await read(multipart([root, att('p1@x')], { close: false }).body), 'EBMS:0007');
  });

  it('EBMS:0007 when an attachment has no Content-ID', async () => {
    assert.equal(
      await read(multipart([root, { headers: { 'Content-Type': 'text/plain' }, body: 'x' }]).body),
      'EBMS:0007',
    );
  });

  it('EBMS:0007 when two parts share a Content-ID', async () => {
    assert.equal(await read(multipart([root, att('p1@x'), att('p1@x')]).body), 'EBMS:0007');
  });

  it('EBMS:0007 for an unsupported Content-Transfer-Encoding', async () => {
    const part = {
      headers: { 'Content-ID': '<p1@x>', 'Content-Transfer-Encoding': 'quoted-printable' },
      body: 'x',
    };
    assert.equal(await read(multipart([root, part]).body), 'EBMS:0007');
  });

  it('EBMS:0007 for base64 that is not base64', async () => {
    const part = {
      headers: { 'Content-ID': '<p1@x>', 'Content-Transfer-Encoding': 'base64' },
      body: '!!notbase64!!',
    };
    assert.equal(await read(multipart([root, part]).body), 'EBMS:0007');
  });

  it('EBMS:0007 for multipart/form-data or another media type', async () => {
    assert.equal(await read(Buffer.from('x'), 'multipart/form-data; boundary=x'), 'EBMS:0007');
  });

  it('EBMS:0007 when the boundary parameter is missing', async () => {
    assert.equal(await read(Buffer.from('x'), 'multipart/related; type="application/soap+xml"'), 'EBMS:0007');
  });

  it('EBMS:0007 when the start parameter names no part', async () => {
    const m = multipart([root]);
    assert.equal(await read(m.body, `${m.contentType}; start="<nowhere@x>"`), 'EBMS:0007');
  });
});

describe('readMimeMessage: nothing is buffered without bound', () => {
  for (const [what, start] of [
    ['a part header line that never ends', '--b\r\nX-A: '],
    ['a delimiter line that never ends', '--b'],
  ] as const) {
    it(`${what} is refused at the part-header limit, long before the body ends`, async () => {
      let read = 0;
      const chunk = Buffer.alloc(64 * 1024, 0x41);
      async function* body() {
        yield Buffer.from(start);
        for (let i = 0; i < 800; i++) {
          read++;
          yield chunk; // 50 MB in all
        }
      }
      await assert.rejects(
        readMimeMessage(body(), { contentType: 'multipart/related; boundary="b"', sink: memorySink() }),
        { code: 'EHMI_TOO_LARGE' },
      );
      assert.ok(read < 10, `${read} chunks read`);
    });
  }
});

describe('readMimeMessage: the envelope pool', () => {
  it('takes the root part from the lease, in segments, and refuses with EHMI_UNAVAILABLE (retryable) when the pool is spent', async () => {
    const pool = new ByteBudget(64 * 1024, 'buffered SOAP envelopes');
    const lease = pool.lease();
    const m = multipart([root, att('p1@x', 'hello')]);
    await readMimeMessage(chunked(m.body, 7), {
      contentType: m.contentType,
      sink: memorySink(),
      envelopeLease: lease,
    });
    assert.ok(lease.held >= root.body.length && lease.held <= 16 * 1024, `${lease.held} octets held`);
    const big = multipart([{ ...root, body: `${root.body}${' '.repeat(100 * 1024)}` }, att('p1@x')]);
    const other = pool.lease();
    await assert.rejects(
      readMimeMessage(Readable.from([big.body]), {
        contentType: big.contentType,
        sink: memorySink(),
        envelopeLease: other,
      }),
      (err: EhmiError) => err.code === 'EHMI_UNAVAILABLE' && err.transient && err.status === 503,
    );
    other.release();
    lease.release();
    assert.equal(pool.used, 0);
  });

  it('a single-part body takes from the lease too', async () => {
    const pool = new ByteBudget(1024, 'buffered SOAP envelopes');
    await assert.rejects(
      readMimeMessage(Readable.from([Buffer.from(root.body)]), {
        contentType: 'application/soap+xml',
        envelopeLease: pool.lease(),
      }),
      { code: 'EHMI_UNAVAILABLE' },
    );
  });
});

describe('tempFileSink', () => {
  it('fails the part instead of crashing when the directory cannot be written', async () => {
    const sink = tempFileSink({ dir: '/proc/definitely-not-writable' });
    const m = multipart([root, att('p1@x', 'x')]);
    await assert.rejects(readMimeMessage(Readable.from([m.body]), { contentType: m.contentType, sink }), {
      code: 'EHMI_STORE_UNAVAILABLE',
    });
  });

  it('a write that fails (a full disk) fails the message with EHMI_STORE_UNAVAILABLE, never a shorter part', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ehmi-sink-'));
    try {
      let writes = 0;
      const sink = tempFileSink({
        dir,
        beforeWrite: () => {
          // The first write goes through, the next finds the disk full: the last chunk is the one lost.
          if (++writes > 1)
            throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
        },
      });
      const m = multipart([root, att('p1@x', Buffer.alloc(200_000, 1))]);
      await assert.rejects(
        readMimeMessage(chunked(m.body, 50_000), { contentType: m.contentType, sink }),
        (err: EhmiError) =>
          err.code === 'EHMI_STORE_UNAVAILABLE' && err.ebmsCode === 'EBMS:0004' && err.transient,
      );
      assert.ok(writes > 1);
      assert.deepEqual(await readdir(dir), [], 'the temporary files are removed');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a write that fails on the last chunk before the end is not lost', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ehmi-sink-'));
    try {
      const sink = tempFileSink({ dir });
      const target = sink.create({ contentId: 'p', headers: {}, index: 1 });
      const failing = tempFileSink({
        dir,
        beforeWrite: () => {
          throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
        },
      }).create({ contentId: 'q', headers: {}, index: 1 });
      target.writable.end(Buffer.from('fine'));
      await finished(target.writable);
      assert.equal(await text(target.open()), 'fine');
      failing.writable.end(Buffer.from('lost'));
      await assert.rejects(finished(failing.writable), { code: 'EHMI_STORE_UNAVAILABLE' });
      await sink.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps each part in its own file in the folder given, no folder per message, and removes them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ehmi-sink-'));
    try {
      const sink = tempFileSink({ dir });
      const m = multipart([root, att('p1@x', 'first'), att('p2@x', 'second')]);
      const msg = await readMimeMessage(chunked(m.body, 9), { contentType: m.contentType, sink });
      assert.deepEqual(await Promise.all(msg.attachments.map((a) => text(a.open()))), ['first', 'second']);
      const files = await readdir(dir, { withFileTypes: true });
      assert.equal(files.length, 2);
      assert.ok(files.every((f) => f.isFile()));
      await sink.dispose();
      assert.deepEqual(await readdir(dir), []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps a small part in memory, taken from the pool, and writes no file for it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ehmi-sink-'));
    try {
      const budget = new ByteBudget(1024 * 1024, 'attachment parts held in memory');
      let writes = 0;
      const sink = tempFileSink({
        dir,
        memory: { budget, partBytes: 4096 },
        beforeWrite: () => void writes++,
      });
      const body = Buffer.alloc(4096, 7);
      const m = multipart([root, att('p1@x', body)]);
      const msg = await readMimeMessage(chunked(m.body, 100), { contentType: m.contentType, sink });
      assert.deepEqual(await readdir(dir), []);
      assert.equal(writes, 0);
      assert.equal(budget.used, 4096);
      assert.ok(Buffer.from(await bytes(msg.attachments[0]!.open())).equals(body));
      assert.ok(Buffer.from(await bytes(msg.attachments[0]!.open())).equals(body), 'read again');
      await sink.dispose();
      assert.equal(budget.used, 0, 'the pool gets its octets back');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('writes a part one octet over the in-memory size to a file, whole, and removes it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ehmi-sink-'));
    try {
      const budget = new ByteBudget(1024 * 1024, 'attachment parts held in memory');
      const sink = tempFileSink({ dir, memory: { budget, partBytes: 4096 } });
      const body = Buffer.from(Array.from({ length: 4097 }, (_, i) => i % 251));
      const m = multipart([root, att('p1@x', body)]);
      const msg = await readMimeMessage(chunked(m.body, 1000), { contentType: m.contentType, sink });
      assert.equal((await readdir(dir)).length, 1);
      assert.ok(Buffer.from(await bytes(msg.attachments[0]!.open())).equals(body));
      await sink.dispose();
      assert.deepEqual(await readdir(dir), []);
      assert.equal(budget.used, 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('writes a small part to a file when the pool cannot take it, never refusing the message', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ehmi-sink-'));
    try {
      const budget = new ByteBudget(100, 'attachment parts held in memory');
      const sink = tempFileSink({ dir, memory: { budget, partBytes: 4096 } });
      const m = multipart([root, att('p1@x', Buffer.alloc(1000, 1))]);
      const msg = await readMimeMessage(Readable.from([m.body]), { contentType: m.contentType, sink });
      assert.equal((await readdir(dir)).length, 1);
      assert.equal((await bytes(msg.attachments[0]!.open())).length, 1000);
      await sink.dispose();
      assert.equal(budget.used, 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
