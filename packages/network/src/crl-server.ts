import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { Logger } from 'pino';
import { CRL_VALIDITY_MS, loadNetworkRoot, publishNetworkCrl } from './crl.ts';
import { CRL_PATH, crlFile } from './pki-files.ts';

export interface CrlServiceOptions {
  dataDir: string;
  host: string;
  port: number;
  logger: Logger;
  /** How often the CRL is issued again while the service runs; default half its validity (12 h). */
  republishMs?: number;
}

export interface CrlService {
  /** Port it listens on (the one asked for, or the one picked for port 0). */
  port: number;
  close(): Promise<void>;
}

/**
 * Serve the root CA's CRL (`<data>/pki/crl/root-ca.crl`, DER) over plain HTTP at `/root-ca.crl` with
 * content-type application/pkix-crl (RFC 5280 §4.2.1.13, RFC 2585 §4.2). The file is read on each request, so a
 * CRL issued by another process (`ehmi pki revoke`) is served at once; while it runs, the service issues the CRL
 * again before it goes stale.
 *
 * @example
 * const crl = await startCrlService({ dataDir: '.ehmi', host: '127.0.0.1', port: 8708, logger });
 * // curl http://127.0.0.1:8708/root-ca.crl | openssl crl -inform DER -noout -text
 * await crl.close();
 */
export async function startCrlService(options: CrlServiceOptions): Promise<CrlService> {
  const file = crlFile(options.dataDir);
  const log = options.logger.child({ role: 'crl' });
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://crl').pathname;
    if (path !== CRL_PATH) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: the CRL is at ${CRL_PATH}\n`);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    readFile(file).then(
      (der) => {
        res.writeHead(200, {
          'content-type': 'application/pkix-crl',
          'content-length': der.length,
          // Revocations take effect at once in the local network: no cache in between.
          'cache-control': 'no-cache',
        });
        res.end(req.method === 'HEAD' ? undefined : der);
      },
      (err: unknown) => {
        log.error({ err, file }, 'cannot read the CRL');
        res.writeHead(503, { 'content-type': 'text/plain' }).end('the CRL cannot be read\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const timer = setInterval(
    () => {
      Promise.resolve()
        .then(() => publishNetworkCrl(options.dataDir, loadNetworkRoot(options.dataDir)))
        .catch((err: unknown) => log.error({ err }, 'cannot issue the CRL again'));
    },
    options.republishMs ?? CRL_VALIDITY_MS / 2,
  );
  timer.unref();
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : options.port,
    close() {
      clearInterval(timer);
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
