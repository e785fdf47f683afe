import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { issueCertificate } from '@ehmi/pki';
import { RECEIPT_DOCUMENT_ID } from '@ehmi/sbdh';
import pino from 'pino';
import { createMsh } from '../../src/msh/index.ts';
import { mshRole } from '../../src/msh/role.ts';
import { roleContext } from '../../src/node.ts';
import { configSchema } from '../../src/role-list.ts';
import { JobQueue } from '../../src/store/index.ts';
import { engines } from '../helpers/engines.ts';
import {
  clientFetch,
  homecare,
  LoopbackAp,
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

const A = `0088:${ORG_A.gln}`;
const B = `0088:${ORG_B.gln}`;
const HOSPITAL = '0088:5790000209354';

for (const engine of engines()) {
  describe(`MSH: who sends and who may call (${engine.name})`, { skip: engine.skip }, () => {
    let pki: TestPki;
    let a: Node;
    let b: Node;

    before(async () => {
      pki = await testPki();
      a = await startNode(engine, pki, 'a');
      b = await startNode(engine, pki, 'b');
      a.ap.peers.set(B, b.msh.backend);
      b.ap.peers.set(A, a.msh.backend);
    });
    after(async () => {
      await stopNode(a, b);
      await removeDir(pki.dir);
    });

    const submit = async (node: Node) => {
      const res = await node.fetch(`${node.url}/messages`, {
        method: 'POST',
        body: JSON.stringify(homecare()),
        headers: { 'content-type': 'application/fhir+json' },
      });
      assert.equal(res.status, 202, await res.clone().text());
      return ((await res.json()) as { id: string }).id;
    };
    const message = async (node: Node, id: string) =>
      (await (await node.fetch(`${node.url}/messages/${id}`)).json()) as {
        status: string;
        failure: { reason: string } | null;
      };
    const inboxSize = async (node: Node) =>
      ((await (await node.fetch(`${node.url}/inbox`)).json()) as unknown[]).length;

    it('an envelope whose Sender is not the sender its access point authenticated gets a ReceiptException and reaches no inbox', async () => {
      const before = await inboxSize(b);
      // The AS4 layer authenticated the hospital; the envelope says it comes from A.
      a.ap.claim = (s) => (s.documentType === RECEIPT_DOCUMENT_ID ? s.sender : HOSPITAL);
      try {
        const id = await submit(a);
        // The ReceiptException goes to the envelope's Sender, A, and fails the message there.
        const failed = await until('the message failed', async () => {
          const m = await message(a, id);
          return m.status === 'failed' ? m : undefined;
        });
        assert.match(failed.failure!.reason, /ReceiptException \(Authorization\).*not 0088:5790000209354/);
      } finally {
        a.ap.claim = undefined;
      }
      assert.equal(await inboxSize(b), before);
    });

    it('an EnvelopeReceipt from anyone but the receiver is ignored; the receiver’s own receipts it', async () => {
      // B's receipts reach A as if the hospital's access point had sent them.
      b.ap.claim = (s) => (s.documentType === RECEIPT_DOCUMENT_ID ? HOSPITAL : s.sender);
      let id: string;
      try {
        id = await submit(a);
        const ignored = await until('the forged receipt ignored', async () => {
          const rows = await a.test.store.db
            .selectFrom('msh_received')
            .selectAll()
            .where('outcome', '=', 'ignored')
            .where('detail', 'like', `%comes from ${HOSPITAL}, not from its receiver ${B}%`)
            .execute();
          return rows.length > 0 ? rows : undefined;
        });
        assert.equal(ignored[0]!.inbox_id, null);
        assert.equal((await message(a, id)).status, 'sent');
      } finally {
        b.ap.claim = undefined;
      }
      // The same message resent reaches B again; its receipt, from B, is taken.
      const res = await a.fetch(`${a.url}/messages/${id}/$resend`, { method: 'POST' });
      assert.ok(res.status < 300, await res.text());
      await until('receipted', async () =>
        (await message(a, id)).status === 'receipted' ? true : undefined,
      );
    });

    it('an EnvelopeReceipt is checked against the keys kept with the envelope, or the envelope itself for a row without them', async () => {
      // Before a receipt reaches A, `change` alters what A kept of the envelope it answers.
      let change: (id: string) => Promise<void> = async () => {};
      const real = a.msh.backend;
      b.ap.peers.set(
        A,
        new Proxy(real, {
          get: (target, key) =>
            key === 'deliver'
              ? async (inbound: Parameters<typeof real.deliver>[0]) => {
                  if (inbound.documentType === RECEIPT_DOCUMENT_ID) {
                    const row = await a.test.store.db
                      .selectFrom('msh_submissions')
                      .select('id')
                      .where('purpose', '=', 'message')
                      .orderBy('created_at', 'desc')
                      .executeTakeFirstOrThrow();
                    await change(row.id);
                  }
                  return target.deliver(inbound);
                }
              : Reflect.get(target, key),
        }),
      );
      try {
        // Keys that do not match the receipt: it is ignored, so they, not the envelope, are what it is checked against.
        change = async (id) => {
          const row = await a.test.store.db
            .selectFrom('msh_submissions')
            .select('receipt_keys')
            .where('id', '=', id)
            .executeTakeFirstOrThrow();
          const keys = JSON.parse(row.receipt_keys!) as Record<string, string>;
          assert.ok(keys.messageIdentifier && keys.standard && keys.version, row.receipt_keys!);
          await a.test.store.db
            .updateTable('msh_submissions')
            .set({ receipt_keys: JSON.stringify({ ...keys, messageIdentifier: 'another-message' }) })
            .where('id', '=', id)
            .execute();
        };
        const wrong = await submit(a);
        await until('the receipt ignored', async () => {
          const rows = await a.test.store.db
            .selectFrom('msh_received')
            .selectAll()
            .where('outcome', '=', 'ignored')
            .where('detail', 'like', '%ORIGINALMESSAGEIDENTIFIER%another-message%')
            .execute();
          return rows.length > 0 ? rows : undefined;
        });
        assert.equal((await message(a, wrong)).status, 'sent');
        // A row from before the keys were kept: the envelope is read again, and its receipt taken.
        change = async (id) => {
          await a.test.store.db
            .updateTable('msh_submissions')
            .set({ receipt_keys: null })
            .where('id', '=', id)
            .execute();
        };
        const old = await submit(a);
        await until('receipted', async () =>
          (await message(a, old)).status === 'receipted' ? true : undefined,
        );
      } finally {
        b.ap.peers.set(A, real);
      }
    });

    it('a client certificate not meant for TLS clients is refused with 401', async () => {
      const serverOnly = await issueCertificate(pki.ca, {
        subject: 'CN=server only, O=EHMI test, C=DK',
        purposes: ['tls-server'],
      });
      const res = await clientFetch(pki, serverOnly)(`${a.url}/inbox`);
      assert.equal(res.status, 401);
      assert.match(await res.text(), /INVALID_PURPOSE|tls-client/);
      assert.equal((await a.fetch(`${a.url}/inbox`)).status, 200);
    });
  });
}

describe('MSH: fails closed', () => {
  const configFor = (dataDir: string, insecure: boolean, more: Record<string, unknown> = {}) =>
    configSchema.parse({
      dataDir,
      insecure,
      organisation: ORG_A,
      msh: { enabled: true, port: 0 },
      log: { level: 'silent' },
      ...more,
    });

  it('refuses to start without authorization (with or without msh.clientTrustAnchors), and with authorization but without msh.clientTrustAnchors; with the insecure switch it starts and says so once', async () => {
    const [sqlite] = engines();
    const test = await sqlite!.open();
    const lines: string[] = [];
    const logger = pino(
      { level: 'warn' },
      new Writable({
        write(chunk, _enc, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    );
    const ctxFor = (insecure: boolean, more: Record<string, unknown> = {}) =>
      roleContext(mshRole, {
        config: configFor(test.dataDir, insecure, more),
        store: test.store,
        queue: new JobQueue(test.store, {
          leaseMs: 1000,
          maxAttempts: 1,
          backoffBaseMs: 10,
          backoffMaxMs: 10,
        }),
        logger,
      });
    try {
      await assert.rejects(createMsh(ctxFor(false), { accessPoint: new LoopbackAp() }), {
        code: 'EHMI_CONFIG_INVALID',
        message:
          /^authorization: the message service handler serves its API only to clients with an access token/,
      });
      const pki = await testPki();
      await assert.rejects(
        createMsh(
          ctxFor(false, {
            msh: { enabled: true, port: 0, clientTrustAnchors: [pki.caFile] },
            tls: { cert: pki.orgs.a.certFile, key: pki.orgs.a.keyFile, ca: [pki.caFile] },
          }),
          { accessPoint: new LoopbackAp() },
        ),
        { code: 'EHMI_CONFIG_INVALID', message: /^authorization: .*set insecure: true for development only/ },
      );
      await assert.rejects(
        createMsh(ctxFor(false, { authorization: { issuer: 'https://auth.ehmi.test' } }), {
          accessPoint: new LoopbackAp(),
        }),
        { code: 'EHMI_CONFIG_INVALID', message: /^msh\.clientTrustAnchors: access tokens are bound/ },
      );
      const msh = await createMsh(ctxFor(true), { accessPoint: new LoopbackAp() });
      await msh.start();
      try {
        assert.match(msh.url, /^http:/);
        // The role's own warning, once (its servers' /metrics say theirs: metrics-access.ts).
        const insecure = lines.filter(
          (l) => /INSECURE/.test(l) && /"level":40/.test(l) && /"role":"msh"/.test(l),
        );
        assert.equal(insecure.length, 1, lines.join(''));
        assert.match(insecure[0]!, /without client authentication/);
      } finally {
        await msh.close();
      }
    } finally {
      await test.cleanup();
    }
  });
});
