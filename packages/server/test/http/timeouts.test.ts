import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { createHttpServer, type HttpTimeouts, timeoutsOf } from '../../src/http/index.ts';
import { loadConfig } from '../../src/role-list.ts';

/** Each test waits for the server to close the socket; without the timeout it never would (fastify's are 0/72 s). */
const CUT_WITHIN = { timeout: 5_000 };
/**
 * A request that must not be cut, only finish: the bound guards against a hang, it claims no speed (megabytes through
 * client and server in one process take seconds of wall time on a loaded machine).
 */
const FINISHES = { timeout: 60_000 };

async function serve(timeouts: Partial<HttpTimeouts>): Promise<{ app: FastifyInstance; port: number }> {
  const app = await createHttpServer({
    service: 'test',
    logger: pino({ level: 'silent' }),
    bodyLimitBytes: 1024,
    metricsAccess: async () => {},
    timeouts: {
      headersTimeoutMs: 10_000,
      idleTimeoutMs: 20_000,
      keepAliveTimeoutMs: 20_000,
      ...timeouts,
    },
  });
  // A streaming route, as the AS4 endpoint: its own parser hands over the raw stream, the body limit does not apply.
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    scope.post('/upload', async (request) => {
      let bytes = 0;
      for await (const chunk of request.body as AsyncIterable<Buffer>) bytes += chunk.length;
      return { bytes };
    });
    // Reads late, then works long: neither is the client's slowness.
    scope.post('/slow-reader', async (request) => {
      await new Promise((r) => setTimeout(r, 600));
      let bytes = 0;
      for await (const chunk of request.body as AsyncIterable<Buffer>) bytes += chunk.length;
      await new Promise((r) => setTimeout(r, 900));
      return { bytes };
    });
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  return { app, port: typeof address === 'object' && address ? address.port : 0 };
}

async function open(port: number): Promise<{ socket: Socket; received: () => string }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let text = '';
  socket.on('data', (d: Buffer) => {
    text += d.toString('latin1');
  });
  socket.on('error', () => {});
  return { socket, received: () => text };
}

/** Writes `text` one byte every `everyMs` until the socket closes. */
function trickle(socket: Socket, text: string, everyMs: number): () => void {
  let i = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || i >= text.length) return;
    socket.write(text[i++]!);
  }, everyMs);
  return () => clearInterval(timer);
}

describe('HTTP server timeouts', () => {
  it(
    'cuts a client that sends its headers a byte at a time after the headers timeout',
    CUT_WITHIN,
    async () => {
      const { app, port } = await serve({ headersTimeoutMs: 300 });
      try {
        const { socket, received } = await open(port);
        const started = Date.now();
        socket.write('GET /health HTTP/1.1\r\nHost: x\r\n');
        const stop = trickle(socket, `X-Slow: ${'a'.repeat(10_000)}\r\n\r\n`, 20);
        await once(socket, 'close');
        stop();
        assert.ok(Date.now() - started >= 250, 'not before the headers timeout');
        // Cut with a 408, or closed without a word; never answered.
        assert.ok(received() === '' || received().startsWith('HTTP/1.1 408'), received());
      } finally {
        await app.close();
      }
    },
  );

  it(
    'cuts a client whose body brings fewer than minBodyBytesPerWindow octets in a window (408)',
    CUT_WITHIN,
    async () => {
      const { app, port } = await serve({
        headersTimeoutMs: 200,
        bodyRateWindowMs: 300,
        minBodyBytesPerWindow: 1000,
      });
      try {
        const { socket, received } = await open(port);
        const started = Date.now();
        socket.write(
          'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n',
        );
        // 50 octets a second: the connection is never idle, but far below the minimum rate.
        const stop = trickle(socket, 'x'.repeat(100_000), 20);
        await once(socket, 'close');
        stop();
        assert.ok(Date.now() - started >= 250, 'not before a whole window');
        assert.match(received(), /^HTTP\/1\.1 408/);
      } finally {
        await app.close();
      }
    },
  );

  it(
    'has no total request time: a body that keeps the minimum rate streams for many windows',
    FINISHES,
    async () => {
      const { app, port } = await serve({
        bodyRateWindowMs: 200,
        minBodyBytesPerWindow: 1000,
        idleTimeoutMs: 1_000,
      });
      try {
        const chunk = Buffer.alloc(4096, 0x61);
        const chunks = 40; // one chunk every 30 ms: about 1.2 s, six windows
        async function* body() {
          for (let i = 0; i < chunks; i++) {
            await new Promise((r) => setTimeout(r, 30));
            yield chunk;
          }
        }
        const res = await fetch(`http://127.0.0.1:${port}/upload`, {
          method: 'POST',
          headers: { 'content-type': 'application/octet-stream' },
          body: body(),
          duplex: 'half',
        } as RequestInit);
        assert.equal(res.status, 200);
        assert.deepEqual(await res.json(), { bytes: chunks * chunk.length });
      } finally {
        await app.close();
      }
    },
  );

  it(
    'does not count a body the server is slow to read against the client, nor idle time while it works',
    FINISHES,
    async () => {
      const { app, port } = await serve({
        bodyRateWindowMs: 100,
        minBodyBytesPerWindow: 1000,
        idleTimeoutMs: 300,
      });
      try {
        const body = Buffer.alloc(4 * 1024 * 1024, 0x62);
        const res = await fetch(`http://127.0.0.1:${port}/slow-reader`, {
          method: 'POST',
          headers: { 'content-type': 'application/octet-stream' },
          body,
        });
        // The route waits 600 ms before it reads (back-pressure stops the client: six windows without a byte), then
        // works 900 ms with the body in (three idle timeouts without a byte either way).
        assert.equal(res.status, 200);
        assert.deepEqual(await res.json(), { bytes: body.length });
      } finally {
        await app.close();
      }
    },
  );

  it('lets a large upload stream for longer than the headers timeout', FINISHES, async () => {
    const { app, port } = await serve({
      headersTimeoutMs: 200,
      idleTimeoutMs: 1_000,
    });
    try {
      const chunk = Buffer.alloc(1024 * 1024, 0x61);
      const chunks = 40;
      async function* body() {
        for (let i = 0; i < chunks; i++) {
          await new Promise((r) => setTimeout(r, 15));
          yield chunk;
        }
      }
      const res = await fetch(`http://127.0.0.1:${port}/upload`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: body(),
        duplex: 'half',
      } as RequestInit);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { bytes: chunks * chunk.length });
    } finally {
      await app.close();
    }
  });

  it('closes a connection on which nothing arrives after the idle timeout', CUT_WITHIN, async () => {
    const { app, port } = await serve({ idleTimeoutMs: 300 });
    try {
      const { socket } = await open(port);
      const started = Date.now();
      socket.write(
        'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 10\r\n\r\n',
      );
      await once(socket, 'close');
      assert.ok(Date.now() - started >= 250, 'not before the idle timeout');
    } finally {
      await app.close();
    }
  });

  it('closes an idle keep-alive connection after the keep-alive timeout', CUT_WITHIN, async () => {
    const { app, port } = await serve({ keepAliveTimeoutMs: 300 });
    try {
      const { socket, received } = await open(port);
      socket.write('GET /health HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
      while (!received().includes('"status":"ok"')) await once(socket, 'data');
      const answered = Date.now();
      assert.match(received(), /^HTTP\/1\.1 200/);
      await once(socket, 'close');
      assert.ok(Date.now() - answered >= 250, 'not before the keep-alive timeout');
    } finally {
      await app.close();
    }
  });

  it('reads the timeouts from the http configuration and EHMI_HTTP_* variables', () => {
    const config = loadConfig({
      env: { EHMI_HTTP_HEADERS_TIMEOUT_MS: '5000', EHMI_HTTP_KEEP_ALIVE_TIMEOUT_MS: '1000' },
      cwd: '/tmp',
    });
    assert.deepEqual(timeoutsOf(config.http), {
      headersTimeoutMs: 5000,
      bodyRateWindowMs: 10_000,
      minBodyBytesPerWindow: 8192,
      idleTimeoutMs: 120_000,
      keepAliveTimeoutMs: 1000,
      closeGraceMs: 5000,
    });
  });

  it(
    'close ends, after its grace, a connection that sent half a request, instead of waiting for its timeouts',
    CUT_WITHIN,
    async () => {
      // Every client timeout is far beyond the test's 5 s: only the close grace can end this connection in time.
      const { app, port } = await serve({
        closeGraceMs: 200,
        headersTimeoutMs: 60_000,
      });
      // The server has read the first octets of the request (its parser's data listener runs before this one), so
      // the connection is mid-request: not idle, which Node's close() would end at once.
      const read = new Promise<void>((resolve) =>
        app.server.once('connection', (s: import('node:net').Socket) => s.once('data', () => resolve())),
      );
      const { socket } = await open(port);
      const closedSocket = once(socket, 'close');
      socket.write('GET /health HTTP/1.1\r\nHost: x\r\n');
      await read;
      const started = Date.now();
      await app.close();
      await closedSocket;
      assert.ok(Date.now() - started >= 150, 'requests in flight get the grace first');
    },
  );

  it('close lets a request in flight finish within the grace', FINISHES, async () => {
    const { app, port } = await serve({ closeGraceMs: 3_000 });
    const body = Buffer.alloc(64 * 1024, 1);
    const { socket, received } = await open(port);
    const arrived = once(app.server, 'request');
    socket.write(
      `POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
    );
    socket.write(body.subarray(0, 1024));
    await arrived; // the request is in flight: its headers are read, its body is not
    const closing = app.close();
    socket.end(body.subarray(1024));
    await closing;
    await once(socket, 'close');
    assert.match(received(), /^HTTP\/1\.1 200/);
    assert.match(received(), /"bytes":65536/);
  });
});
