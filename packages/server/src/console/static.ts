import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

/** Where the built console is by default: `packages/console/dist` (from `src/console/` and `dist/console/` alike). */
export const DEFAULT_STATIC_DIR = fileURLToPath(new URL('../../../console/dist', import.meta.url));

/**
 * The Content-Security-Policy of the console's pages: its own scripts, styles and API only, no inline script or
 * style, no framing, forms only to itself.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>EHMI console</title></head>
<body><h1>EHMI console</h1><p>The console's pages are not built (packages/console/dist). Run npm ci at the repository's root.</p>
<p><a href="/auth/login">Sign in</a></p></body></html>`;

/**
 * The console's pages: files of `dir` by path (no way out of it), `index.html` for any other path without a file
 * extension (the single-page application's routes), each with the console's CSP; hashed assets under `/assets/`
 * are cached for a year, everything else revalidated.
 */
export async function registerStatic(app: FastifyInstance, dir: string): Promise<void> {
  const root = resolve(dir);
  const file = async (path: string): Promise<Buffer | undefined> => {
    const full = normalize(join(root, path));
    if (full !== root && !full.startsWith(root + sep)) return undefined;
    try {
      if (!(await stat(full)).isFile()) return undefined;
      return await readFile(full);
    } catch {
      return undefined;
    }
  };
  app.get(
    '/*',
    { schema: { summary: 'The console’s pages and assets', security: [], hide: false } as object },
    async (request, reply) => {
      let path = decodeURIComponent((request.url.split('?')[0] ?? '/').replace(/^\/+/, ''));
      // The API and the sign-in routes are never answered with a page.
      if (path.includes('\0') || /^(api|auth)(\/|$)/.test(path)) {
        return reply.status(404).type('text/plain; charset=utf-8').send('Not found');
      }
      if (path === '') path = 'index.html';
      let body = await file(path);
      let type = TYPES[extname(path)] ?? 'application/octet-stream';
      if (!body && extname(path) === '') {
        body = await file('index.html');
        type = TYPES['.html']!;
      }
      reply
        .header('content-security-policy', CONSOLE_CSP)
        .header('x-content-type-options', 'nosniff')
        .header('x-frame-options', 'DENY')
        .header('referrer-policy', 'same-origin');
      if (!body) {
        if (path === 'index.html')
          return reply.type(TYPES['.html']!).header('cache-control', 'no-store').send(NOT_BUILT);
        return reply.status(404).type('text/plain; charset=utf-8').send('Not found');
      }
      reply.header(
        'cache-control',
        path.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
      );
      return reply.type(type).send(body);
    },
  );
}
