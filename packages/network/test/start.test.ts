// startNetwork: three real nodes (MSH + AP over HTTPS each) in this process, on SQLite.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { EhmiError } from '@ehmi/errors';
import pino from 'pino';
import { Agent, request } from 'undici';
import { freePortBase } from '../../server/test/e2e/helpers.ts';
import { NetworkClient, readNetworkManifest, startNetwork } from '../src/index.ts';

const logger = pino({ level: 'silent' });

describe('startNetwork', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('starts every organisation on its ports over HTTPS, writes network.json, and closes them all', {
    timeout: 120_000,
  }, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'ehmi-net-start-'));
    dirs.push(dataDir);
    const portBase = await freePortBase();
    const net = await startNetwork({ dataDir, portBase, logger, base: { log: { level: 'silent' } } });
    try {
      assert.deepEqual(Object.keys(net.nodes), ['municipality', 'gp', 'hospital']);
      assert.deepEqual(readNetworkManifest(dataDir), net.manifest);
      const ca = readFileSync(net.manifest.trustAnchor, 'utf8');
      const anonymous = new Agent({ connect: { ca } });
      const client = NetworkClient.open(dataDir);
      for (const o of net.manifest.organisations) {
        const node = net.nodes[o.name]!;
        assert.equal(node.urls.msh, o.msh);
        assert.equal(node.urls.ap, o.ap);
        assert.equal(node.store.engine, 'sqlite');
        // The servers' certificates chain to the network's root CA (undici verifies them against it).
        for (const url of [o.msh, o.ap]) {
          const r = await request(`${url}/health`, { dispatcher: anonymous });
          assert.equal(r.statusCode, 200, url);
          await r.body.dump();
        }
        // The MSH asks for the EUA's client certificate (mTLS): none → 401.
        const r = await request(`${o.msh}/inbox`, { dispatcher: anonymous });
        assert.equal(r.statusCode, 401);
        await r.body.dump();
        // With the certificate and no access token: 401, asking for a token (RFC 6750 §3).
        const eua = new Agent({
          connect: { ca, cert: readFileSync(o.tls.cert), key: readFileSync(o.tls.key) },
        });
        const noToken = await request(`${o.msh}/inbox`, { dispatcher: eua });
        assert.equal(noToken.statusCode, 401);
        assert.match(String(noToken.headers['www-authenticate']), /^Bearer/);
        await noToken.body.dump();
        await eua.close();
        // The EUA's client gets its token from the central node's authorization server.
        const ok = await client.call(o.name, 'GET', '/inbox');
        assert.equal(ok.status, 200, ok.text);
        assert.deepEqual(ok.json, []);
      }
      await anonymous.close();
      await client.close();
    } finally {
      await net.close();
    }
    // Every port is free again.
    for (const o of net.manifest.organisations) {
      for (const url of [o.msh, o.ap]) {
        await assert.rejects(
          request(`${url}/health`, { dispatcher: new Agent({ connect: { timeout: 1000 } }) }),
        );
      }
    }
  });

  it('a port in use fails the start with EHMI_CONFIG_INVALID naming it, and leaves nothing running', {
    timeout: 120_000,
  }, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'ehmi-net-busy-'));
    dirs.push(dataDir);
    const portBase = await freePortBase();
    // Whatever takes the port: it accepts connections and never answers (the console's sampler may have connected
    // to it as the gp's AP before the start failed); closed with the connections it holds.
    const held: Socket[] = [];
    const busy: Server = createServer((socket) => {
      socket.on('error', () => {});
      held.push(socket);
    });
    await new Promise<void>((resolve) => busy.listen(portBase + 14, '127.0.0.1', () => resolve()));
    try {
      await assert.rejects(
        startNetwork({ dataDir, portBase, logger, base: { log: { level: 'silent' } } }),
        (e: unknown) =>
          e instanceof EhmiError &&
          e.code === 'EHMI_CONFIG_INVALID' &&
          e.message.includes(`port ${portBase + 14}`),
      );
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => busy.close(() => resolve()));
    }
    // The organisations that did start were closed again: the whole network can start now.
    const net = await startNetwork({ dataDir, portBase, logger, base: { log: { level: 'silent' } } });
    await net.close();
  });
});
