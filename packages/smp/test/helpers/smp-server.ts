import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SmpServer {
  port: number;
  /** Requests seen, as raw request paths. */
  hits: string[];
  /** Responses by decoded path (`/iso6523-actorid-upis::0088:…/services/…`); anything else is 404. */
  routes: Map<string, { status?: number; body: string; delayMs?: number }>;
  close(): Promise<void>;
}

/** The SMP's 404 body (phoss-smp answers unknown participants with a short text like this). */
export const NOT_FOUND_BODY = '<Error><Message>Unknown participant in this SMP</Message></Error>';

/**
 * An SMP HTTP server on 127.0.0.1 (port 0) serving fixed responses. Paths are matched after percent-decoding, so
 * an encoded and a raw `::` reach the same resource (as phoss-smp does).
 */
export async function startSmpServer(): Promise<SmpServer> {
  const routes = new Map<string, { status?: number; body: string; delayMs?: number }>();
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    const r = routes.get(path);
    if (!r) {
      res.writeHead(404, { 'content-type': 'application/xml' }).end(NOT_FOUND_BODY);
      return;
    }
    const send = () => {
      if (!res.destroyed) res.writeHead(r.status ?? 200, { 'content-type': 'application/xml' }).end(r.body);
    };
    if (r.delayMs) setTimeout(send, r.delayMs).unref();
    else send();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    hits,
    routes,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
