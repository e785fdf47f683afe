import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { engines, type TestStore } from '../helpers/engines.ts';
import {
  type ApCredentials,
  createPki,
  GLN_B,
  issueApCredentials,
  RecordingBackend,
  startAp,
  type TestPki,
} from './helpers.ts';

describe('access point configuration fails fast', () => {
  let dir: string;
  let pki: TestPki;
  let creds: ApCredentials;
  let store: TestStore;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ehmi-ap-config-'));
    pki = await createPki(dir);
    creds = await issueApCredentials(pki, 'b');
    store = await engines()[0]!.open();
  });
  after(async () => {
    await store.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  const start = (ap: Record<string, unknown>) =>
    startAp({
      store: store.store,
      dataDir: store.dataDir,
      pki,
      gln: GLN_B,
      creds,
      backend: new RecordingBackend(),
      ap: ap as never,
    });

  it('without trust anchors (a sender could not be authenticated)', async () => {
    await assert.rejects(start({ trustAnchors: [] }), {
      code: 'EHMI_CONFIG_INVALID',
      message: /trustAnchors/,
    });
  });

  it('without a signing key', async () => {
    await assert.rejects(start({ signing: undefined }), {
      code: 'EHMI_CONFIG_INVALID',
      message: /ap\.signing/,
    });
  });

  it('with a static discovery entry whose certificate file is missing', async () => {
    await assert.rejects(
      start({
        discovery: {
          static: {
            '0088:5790000000001': { url: 'https://127.0.0.1:1/as4', certificate: join(dir, 'nope.pem') },
          },
        },
      }),
      { code: 'EHMI_CONFIG_INVALID', message: /nope\.pem/ },
    );
  });

  it('with a duplicate cache shorter than the retry window (docs/architecture.md "Durability")', async () => {
    await assert.rejects(
      start({
        duplicateRetentionDays: 1,
        send: { maxAttempts: 100, backoffBaseMs: 3_600_000, backoffMaxMs: 3_600_000, timeoutMs: 1000 },
      }),
      { code: 'EHMI_CONFIG_INVALID', message: /duplicateRetentionDays/ },
    );
  });
});
