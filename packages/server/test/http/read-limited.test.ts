import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { EhmiError } from '@ehmi/errors';
import { request } from 'undici';
import { readLimited } from '../../src/http/read-limited.ts';

describe('readLimited (a body read whole, bounded)', () => {
  it('gives the chunks of a body as one Buffer, in order', async () => {
    const body = Readable.from([Buffer.from('ab'), Buffer.from('cde'), Buffer.from('f')], {
      objectMode: false,
    });
    assert.equal((await readLimited(body, 6)).toString(), 'abcdef');
  });

  it('gives an empty body as an empty Buffer', async () => {
    const body = Readable.from([], { objectMode: false });
    assert.equal((await readLimited(body, 6)).length, 0);
  });

  it('refuses a body that grows past the bound, and destroys it', async () => {
    const body = Readable.from([Buffer.from('abcd'), Buffer.from('efg')], { objectMode: false });
    await assert.rejects(readLimited(body, 6), /larger than 6 bytes/);
    assert.equal(body.destroyed, true);
  });

  it('refuses a body whose declared length is past the bound before reading it', async () => {
    let read = false;
    const body = new Readable({
      read() {
        read = true;
        this.push(null);
      },
    });
    await assert.rejects(readLimited(body, 6, { declared: '7' }), /larger than 6 bytes/);
    assert.equal(read, false);
    assert.equal(body.destroyed, true);
  });

  it('rejects a body that fails or is destroyed before its end', async () => {
    const failing = new Readable({ read() {} });
    const failed = readLimited(failing, 100);
    failing.push(Buffer.from('ab'));
    failing.destroy(new Error('connection reset'));
    await assert.rejects(failed, /connection reset/);
    const cut = new Readable({ read() {} });
    const ended = readLimited(cut, 100);
    cut.push(Buffer.from('ab'));
    cut.destroy();
    await assert.rejects(ended, /ended before its end/);
  });

  it("reads undici's answer body over HTTP, in several chunks and at the bound", async () => {
    const server = createServer((_req, res) => {
      res.write('x'.repeat(5000));
      setImmediate(() => res.end('y'.repeat(5000)));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    try {
      const ok = await request(url);
      const body = await readLimited(ok.body, 10_000, { declared: ok.headers['content-length'] });
      assert.equal(body.length, 10_000);
      assert.equal(body.toString(), 'x'.repeat(5000) + 'y'.repeat(5000));
      const over = await request(url);
      await assert.rejects(readLimited(over.body, 9_999), /larger than 9999 bytes/);
    } finally {
      server.close();
    }
  });

  it("refuses undici's answer declaring a length past the bound, with no error left unheard", async () => {
    const server = createServer((_req, res) => {
      res.setHeader('content-length', '100');
      res.end('x'.repeat(100));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const unheard: unknown[] = [];
    const listener = (err: unknown) => unheard.push(err);
    // node:test reports an uncaught exception too, but maybe against another test: caught here, it fails this one.
    process.prependListener('uncaughtException', listener);
    try {
      const over = await request(url);
      assert.equal(over.headers['content-length'], '100');
      await assert.rejects(
        readLimited(over.body, 10, { declared: over.headers['content-length'] }),
        /larger than 10 bytes/,
      );
      // undici's body emits its abort error, then closes: by then the error has met a listener or been thrown.
      // (Not events.once: it would take that error as its own.)
      if (!over.body.closed) await new Promise((resolve) => over.body.once('close', resolve));
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(unheard, []);
    } finally {
      process.removeListener('uncaughtException', listener);
      server.close();
    }
  });

  it('reads a body whose chunks are text as its bytes', async () => {
    const body = Readable.from(['ab', 'cæ'], { objectMode: false });
    body.setEncoding('utf8');
    assert.equal((await readLimited(body, 5)).toString(), 'abcæ');
    const over = Readable.from(['ab', 'cæø'], { objectMode: false });
    over.setEncoding('utf8');
    await assert.rejects(readLimited(over, 5), /larger than 5 bytes/);
  });

  it("refuses with the caller's error when given one", async () => {
    const body = Readable.from([Buffer.from('abcd'), Buffer.from('efg')], { objectMode: false });
    const refused = readLimited(body, 6, { tooLarge: () => new EhmiError('EHMI_TOO_LARGE', 'over six') });
    await assert.rejects(
      refused,
      (err: unknown) => err instanceof EhmiError && err.code === 'EHMI_TOO_LARGE',
    );
    assert.equal(body.destroyed, true);
  });

  it('refuses a body destroyed or read to its end before the call, instead of waiting for it', async () => {
    const destroyed = Readable.from([Buffer.from('ab')], { objectMode: false });
    destroyed.destroy();
    await assert.rejects(readLimited(destroyed, 10), /closed or read before/);
    const ended = Readable.from([Buffer.from('ab')], { objectMode: false });
    await readLimited(ended, 10);
    await assert.rejects(readLimited(ended, 10), /closed or read before/);
  });
});
