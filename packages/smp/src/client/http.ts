import http from 'node:http';
import https from 'node:https';
import { EhmiError } from '@ehmi/errors';

export interface HttpResponse {
  status: number;
  body: string;
  contentType?: string;
}

/** Fetches a URL with GET; rejects only when no HTTP response arrived. */
export type HttpGet = (url: string) => Promise<HttpResponse>;

export interface HttpOptions {
  timeoutMs: number;
  /** Largest body read; a larger response is an error. */
  maxBytes: number;
  /** node:http `lookup`, to resolve host names through a configured DNS server. */
  lookup?: http.RequestOptions['lookup'];
}

const tooLarge = (url: string, max: number) =>
  new EhmiError('EHMI_SMP_RESPONSE_INVALID', `the SMP response from ${url} is larger than ${max} bytes`, {
    details: { url, maxBytes: max },
  });

/**
 * GET with node:http(s), host names resolved through `lookup` when given. HTTP redirects are not followed: an SMP
 * redirects with the signed Redirect element (OASIS BDXR SMP 1.0), never with 3xx.
 */
export function nodeHttpGet(options: HttpOptions): HttpGet {
  return (url) =>
    new Promise<HttpResponse>((resolve, reject) => {
      const u = new URL(url);
      const mod = u.protocol === 'https:' ? https : u.protocol === 'http:' ? http : undefined;
      if (!mod) {
        reject(new EhmiError('EHMI_SMP_LOOKUP_FAILED', `unsupported SMP URL scheme in ${url}`));
        return;
      }
      const req = mod.get(
        u,
        {
          timeout: options.timeoutMs,
          headers: { accept: 'application/xml, text/xml;q=0.9, */*;q=0.1' },
          ...(options.lookup ? { lookup: options.lookup } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > options.maxBytes) {
              req.destroy(tooLarge(url, options.maxBytes));
              return;
            }
            chunks.push(c);
          });
          res.on('end', () => {
            const out: HttpResponse = {
              status: res.statusCode ?? 0,
              body: Buffer.concat(chunks).toString('utf8'),
            };
            const ct = res.headers['content-type'];
            if (ct) out.contentType = ct;
            resolve(out);
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () =>
        req.destroy(Object.assign(new Error(`timeout after ${options.timeoutMs} ms`), { code: 'ETIMEDOUT' })),
      );
      req.on('error', reject);
    });
}

/** GET with a WHATWG fetch (the caller's own, e.g. with a proxy or mTLS dispatcher). */
export function fetchHttpGet(fetchImpl: typeof fetch, options: Omit<HttpOptions, 'lookup'>): HttpGet {
  return async (url) => {
    const res = await fetchImpl(url, {
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs),
      headers: { accept: 'application/xml, text/xml;q=0.9, */*;q=0.1' },
    });
    const buf = Buffer.from(await res.arrayBuffer());
    if (buf.length > options.maxBytes) throw tooLarge(url, options.maxBytes);
    const out: HttpResponse = { status: res.status, body: buf.toString('utf8') };
    const ct = res.headers.get('content-type');
    if (ct) out.contentType = ct;
    return out;
  };
}
