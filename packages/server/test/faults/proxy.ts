// A loopback proxy between the sending access point and the receiving one, at the byte level: it ends TLS with the
// receiver's own certificate (as a TLS-terminating load balancer in front of an AP would) and forwards the bytes
// to the receiving AP over a TLS connection of its own. Each HTTP exchange (a request and its answer on one
// connection) gets a fault drawn from the seed: passed on, delayed, stalled for a while, cut mid-request, cut once
// the answer starts (the receiver committed; the sender never sees its receipt), or duplicated (the whole request
// sent once more on a connection of its own, the answer dropped).
import { readFileSync } from 'node:fs';
import { connect, createServer, type Server, type TLSSocket } from 'node:tls';
import type { Rng } from './rng.ts';

export type ExchangeFault = 'pass' | 'delay' | 'stall' | 'cut-request' | 'cut-answer' | 'duplicate';

export interface ProxyOptions {
  /** The receiving AP, `https://host:port`. */
  target: string;
  /** The receiver's TLS certificate and key (PEM files), presented to the sender. */
  cert: string;
  key: string;
  /** The CA the receiving AP's certificate chains to. */
  ca: string;
  rng: Rng;
  /** How many of each fault a deck holds; exchanges draw from a shuffled deck (a new one when it is empty). */
  deck?: Partial<Record<ExchangeFault, number>>;
  delayMs?: [number, number];
  stallMs?: [number, number];
}

/** Every fault once in each deck, and as many exchanges passed on. */
const DEFAULT_DECK: Record<ExchangeFault, number> = {
  pass: 5,
  delay: 1,
  stall: 1,
  'cut-request': 1,
  'cut-answer': 1,
  duplicate: 1,
};

export class FaultProxy {
  readonly #server: Server;
  readonly #options: ProxyOptions;
  readonly #target: { host: string; port: number };
  readonly #sockets = new Set<TLSSocket>();
  readonly #ca: string;
  #faulty = false;
  url = '';
  /** Exchanges seen, by the fault each got. */
  readonly counts: Record<ExchangeFault, number> = {
    pass: 0,
    delay: 0,
    stall: 0,
    'cut-request': 0,
    'cut-answer': 0,
    duplicate: 0,
  };
  /** Replays still on their way. */
  #replays = new Set<Promise<void>>();

  constructor(options: ProxyOptions) {
    this.#options = options;
    const u = new URL(options.target);
    this.#target = { host: u.hostname, port: Number(u.port) };
    this.#ca = readFileSync(options.ca, 'utf8');
    this.#server = createServer(
      { cert: readFileSync(options.cert), key: readFileSync(options.key) },
      (client) => this.#connection(client),
    );
    // A sender killed mid-handshake: nothing to forward.
    this.#server.on('tlsClientError', () => {});
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', () => resolve()));
    this.url = `https://127.0.0.1:${(this.#server.address() as { port: number }).port}`;
    return this.url;
  }

  /** Faults on (exchanges drawn from the weights) or off (every exchange passes). */
  set faulty(on: boolean) {
    this.#faulty = on;
  }

  /** Wait until every duplicate sent so far has been answered. */
  async quiet(): Promise<void> {
    while (this.#replays.size > 0) await Promise.allSettled([...this.#replays]);
  }

  async close(): Promise<void> {
    await this.quiet();
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #deck: ExchangeFault[] = [];

  #draw(): ExchangeFault {
    if (!this.#faulty) return 'pass';
    if (this.#deck.length === 0) {
      const counts = { ...DEFAULT_DECK, ...this.#options.deck };
      const deck = (Object.entries(counts) as [ExchangeFault, number][]).flatMap(([f, n]) =>
        Array<ExchangeFault>(n).fill(f),
      );
      // Fisher–Yates with the seeded source
      for (let i = deck.length - 1; i > 0; i--) {
        const j = this.#options.rng.int(0, i);
        [deck[i], deck[j]] = [deck[j]!, deck[i]!];
      }
      this.#deck = deck;
    }
    return this.#deck.pop()!;
  }

  #upstream(): TLSSocket {
    const s = connect({ host: this.#target.host, port: this.#target.port, ca: this.#ca });
    this.#sockets.add(s);
    s.once('close', () => this.#sockets.delete(s));
    s.on('error', () => {});
    return s;
  }

  #connection(client: TLSSocket): void {
    const rng = this.#options.rng;
    this.#sockets.add(client);
    client.once('close', () => this.#sockets.delete(client));
    client.on('error', () => {});
    const server = this.#upstream();
    const cut = () => {
      client.destroy();
      server.destroy();
    };
    client.once('close', cut);
    server.once('close', cut);
    // The exchange under way: its fault, the request bytes so far, and whether its answer has begun.
    let fault: ExchangeFault | undefined;
    let request: Buffer[] = [];
    let requestBytes = 0;
    let answering = false;
    let cutAt = 0;
    let stallAt = 0;
    let delayMs = 0;
    let stallMs = 0;
    // Bytes go on in order, each after the delay or stall of its exchange.
    let toServer = Promise.resolve();
    let toClient = Promise.resolve();
    const later = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

    client.on('data', (chunk: Buffer) => {
      if (fault === undefined || answering) {
        // A new exchange begins with the first byte of its request.
        fault = this.#draw();
        this.counts[fault]++;
        request = [];
        requestBytes = 0;
        answering = false;
        const [d0, d1] = this.#options.delayMs ?? [50, 400];
        const [s0, s1] = this.#options.stallMs ?? [1000, 5000];
        delayMs = fault === 'delay' ? rng.int(d0, d1) : 0;
        cutAt = fault === 'cut-request' ? rng.int(1, 4000) : 0;
        stallAt = fault === 'stall' ? rng.int(1, 4000) : 0;
        stallMs = fault === 'stall' ? rng.int(s0, s1) : 0;
      }
      const before = requestBytes;
      requestBytes += chunk.length;
      if (fault === 'duplicate') request.push(chunk);
      if (fault === 'cut-request' && requestBytes >= cutAt) {
        // Pass on the bytes up to the cut, then end both connections.
        const part = chunk.subarray(0, Math.max(0, cutAt - before));
        toServer = toServer.then(() => {
          if (part.length > 0) server.write(part);
          cut();
        });
        return;
      }
      // The stall holds the request back once, where its byte count passes the drawn offset (the first 4000 bytes:
      // an AS4 request's headers and SOAP part are longer).
      const stall = fault === 'stall' && before < stallAt && requestBytes >= stallAt ? stallMs : 0;
      const d = delayMs;
      toServer = toServer.then(async () => {
        if (d > 0) await later(d);
        if (stall > 0) await later(stall);
        if (!server.destroyed) server.write(chunk);
      });
    });
    server.on('data', (chunk: Buffer) => {
      if (!answering) {
        answering = true;
        if (fault === 'cut-answer') {
          cut();
          return;
        }
        if (fault === 'duplicate') this.#replay(Buffer.concat(request));
      }
      const d = delayMs;
      toClient = toClient.then(async () => {
        if (d > 0) await later(d);
        if (!client.destroyed) client.write(chunk);
      });
    });
  }

  /** Send a captured request once more on a connection of its own; close it once the answer begins. */
  #replay(bytes: Buffer): void {
    const p = new Promise<void>((resolve) => {
      const s = this.#upstream();
      let answered = false;
      s.on('data', () => {
        // One answer is enough: the receiver handled the duplicate (a keep-alive connection would stay open).
        answered = true;
        setTimeout(() => s.destroy(), 200);
      });
      s.once('close', () => resolve());
      s.once('secureConnect', () => s.write(bytes));
      setTimeout(() => {
        if (!answered) s.destroy();
      }, 60_000).unref();
    });
    this.#replays.add(p);
    void p.finally(() => this.#replays.delete(p));
  }
}
