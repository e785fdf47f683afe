// The EUAs of the suite: the sending EUA submits prøvesvar at the sending MSH and, like a real EUA, submits the same
// bytes again until it gets a final answer (an identical resubmission is answered with the earlier message: the
// MSH's duplicate check makes the retry safe); the receiving EUA polls its inbox. Both tell the recorder what they
// were told.
import { setTimeout as sleep } from 'node:timers/promises';
import { sampleHomeCareObservation } from '@ehmi/network';
import { type FaultCluster, RECEIVER, SENDER } from './cluster.ts';

interface Submitted {
  id: string;
  messageHeaderId: string;
  bundleId: string;
}

/** A final refusal: the EUA would not try again (408 and 429 are worth another try, like any 5xx). */
function final(status: number): boolean {
  return status >= 400 && status < 500 && status !== 408 && status !== 429;
}

export class Load {
  readonly #cluster: FaultCluster;
  #polling: Promise<void> | undefined;
  #stopPolling = false;
  /** Submissions answered (accepted or refused) so far. */
  answered = 0;
  /** Tries that failed for want of an answer (connection refused or cut, 5xx): the EUA tried again. */
  retries = 0;

  constructor(cluster: FaultCluster) {
    this.#cluster = cluster;
  }

  /** Submit one fresh prøvesvar until the MSH answers it for good. */
  async submitOne(deadlineMs = 300_000): Promise<Submitted | undefined> {
    const { client } = this.#cluster.pair;
    const bundle = sampleHomeCareObservation(client.organisation(SENDER), client.organisation(RECEIVER));
    const header = bundle.entry!.find((e) => e.resource?.resourceType === 'MessageHeader')!.resource as {
      id: string;
    };
    const bytes = Buffer.from(JSON.stringify(bundle));
    const until = Date.now() + deadlineMs;
    for (let tries = 1; ; tries++) {
      let last: string;
      try {
        const res = await client.call(SENDER, 'POST', '/messages', {
          bytes,
          contentType: 'application/fhir+json',
        });
        if (res.status === 202 || res.status === 200) {
          const body = res.json as Submitted;
          this.#cluster.recorder.write({ kind: 'accepted', eua: SENDER, status: res.status, tries, ...body });
          this.answered++;
          return body;
        }
        if (final(res.status)) {
          this.#cluster.recorder.write({
            kind: 'refused',
            eua: SENDER,
            status: res.status,
            messageHeaderId: header.id,
            reason: res.text.slice(0, 500),
          });
          this.answered++;
          return undefined;
        }
        last = `${res.status} ${res.text.slice(0, 200)}`;
      } catch (err) {
        last = String(err);
      }
      this.retries++;
      if (Date.now() > until)
        throw new Error(`no answer to a submission within ${deadlineMs} ms (last: ${last})`);
      await sleep(250);
    }
  }

  /** Submit `count` messages, `concurrency` at a time, spread over at least `spreadMs`. */
  async submit(count: number, concurrency: number, spreadMs = 0): Promise<Submitted[]> {
    const out: Submitted[] = [];
    const started = Date.now();
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const i = next++;
        const due = started + (spreadMs * i) / count;
        if (due > Date.now()) await sleep(due - Date.now());
        const s = await this.submitOne();
        if (s) out.push(s);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
    return out;
  }

  /** Read the receiving inbox until stopped; every new item is recorded once. */
  startPolling(intervalMs = 300): void {
    this.#stopPolling = false;
    this.#polling ??= (async () => {
      while (!this.#stopPolling) {
        await this.poll().catch(() => {});
        await sleep(intervalMs);
      }
    })();
  }

  async stopPolling(): Promise<void> {
    this.#stopPolling = true;
    await this.#polling;
    this.#polling = undefined;
  }

  /** One read of the receiving inbox. */
  async poll(): Promise<void> {
    const res = await this.#cluster.pair.client.call(RECEIVER, 'GET', '/inbox');
    if (res.status !== 200) throw new Error(`GET /inbox: ${res.status}`);
    for (const item of res.json as { id: string; messageHeaderId: string; bundleId: string }[]) {
      if (this.#cluster.seenItems.has(item.id)) continue;
      this.#cluster.seenItems.add(item.id);
      this.#cluster.recorder.write({
        kind: 'delivered',
        eua: RECEIVER,
        itemId: item.id,
        messageHeaderId: item.messageHeaderId,
        bundleId: item.bundleId,
      });
    }
  }

  /** Wait until every message accepted so far is in the receiving inbox, or `timeoutMs` passed; false then. */
  async delivered(timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      await this.poll().catch(() => {});
      const delivered = this.#cluster.recorder.delivered();
      if ([...this.#cluster.recorder.accepted()].every((h) => delivered.has(h))) return true;
      if (Date.now() > until) return false;
      await sleep(300);
    }
  }

  /**
   * Wait until every accepted message is in the receiving inbox and its EnvelopeReceipt came back to the sender
   * (`receipted`: nothing of it is left to do on either side), or the sender gave it up (`failed`: it will never
   * come), or `timeoutMs` passed. What is still missing then is lost; the checker decides.
   */
  async settle(timeoutMs: number): Promise<{ settled: boolean; failed: { id: string; reason: string }[] }> {
    const { client } = this.#cluster.pair;
    const recorder = this.#cluster.recorder;
    const until = Date.now() + timeoutMs;
    let failed: { id: string; reason: string }[] = [];
    for (;;) {
      try {
        await this.poll();
        const ids = new Set(recorder.records.flatMap((r) => (r.kind === 'accepted' ? [r.id] : [])));
        const done = new Set<string>();
        failed = [];
        for (const status of ['receipted', 'acknowledged', 'failed']) {
          const res = await client.call(SENDER, 'GET', `/messages?status=${status}`);
          if (res.status !== 200) throw new Error(`GET /messages: ${res.status}`);
          for (const m of res.json as { id: string; failure?: { reason: string } | null }[]) {
            if (!ids.has(m.id)) continue;
            done.add(m.id);
            if (status === 'failed') failed.push({ id: m.id, reason: m.failure?.reason ?? '' });
          }
        }
        const delivered = recorder.delivered();
        const missing = [...recorder.accepted()].filter((h) => !delivered.has(h)).length;
        if (done.size === ids.size && (missing === 0 || failed.length > 0))
          return { settled: missing === 0 && failed.length === 0, failed };
      } catch {
        // a node is still on its way up
      }
      if (Date.now() > until) return { settled: false, failed };
      await sleep(500);
    }
  }
}
