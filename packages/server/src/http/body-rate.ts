import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

interface Watched {
  socket: Socket;
  response: ServerResponse;
  /** `socket.bytesRead` at the last check. */
  bytesRead: number;
  /** Added since the last check: its first window is not whole yet. */
  fresh: boolean;
}

const REQUEST_TIMEOUT = 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n';

/**
 * The minimum body rate, on every request that has a body (DESIGN-NOTES.md "Bounded resources"): once per window,
 * a request whose body brought fewer than `minBytes` octets while the server was waiting for it (nothing of the
 * body left unread) is answered 408 and its connection closed. A body the server is slow to read (back-pressure:
 * a slow disk) is never counted against the client. There is no total request time.
 *
 * Once the body is in, the idle timeout of the connection stops while the handler works (verifying, decrypting and
 * storing a large message may take minutes without a byte on the wire); Node sets the keep-alive timeout again
 * when the answer is sent.
 */
export function watchBodyRate(app: FastifyInstance, rate: { windowMs: number; minBytes: number }): void {
  const watched = new Map<IncomingMessage, Watched>();
  app.addHook('onRequest', async (request, reply) => {
    const raw = request.raw;
    const hasBody =
      raw.headers['transfer-encoding'] !== undefined || Number(raw.headers['content-length']) > 0;
    if (!hasBody || raw.complete) return;
    const socket = raw.socket;
    watched.set(raw, { socket, response: reply.raw, bytesRead: socket.bytesRead, fresh: true });
    raw.once('end', () => {
      watched.delete(raw);
      if (!socket.destroyed) socket.setTimeout(0);
    });
    raw.once('close', () => watched.delete(raw));
  });
  const timer = setInterval(() => {
    for (const [raw, w] of watched) {
      if (w.socket.destroyed) {
        watched.delete(raw);
        continue;
      }
      const read = w.socket.bytesRead;
      const got = read - w.bytesRead;
      w.bytesRead = read;
      if (w.fresh) {
        w.fresh = false;
        continue;
      }
      // Unread body octets mean the server is the slow one: not the client's fault, for this check nor for the idle
      // timeout (re-armed: the client cannot send while the server does not read).
      if (raw.readableLength > 0) {
        if (w.socket.timeout) w.socket.setTimeout(w.socket.timeout);
        continue;
      }
      if (got >= rate.minBytes) continue;
      watched.delete(raw);
      app.log.info(
        { octets: got, windowMs: rate.windowMs, min: rate.minBytes, url: raw.url },
        'request body below the minimum rate: connection closed',
      );
      const socket = w.socket;
      if (!socket.writableEnded && !socket.destroyed) {
        if (!w.response.headersSent) socket.end(REQUEST_TIMEOUT);
        else socket.end();
      }
      setTimeout(() => socket.destroy(), 1_000).unref();
    }
  }, rate.windowMs);
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));
}
