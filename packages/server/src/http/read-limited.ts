import type { Readable } from 'node:stream';

/**
 * A body, at most `max` octets, as one Buffer: an HTTP answer, an envelope opened from the blob store. Read by its
 * `data` events, not by async iteration (a promise per chunk), and the chunks kept as they come (undici and a file
 * stream hand over a Buffer of their own for each, which they do not reuse): one copy, by the final concatenation, or
 * none when the body came in one chunk. A body that declares a length past `max` is refused before it is read; one
 * that grows past it while read is destroyed and refused, with `tooLarge`'s error when given.
 *
 * @example
 * const body = await readLimited(response.body, MAX_RESPONSE_BYTES, { declared: response.headers['content-length'] });
 */
export function readLimited(
  body: Readable,
  max: number,
  options: { declared?: unknown; tooLarge?: () => Error } = {},
): Promise<Buffer> {
  const tooLarge = options.tooLarge ?? (() => new Error(`the response is larger than ${max} bytes`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      reject(err);
    };
    // The 'error' listener first: a body destroyed here (undici's emits an abort error then) is never left with an
    // error nobody listens for.
    body.once('error', fail);
    // Destroyed without an error (an abort that names none): the body did not end.
    body.once('close', () => fail(new Error('the body ended before its end')));
    // A body destroyed or read to its end before the call emits nothing more: refused now, not waited on.
    if (body.destroyed || body.readableEnded) {
      fail(new Error('the body was closed or read before it was read here'));
      return;
    }
    if (typeof options.declared === 'string' && Number(options.declared) > max) {
      fail(tooLarge());
      body.destroy();
      return;
    }
    body.on('data', (chunk: Buffer | string) => {
      if (settled) return;
      // Buffers as undici and Node give them; a text chunk (a body with an encoding set) as its bytes.
      const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      size += bytes.byteLength;
      if (size > max) {
        fail(tooLarge());
        body.destroy();
        return;
      }
      chunks.push(bytes);
    });
    body.once('end', () => {
      if (settled) return;
      settled = true;
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
  });
}
