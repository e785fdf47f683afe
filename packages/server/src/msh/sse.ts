import type { ServerResponse } from 'node:http';

/**
 * Server-sent events for new inbox items (EUA API 10; WHATWG HTML "Server-sent events"). Items are pushed after the
 * transaction that delivered them committed. Only clients of this instance hear of deliveries made by this instance.
 */
export class InboxHub {
  readonly #clients = new Set<ServerResponse>();
  #heartbeat: NodeJS.Timeout | undefined;

  constructor(heartbeatMs = 15_000) {
    // A comment line now and then keeps proxies from closing an idle stream.
    this.#heartbeat = setInterval(() => {
      for (const c of this.#clients) c.write(': keep-alive\n\n');
    }, heartbeatMs);
    this.#heartbeat.unref();
  }

  get size(): number {
    return this.#clients.size;
  }

  add(res: ServerResponse): void {
    this.#clients.add(res);
    res.on('close', () => this.#clients.delete(res));
  }

  publish(event: string, data: unknown): void {
    const text = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const c of this.#clients) c.write(text);
  }

  close(): void {
    clearInterval(this.#heartbeat);
    for (const c of this.#clients) c.end();
    this.#clients.clear();
  }
}
