import type { ServerResponse } from 'node:http';
import { commitsDurable, durableCommits } from '../store/index.ts';

/** What the hub pushes: an inbox item and when it was received (epoch ms). */
export interface HubItem {
  id: string;
  receivedAt: number;
  /** The patient the item is about (`msh_inbox.patient_cpr`): a client restricted to another does not get it. */
  patientCpr: string | null;
  json: unknown;
}

export interface InboxHubOptions {
  heartbeatMs?: number;
  /** How often to look in the database for items other instances delivered (0: never). */
  pollMs?: number;
  /** Items received at or after `since` (epoch ms), oldest first. */
  since?: (since: number) => Promise<HubItem[]>;
  onError?: (err: unknown) => void;
}

/** How far back each poll looks again: a delivery commits a little after its received_at was taken. */
const OVERLAP_MS = 30_000;

/**
 * Server-sent events for new inbox items (EUA API 10; WHATWG HTML "Server-sent events"). Deliveries of this instance
 * are pushed right after their commit; those committed by other instances on the same database are found by a poll
 * while clients are connected. Each item is pushed once, and only items received since the clients connected.
 */
export class InboxHub {
  /** Each connected client, with the patient its token is restricted to (undefined: every patient). */
  readonly #clients = new Map<ServerResponse, string | undefined>();
  readonly #pushed = new Map<string, number>();
  readonly #options: InboxHubOptions;
  readonly #heartbeat: NodeJS.Timeout;
  #poller: NodeJS.Timeout | undefined;
  #connectedSince = 0;
  #polling = false;
  /** Items waiting for the durability barrier. */
  #waiting = 0;

  constructor(options: InboxHubOptions = {}) {
    this.#options = options;
    // A comment line now and then keeps proxies from closing an idle stream.
    this.#heartbeat = setInterval(() => {
      for (const c of this.#clients.keys()) c.write(': keep-alive\n\n');
    }, options.heartbeatMs ?? 15_000);
    this.#heartbeat.unref();
  }

  get size(): number {
    return this.#clients.size;
  }

  /** A client of the stream; with `patient`, it gets the items about that patient only. */
  add(res: ServerResponse, patient?: string): void {
    if (this.#clients.size === 0) {
      this.#connectedSince = Date.now();
      const { pollMs, since } = this.#options;
      if (pollMs && since) {
        this.#poller = setInterval(() => void this.#poll(), pollMs);
        this.#poller.unref();
      }
    }
    this.#clients.set(res, patient);
    res.on('close', () => {
      this.#clients.delete(res);
      if (this.#clients.size === 0) clearInterval(this.#poller);
    });
  }

  /** Push an item to every client that may see it, unless it was pushed already. */
  publish(item: HubItem): void {
    if (this.#clients.size === 0 || this.#pushed.has(item.id) || item.receivedAt < this.#connectedSince)
      return;
    this.#pushed.set(item.id, item.receivedAt);
    if (this.#pushed.size > 10_000) this.#pushed.delete(this.#pushed.keys().next().value!);
    const text = `event: message\ndata: ${JSON.stringify(item.json)}\n\n`;
    const write = () => {
      for (const [c, patient] of this.#clients) {
        if (patient === undefined || patient === item.patientCpr) c.write(text);
      }
    };
    // An item reaches a client only once its delivery's commit is durable (docs/architecture.md "Durability"): at
    // once when nothing is pending and no earlier item waits, else after the barrier, whose waits end in the order
    // they began, so items keep their order.
    if (this.#waiting === 0 && commitsDurable()) {
      write();
      return;
    }
    this.#waiting++;
    durableCommits()
      .then(write, (err: unknown) => this.#options.onError?.(err))
      .finally(() => this.#waiting--);
  }

  async #poll(): Promise<void> {
    if (this.#polling || this.#clients.size === 0 || !this.#options.since) return;
    this.#polling = true;
    try {
      const from = Math.max(this.#connectedSince, Date.now() - OVERLAP_MS);
      for (const item of await this.#options.since(from)) this.publish(item);
      // Forget what can no longer come back in a poll.
      for (const [id, at] of this.#pushed) if (at < from - OVERLAP_MS) this.#pushed.delete(id);
    } catch (err) {
      this.#options.onError?.(err);
    } finally {
      this.#polling = false;
    }
  }

  close(): void {
    clearInterval(this.#heartbeat);
    clearInterval(this.#poller);
    for (const c of this.#clients.keys()) c.end();
    this.#clients.clear();
  }
}
