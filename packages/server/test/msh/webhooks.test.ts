// Push delivery to the EUA by webhooks: registration, signed deliveries to a real HTTPS receiver, retries, the
// failure list. Two MSHs (A sends to B over the loopback access point) on each engine.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { issueCertificate } from '@ehmi/pki';
import { Webhook } from 'standardwebhooks';
import { mshScopeOf } from '../../src/msh/access.ts';
import { TOKEN_OPEN_PATHS } from '../../src/msh/routes.ts';
import { SMART_CONFIGURATION_PATH } from '../../src/smart-configuration.ts';
import { engines } from '../helpers/engines.ts';
import {
  homecare,
  type Json,
  type Node,
  ORG_A,
  ORG_B,
  removeDir,
  startNode,
  stopNode,
  type TestPki,
  testPki,
  until,
} from './helpers.ts';

/** What the receiver answers a request: a status, headers, a body; or nothing at all (it hangs). */
type Answer = { status: number; headers?: Record<string, string>; body?: string } | 'hang';

interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
  /** The payload as the standardwebhooks library's verifier read it, or why it refused. */
  verified: Json | Error;
  status: number | 'hang';
}

/**
 * The EUA's webhook receiver: an HTTPS server with a certificate of the test PKI. Each path is one webhook; its
 * `answer` decides each reply, and `next(path, predicate)` resolves on the first request (past or future) that
 * matches. Verifies every request with the library, as an EUA would, and keeps the webhook-ids it accepted.
 */
class Receiver {
  readonly received: Received[] = [];
  readonly secrets = new Map<string, string>();
  readonly answers = new Map<string, (r: Omit<Received, 'status'>, seen: number) => Answer>();
  /** webhook-ids accepted (answered 2xx) per path: a repeated id is not processed twice. */
  readonly accepted = new Map<string, string[]>();
  readonly #waiters: { path: string; match: (r: Received) => boolean; resolve: (r: Received) => void }[] = [];
  readonly #hanging = new Set<() => void>();
  server!: Server;
  url = '';

  async start(pki: TestPki): Promise<void> {
    const cred = await issueCertificate(pki.ca, {
      subject: 'CN=EUA webhook receiver, O=EHMI test, C=DK',
      purposes: ['tls-server'],
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
    });
    this.server = createServer({ cert: cred.certificatePem, key: cred.privateKeyPem }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = req.url ?? '/';
        const headers = Object.fromEntries(
          Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]),
        );
        const body = Buffer.concat(chunks).toString('utf8');
        let verified: Json | Error;
        try {
          verified = new Webhook(this.secrets.get(path) ?? 'whsec_AAAA').verify(body, headers) as Json;
        } catch (err) {
          verified = err as Error;
        }
        const seen = this.received.filter((r) => r.path === path).length;
        const answer = this.answers.get(path)?.({ path, headers, body, verified }, seen) ?? { status: 204 };
        const record: Received = {
          path,
          headers,
          body,
          verified,
          status: answer === 'hang' ? 'hang' : answer.status,
        };
        this.received.push(record);
        if (answer === 'hang') {
          this.#hanging.add(() => res.destroy());
        } else {
          if (answer.status >= 200 && answer.status < 300) {
            const ids = this.accepted.get(path) ?? [];
            if (!ids.includes(headers['webhook-id']!)) ids.push(headers['webhook-id']!);
            this.accepted.set(path, ids);
          }
          res.writeHead(answer.status, answer.headers ?? {}).end(answer.body ?? '');
        }
        for (const w of [...this.#waiters]) {
          if (w.path === path && w.match(record)) {
            this.#waiters.splice(this.#waiters.indexOf(w), 1);
            w.resolve(record);
          }
        }
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  next(path: string, match: (r: Received) => boolean = () => true): Promise<Received> {
    const seen = this.received.find((r) => r.path === path && match(r));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.#waiters.push({ path, match, resolve }));
  }

  async close(): Promise<void> {
    for (const end of this.#hanging) end();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

interface Reply {
  status: number;
  body: Json;
  text: string;
  headers: Headers;
}

async function call(node: Node, method: string, path: string, body?: unknown): Promise<Reply> {
  const res = await node.fetch(`${node.url}${path}`, {
    method,
    ...(body !== undefined
      ? {
          body: typeof body === 'string' ? body : JSON.stringify(body),
          headers: { 'content-type': 'application/json' },
        }
      : {}),
  });
  const text = await res.text();
  let parsed: Json = {};
  try {
    parsed = text ? (JSON.parse(text) as Json) : {};
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed, text, headers: res.headers as unknown as Headers };
}

let pki: TestPki;
before(async () => {
  pki = await testPki();
});
after(async () => {
  await removeDir(pki.dir);
});

// Short back-off so retries come at once; three tries before the failure list; a short response timeout.
const WEBHOOKS = {
  allowPrivateTargets: true,
  maxAttempts: 3,
  backoffBaseMs: 5,
  backoffMaxMs: 20,
  responseTimeoutMs: 1500,
};

for (const engine of engines()) {
  describe(`webhooks (${engine.name})`, { skip: engine.skip }, () => {
    let a: Node;
    let b: Node;
    const receiver = new Receiver();
    let path = 0;

    before(async () => {
      await receiver.start(pki);
      a = await startNode(engine, pki, 'a', { webhooks: WEBHOOKS });
      b = await startNode(engine, pki, 'b', { webhooks: WEBHOOKS });
      a.ap.peers.set(`0088:${ORG_B.gln}`, b.msh.backend);
      b.ap.peers.set(`0088:${ORG_A.gln}`, a.msh.backend);
    });
    after(async () => {
      await stopNode(a, b);
      await receiver.close();
    });

    /** Register a webhook at `node` on a path of its own; its secret goes to the receiver. */
    async function register(
      node: Node,
      events?: string[],
    ): Promise<{ id: string; path: string; secret: string }> {
      const p = `/hook-${++path}`;
      const r = await call(node, 'POST', '/webhooks', {
        url: `${receiver.url}${p}`,
        ...(events ? { events } : {}),
        description: `test ${p}`,
      });
      assert.equal(r.status, 201, r.text);
      receiver.secrets.set(p, r.body.secret);
      return { id: r.body.id, path: p, secret: r.body.secret };
    }

    /** A new prøvesvar from A to B: its tracking id and MessageHeader.id. */
    async function send(): Promise<{ id: string; messageHeaderId: string }> {
      const res = await a.fetch(`${a.url}/messages`, {
        method: 'POST',
        body: JSON.stringify(homecare()),
        headers: { 'content-type': 'application/fhir+json' },
      });
      const json = (await res.json()) as Json;
      assert.equal(res.status, 202, JSON.stringify(json));
      return { id: json.id, messageHeaderId: json.messageHeaderId };
    }

    /** B's inbox item of a message A sent, once it is there. */
    const inboxItem = (messageHeaderId: string) =>
      until('the inbox item at B', async () =>
        ((await call(b, 'GET', '/inbox')).body as unknown as Json[]).find(
          (i) => i.messageHeaderId === messageHeaderId,
        ),
      );

    it('registers a webhook (201): its secret whsec_<base64> once, then listed and read without it', async () => {
      const r = await call(b, 'POST', '/webhooks', {
        url: `${receiver.url}/listed`,
        events: ['inbox.received'],
        description: 'the GP system',
      });
      assert.equal(r.status, 201, r.text);
      assert.equal(r.headers.get('location'), `/webhooks/${r.body.id}`);
      assert.match(r.body.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
      assert.equal(Buffer.from(r.body.secret.slice(6), 'base64').length, 32);
      assert.deepEqual(r.body.events, ['inbox.received']);
      assert.equal(r.body.url, `${receiver.url}/listed`);
      assert.equal(r.body.disabled, null);
      const list = await call(b, 'GET', '/webhooks');
      assert.equal(list.status, 200, list.text);
      const listed = (list.body as unknown as Json[]).find((w) => w.id === r.body.id);
      assert.ok(listed);
      assert.equal(listed.secret, undefined);
      const one = await call(b, 'GET', `/webhooks/${r.body.id}`);
      assert.equal(one.status, 200);
      assert.equal(one.body.secret, undefined);
      assert.equal(one.body.description, 'the GP system');
      // Every event type when none is named.
      const all = await call(b, 'POST', '/webhooks', { url: `${receiver.url}/all` });
      assert.deepEqual(all.body.events, ['inbox.received', 'message.acknowledged', 'message.failed']);
      for (const id of [r.body.id, all.body.id])
        assert.equal((await call(b, 'DELETE', `/webhooks/${id}`)).status, 204);
      assert.equal((await call(b, 'GET', `/webhooks/${r.body.id}`)).status, 404);
      assert.equal((await call(b, 'DELETE', `/webhooks/${r.body.id}`)).status, 404);
    });

    it('refuses http:// (422), a body that is not a registration (400), and an unknown event type (400)', async () => {
      const http = await call(b, 'POST', '/webhooks', { url: 'http://127.0.0.1:9/hook' });
      assert.equal(http.status, 422, http.text);
      assert.equal(http.body.resourceType, 'OperationOutcome');
      assert.match(http.text, /HTTPS only, not http/);
      const notJson = await call(b, 'POST', '/webhooks', '{url');
      assert.equal(notJson.status, 400);
      assert.match(notJson.text, /not JSON/);
      const unknown = await call(b, 'POST', '/webhooks', {
        url: `${receiver.url}/x`,
        events: ['inbox.deleted'],
      });
      assert.equal(unknown.status, 400);
      assert.match(unknown.text, /events\.0/);
      const extra = await call(b, 'POST', '/webhooks', { url: `${receiver.url}/x`, secret: 'mine' });
      assert.equal(extra.status, 400);
      assert.equal((await call(b, 'GET', '/webhooks')).body.length, 0);
      assert.equal((await call(b, 'GET', '/webhooks/not-a-uuid')).status, 400);
    });

    it('a new inbox item is POSTed signed (Standard Webhooks): the library verifies it; the body is thin', async () => {
      const hook = await register(b, ['inbox.received']);
      const sent = await send();
      const got = await receiver.next(hook.path);
      assert.ok(!(got.verified instanceof Error), `verified: ${String(got.verified)}`);
      const payload = got.verified as Json;
      assert.equal(payload.type, 'inbox.received');
      assert.equal(payload.data.messageHeaderId, sent.messageHeaderId);
      assert.equal(payload.data.sender, `0088:${ORG_A.gln}`);
      assert.equal(payload.data.url, `${b.url}/inbox/${payload.data.id}`);
      assert.match(got.headers['webhook-id']!, /^msg_[0-9a-f]{32}$/);
      assert.match(got.headers['webhook-timestamp']!, /^\d{10}$/);
      assert.match(got.headers['webhook-signature']!, /^v1,[A-Za-z0-9+/]{43}=$/);
      assert.equal(got.headers['content-type'], 'application/json');
      // Never the message or its patient: the EUA reads it from the URL with its own token.
      assert.doesNotMatch(got.body, /2509479989|Elmer|Bruno|Observation/);
      assert.deepEqual(Object.keys(payload.data).sort(), [
        'bundleId',
        'id',
        'messageHeaderId',
        'receivedAt',
        'sender',
        'type',
        'url',
      ]);
      const item = await call(b, 'GET', `/inbox/${payload.data.id}`);
      assert.equal(item.status, 200);
      // A changed body, or another secret, does not verify.
      assert.throws(() => new Webhook(hook.secret).verify(got.body.replace('inbox', 'inbax'), got.headers));
      const other = (await call(b, 'POST', '/webhooks', { url: `${receiver.url}/other` })).body;
      assert.throws(() => new Webhook(other.secret).verify(got.body, got.headers));
      await call(b, 'DELETE', `/webhooks/${other.id}`);
      await call(b, 'DELETE', `/webhooks/${hook.id}`);
    });

    it('a receiver that fails twice, then answers 2xx, gets the event accepted once, with one webhook-id', async () => {
      const hook = await register(b, ['inbox.received']);
      receiver.answers.set(hook.path, (_r, seen) =>
        seen === 0
          ? { status: 500, body: 'database down' }
          : seen === 1
            ? { status: 503, headers: { 'retry-after': '0' } }
            : { status: 200 },
      );
      await send();
      const ok = await receiver.next(hook.path, (r) => r.status === 200);
      const tries = receiver.received.filter((r) => r.path === hook.path);
      assert.deepEqual(
        tries.map((t) => t.status),
        [500, 503, 200],
      );
      // The same webhook-id on every try, each try signed anew, each verifying.
      assert.equal(new Set(tries.map((t) => t.headers['webhook-id'])).size, 1);
      assert.ok(tries.every((t) => !(t.verified instanceof Error)));
      assert.deepEqual(receiver.accepted.get(hook.path), [ok.headers['webhook-id']]);
      await b.msh.webhooksIdle({ drained: true });
      const row = await b.test.store.db
        .selectFrom('msh_webhook_deliveries')
        .selectAll()
        .where('id', '=', ok.headers['webhook-id']!)
        .executeTakeFirstOrThrow();
      assert.equal(row.attempts, 3);
      assert.equal(row.last_status, 200);
      assert.notEqual(row.delivered_at, null);
      assert.equal(row.failed_at, null);
      assert.deepEqual((await call(b, 'GET', `/webhooks/${hook.id}/failures`)).body, []);
      await call(b, 'DELETE', `/webhooks/${hook.id}`);
    });

    it('a receiver that always fails ends on the failure list after the last try; a retry from it delivers', async () => {
      const hook = await register(b, ['inbox.received']);
      let down = true;
      receiver.answers.set(hook.path, () => (down ? { status: 500, body: 'nope' } : { status: 202 }));
      await send();
      await receiver.next(hook.path);
      await b.msh.webhooksIdle({ drained: true });
      const failures = await call(b, 'GET', `/webhooks/${hook.id}/failures`);
      assert.equal(failures.status, 200, failures.text);
      assert.equal(failures.body.length, 1);
      const [failure] = failures.body as unknown as Json[];
      assert.match(failure!.id, /^msg_/);
      assert.equal(failure!.type, 'inbox.received');
      assert.equal(failure!.attempts, WEBHOOKS.maxAttempts);
      assert.equal(failure!.lastStatus, 500);
      assert.equal(failure!.lastError, 'HTTP 500: nope');
      assert.equal(failure!.payload.type, 'inbox.received');
      assert.equal(receiver.received.filter((r) => r.path === hook.path).length, WEBHOOKS.maxAttempts);
      // The queue holds it as dead: nothing is tried again until the EUA asks.
      const job = await b.test.store.db
        .selectFrom('msh_webhook_deliveries')
        .select('job_id')
        .where('id', '=', failure!.id)
        .executeTakeFirstOrThrow();
      assert.equal((await b.msh.webhooksIdle()).next, undefined);
      assert.equal((await b.ctx.queue.get(job.job_id))?.status, 'dead');

      down = false;
      const retry = await call(b, 'POST', `/webhooks/${hook.id}/failures/${failure!.id}/$retry`);
      assert.equal(retry.status, 202, retry.text);
      const ok = await receiver.next(hook.path, (r) => r.status === 202);
      assert.equal(ok.headers['webhook-id'], failure!.id);
      await b.msh.webhooksIdle({ drained: true });
      assert.deepEqual((await call(b, 'GET', `/webhooks/${hook.id}/failures`)).body, []);
      const again = await call(b, 'POST', `/webhooks/${hook.id}/failures/${failure!.id}/$retry`);
      assert.equal(again.status, 409);
      assert.match(again.text, /was delivered/);
      const unknown = await call(b, 'POST', `/webhooks/${hook.id}/failures/msg_${'0'.repeat(32)}/$retry`);
      assert.equal(unknown.status, 404);
      await call(b, 'DELETE', `/webhooks/${hook.id}`);
    });

    it('a receiver that does not answer in msh.webhooks.responseTimeoutMs fails the try', async () => {
      const hook = await register(b, ['inbox.received']);
      receiver.answers.set(hook.path, () => 'hang');
      await send();
      await receiver.next(hook.path);
      const row = await until('the first try recorded', async () => {
        const r = await b.test.store.db
          .selectFrom('msh_webhook_deliveries')
          .selectAll()
          .where('webhook_id', '=', hook.id)
          .executeTakeFirst();
        return r && r.attempts >= 1 ? r : undefined;
      });
      assert.equal(row.last_status, null);
      assert.match(row.last_error ?? '', /^no answer from .*(Timeout|timeout)/);
      // Removed: the tries left find nothing to send.
      assert.equal((await call(b, 'DELETE', `/webhooks/${hook.id}`)).status, 204);
      await b.msh.webhooksIdle({ drained: true });
    });

    it('410 Gone disables the webhook: no more deliveries, and a retry is refused', async () => {
      const hook = await register(b, ['inbox.received']);
      receiver.answers.set(hook.path, () => ({ status: 410, body: 'unsubscribed' }));
      await send();
      await receiver.next(hook.path);
      await b.msh.webhooksIdle({ drained: true });
      const one = await call(b, 'GET', `/webhooks/${hook.id}`);
      assert.match(one.body.disabled?.reason ?? '', /410 Gone: unsubscribed/);
      const failures = (await call(b, 'GET', `/webhooks/${hook.id}/failures`)).body as unknown as Json[];
      assert.equal(failures.length, 1);
      assert.equal(failures[0]!.attempts, 1);
      await inboxItem((await send()).messageHeaderId);
      await b.msh.webhooksIdle({ drained: true });
      assert.equal(receiver.received.filter((r) => r.path === hook.path).length, 1);
      const retry = await call(b, 'POST', `/webhooks/${hook.id}/failures/${failures[0]!.id}/$retry`);
      assert.equal(retry.status, 409);
      assert.match(retry.text, /disabled/);
      await call(b, 'DELETE', `/webhooks/${hook.id}`);
    });

    it("the sender's EUA hears of an acknowledgement (message.acknowledged) and of a failed message (message.failed)", async () => {
      const hook = await register(a, ['message.acknowledged', 'message.failed']);
      const sent = await send();
      const item = await inboxItem(sent.messageHeaderId);
      const ack = await call(b, 'POST', `/inbox/${item.id}/$acknowledge`, { code: 'ok' });
      assert.equal(ack.status, 202, ack.text);
      const acknowledged = await receiver.next(hook.path, (r) => (r.verified as Json).data?.id === sent.id);
      assert.equal((acknowledged.verified as Json).type, 'message.acknowledged');
      assert.equal((acknowledged.verified as Json).data.status, 'acknowledged');
      assert.equal((acknowledged.verified as Json).data.acknowledgement.code, 'ok');
      assert.equal((acknowledged.verified as Json).data.url, `${a.url}/messages/${sent.id}`);

      // No route to B: the access point gives up, the message fails.
      a.ap.peers.delete(`0088:${ORG_B.gln}`);
      try {
        const lost = await send();
        const failed = await receiver.next(hook.path, (r) => (r.verified as Json).data?.id === lost.id);
        const payload = failed.verified as Json;
        assert.equal(payload.type, 'message.failed');
        assert.equal(payload.data.status, 'failed');
        assert.equal(payload.data.failure.ebmsCode, 'EBMS:0301');
        assert.equal(payload.data.failure.reason, undefined);
      } finally {
        a.ap.peers.set(`0088:${ORG_B.gln}`, b.msh.backend);
      }
      await call(a, 'DELETE', `/webhooks/${hook.id}`);
    });

    it('every route of the EUA API, the webhooks’ included, names the scope a token needs for it', () => {
      const open = new Set([...TOKEN_OPEN_PATHS, SMART_CONFIGURATION_PATH]);
      const routes = b.msh.app.routesSeen.filter((r) => !open.has(r.url));
      assert.ok(routes.some((r) => r.url === '/webhooks/:id/failures/:deliveryId/$retry'));
      for (const r of routes) {
        const scope = mshScopeOf({ method: r.method, routeOptions: { url: r.url } } as never);
        assert.ok(scope, `${r.method} ${r.url} has a scope`);
        if (r.url.startsWith('/webhooks')) {
          assert.equal(scope, r.method === 'GET' ? 'msh/webhooks.read' : 'msh/webhooks.write', r.url);
        }
      }
    });

    it('keeps at most msh.webhooks.maxRegistrations (409 past it)', async () => {
      const max = b.ctx.config.webhooks.maxRegistrations;
      const ids: string[] = [];
      for (let i = 0; i < max; i++) ids.push((await register(b)).id);
      const over = await call(b, 'POST', '/webhooks', { url: `${receiver.url}/one-too-many` });
      assert.equal(over.status, 409);
      assert.match(over.text, new RegExp(`at most ${max} webhooks`));
      for (const id of ids) await call(b, 'DELETE', `/webhooks/${id}`);
    });
  });
}
