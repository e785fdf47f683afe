import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pino from 'pino';
import { startNode } from '../src/node.ts';
import { loadConfig } from '../src/role-list.ts';

describe('node', () => {
  it('starts on SQLite, reports ready, and shows queue depth in /metrics (insecure: open)', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'ehmi-node-'));
    const config = loadConfig({ env: {}, overrides: { dataDir, http: { port: 0 }, insecure: true } });
    const node = await startNode(config, pino({ level: 'silent' }));
    try {
      assert.equal(node.store.engine, 'sqlite');
      assert.equal((await fetch(`${node.urls.node}/health`)).status, 200);
      await node.queue.enqueue(node.store.db, { queue: 'as4-send', payload: {} });
      const metrics = await (await fetch(`${node.urls.node}/metrics`)).text();
      assert.match(metrics, /ehmi_queue_jobs\{queue="as4-send",status="ready",service="node"\} 1/);
    } finally {
      await node.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('without authorization (and not insecure), /metrics is refused with 403 saying why; /health stays open', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'ehmi-node-'));
    const config = loadConfig({ env: {}, overrides: { dataDir, http: { port: 0 } } });
    const node = await startNode(config, pino({ level: 'silent' }));
    try {
      assert.equal((await fetch(`${node.urls.node}/health`)).status, 200);
      const res = await fetch(`${node.urls.node}/metrics`);
      assert.equal(res.status, 403);
      const outcome = (await res.json()) as { resourceType: string; issue: { diagnostics?: string }[] };
      assert.equal(outcome.resourceType, 'OperationOutcome');
      assert.match(JSON.stringify(outcome), /no authorization configured/);
    } finally {
      await node.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('fails to start with a clear error when its port is taken', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'ehmi-node-'));
    const first = await startNode(
      loadConfig({ env: {}, overrides: { dataDir, http: { port: 0 } } }),
      pino({ level: 'silent' }),
    );
    const port = Number(new URL(first.urls.node!).port);
    try {
      await assert.rejects(
        startNode(
          loadConfig({ env: {}, overrides: { dataDir: `${dataDir}-2`, http: { port } } }),
          pino({ level: 'silent' }),
        ),
        /EADDRINUSE/,
      );
    } finally {
      await first.close();
      await rm(dataDir, { recursive: true, force: true });
      await rm(`${dataDir}-2`, { recursive: true, force: true });
    }
  });
});
