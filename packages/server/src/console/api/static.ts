import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EhmiError } from '@ehmi/errors';
import type { FastifyInstance, FastifyReply } from 'fastify';

/**
 * The console's Content-Security-Policy: everything from the console's own origin, nothing inline (the built
 * index.html references its script and style files; React and uPlot set styles through the CSSOM, which CSP allows),
 * no framing, no plugins, forms only to itself (the sign-in redirect is a link, not a form post elsewhere).
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers every answer of the console carries, its API's included. */
export const CONSOLE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
  'x-frame-options': 'DENY',
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

/** Where `npm ci` builds the console (the `@ehmi/console` workspace, `vite build`). */
export const CONSOLE_DIST = fileURLToPath(new URL('../../../../console/dist', import.meta.url));

interface Asset {
  body: Buffer;
  type: string;
  /** Vite names the files under `assets/` by their content hash: cached for a year. */
  immutable: boolean;
}

function readAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else {
        const path = `/${relative(dir, full).split(sep).join('/')}`;
        assets.set(path, {
          body: readFileSync(full),
          type: TYPES[extname(name)] ?? 'application/octet-stream',
          immutable: path.startsWith('/assets/'),
        });
      }
    }
  };
  walk(dir);
  return assets;
}

/**
 * Serves the built console (a few hundred kB, read once into memory at start): `/` and every file of `dist/`, with
 * the security headers above; `index.html` is never cached (it names the current hashed files). A console that was
 * not built is a clear start-up error, not a blank page.
 *
 * @example
 * registerConsoleAssets(app); // GET / → index.html, GET /assets/index-….js
 */
export function registerConsoleAssets(app: FastifyInstance, options: { dir?: string } = {}): void {
  const dir = options.dir ?? CONSOLE_DIST;
  let assets: Map<string, Asset>;
  try {
    assets = readAssets(dir);
  } catch (cause) {
    throw new EhmiError(
      'EHMI_CONFIG_INVALID',
      `the console is not built (${dir}): run npm ci, or npm run build:console`,
      { cause },
    );
  }
  const index = assets.get('/index.html');
  if (!index) {
    throw new EhmiError(
      'EHMI_CONFIG_INVALID',
      `the console is not built: no ${dir}/index.html (npm run build:console)`,
    );
  }
  const send = (reply: FastifyReply, asset: Asset) =>
    reply
      .headers(CONSOLE_SECURITY_HEADERS)
      .header('cache-control', asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
      .type(asset.type)
      .send(asset.body);
  app.get('/', async (_request, reply) => send(reply, index));
  for (const [path, asset] of assets) {
    if (path === '/index.html') continue;
    app.get(path, async (_request, reply) => send(reply, asset));
  }
}
