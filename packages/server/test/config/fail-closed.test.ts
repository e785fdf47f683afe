// Fail closed: a role that serves an API to clients (EER, EAS, the SMP's admin API; the MSH's in
// msh/identity.test.ts) refuses to start without the node's `authorization`; the `insecure` development switch
// starts it and says so once.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { startNode } from '../../src/node.ts';
import { type ConfigInput, loadConfig } from '../../src/role-list.ts';
import { type SmpTestPki, smpTestPki, TOKEN } from '../smp/helpers.ts';

describe('fail closed: the roles that serve APIs need authorization', () => {
  let pki: SmpTestPki;
  let dataDir: string;
  before(async () => {
    pki = await smpTestPki();
    dataDir = await mkdtemp(join(tmpdir(), 'ehmi-fail-closed-'));
  });
  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  const roles: Record<string, () => ConfigInput> = {
    eer: () => ({ eer: { enabled: true, port: 0 } }),
    eas: () => ({ eas: { enabled: true, port: 0, adminToken: 'eas-admin-token-0123456789' } }),
    smp: () => ({
      smp: {
        enabled: true,
        port: 0,
        signing: { cert: join(pki.dir, 'smp.pem'), key: join(pki.dir, 'smp.key') },
        adminToken: TOKEN,
      },
    }),
  };

  for (const [role, section] of Object.entries(roles)) {
    const config = (insecure: boolean) =>
      loadConfig({
        env: {},
        overrides: {
          ...section(),
          dataDir: join(dataDir, `${role}-${insecure}`),
          http: { port: 0 },
          insecure,
        },
      });

    it(`${role}: without authorization the node refuses to start (EHMI_CONFIG_INVALID naming authorization)`, async () => {
      await assert.rejects(startNode(config(false), pino({ level: 'silent' })), (err: Error) => {
        assert.equal((err as { code?: string }).code, 'EHMI_CONFIG_INVALID');
        assert.match(err.message, /^authorization: the \w+ role serves .* access token/);
        assert.match(err.message, /insecure: true for development only/);
        return true;
      });
    });

    it(`${role}: under insecure it starts without authorization and warns once (INSECURE)`, async () => {
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
      const node = await startNode(config(true), logger);
      try {
        const insecure = lines.filter((l) => /INSECURE/.test(l) && new RegExp(`"role":"${role}"`).test(l));
        assert.equal(insecure.length, 1, lines.join(''));
        assert.match(insecure[0]!, /without (access tokens|client authentication)/);
      } finally {
        await node.close();
      }
    });
  }
});
