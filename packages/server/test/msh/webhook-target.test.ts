// What a webhook may point at, and when its next try comes: the checks without a server.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EhmiError } from '@ehmi/errors';
import { parseRetryAfter, WebhookAttemptFailed, webhookRetryDelay } from '../../src/msh/webhooks/send.ts';
import { checkWebhookUrl, isPublicAddress, publicOnlyLookup } from '../../src/msh/webhooks/target.ts';
import { configSchema } from '../../src/role-list.ts';

const closed = { allowPrivateTargets: false };
const refused = (pattern: RegExp) => (err: unknown) => {
  assert.ok(err instanceof EhmiError, String(err));
  assert.equal(err.code, 'EHMI_VALIDATION_FAILED');
  assert.match(err.message, pattern);
  return true;
};

describe('webhook targets (Standard Webhooks: HTTPS, no server-side request forgery)', () => {
  it('private targets are refused by default: msh.webhooks.allowPrivateTargets is off', () => {
    const config = configSchema.parse({});
    assert.equal(config.msh.webhooks.allowPrivateTargets, false);
  });

  it('refuses http:, other schemes, credentials and fragments, whatever the policy', async () => {
    for (const allowPrivateTargets of [false, true]) {
      const policy = { allowPrivateTargets, resolve: async () => ['93.184.216.34'] };
      await assert.rejects(
        checkWebhookUrl('http://eua.example/hooks', policy),
        refused(/HTTPS only, not http/),
      );
      await assert.rejects(checkWebhookUrl('ftp://eua.example/hooks', policy), refused(/HTTPS only/));
      await assert.rejects(checkWebhookUrl('/hooks', policy), refused(/not an absolute URL/));
      await assert.rejects(
        checkWebhookUrl('https://u:p@eua.example/', policy),
        refused(/user name or password/),
      );
      await assert.rejects(checkWebhookUrl('https://eua.example/#x', policy), refused(/fragment/));
    }
  });

  it('refuses loopback, private, link-local and mapped addresses, given or resolved; takes public ones', async () => {
    for (const url of [
      'https://127.0.0.1/',
      'https://127.1.2.3:8443/',
      'https://[::1]/',
      'https://10.0.0.8/',
      'https://172.16.4.4/',
      'https://192.168.1.1/',
      'https://169.254.169.254/latest/meta-data',
      'https://100.64.0.1/',
      'https://0.0.0.0/',
      'https://[fd00::1]/',
      'https://[fe80::1]/',
      'https://[::ffff:127.0.0.1]/',
      'https://[64:ff9b::a00:1]/',
    ]) {
      await assert.rejects(checkWebhookUrl(url, closed), refused(/not a public address/), url);
    }
    const resolving = (addresses: string[]) => ({
      allowPrivateTargets: false,
      resolve: async () => addresses,
    });
    await assert.rejects(
      checkWebhookUrl('https://eua.example/', resolving(['93.184.216.34', '10.1.1.1'])),
      refused(/eua\.example is at 10\.1\.1\.1, not a public address/),
    );
    await assert.rejects(checkWebhookUrl('https://eua.example/', resolving([])), refused(/has no address/));
    await assert.rejects(checkWebhookUrl('https://localhost:9443/hook', closed), refused(/localhost is at/));
    const ok = await checkWebhookUrl('https://eua.example:8443/hook?x=1', resolving(['93.184.216.34']));
    assert.equal(ok.href, 'https://eua.example:8443/hook?x=1');
    assert.equal((await checkWebhookUrl('https://93.184.216.34/h', closed)).hostname, '93.184.216.34');
    assert.equal(isPublicAddress('2a00:1450:4001:80b::200e'), true);
    assert.equal(isPublicAddress('not an address'), false);
  });

  it('with allowPrivateTargets (the local network) a loopback URL is taken', async () => {
    const url = await checkWebhookUrl('https://127.0.0.1:9443/hook', { allowPrivateTargets: true });
    assert.equal(url.port, '9443');
  });

  it("a delivery's connection refuses a name that resolves to a non-public address (DNS rebinding)", async () => {
    const err = await new Promise<Error | null>((resolve) =>
      publicOnlyLookup('localhost', { all: true }, (e) => resolve(e)),
    );
    assert.ok(err instanceof EhmiError);
    assert.match(err.message, /localhost is at .*not a public address/);
  });
});

describe('webhook retries', () => {
  const options = { backoffBaseMs: 1000, backoffMaxMs: 60_000 };

  it('back off exponentially with ±10% jitter, up to the maximum', () => {
    for (const [attempt, base] of [
      [1, 1000],
      [2, 2000],
      [4, 8000],
    ] as const) {
      const d = webhookRetryDelay(attempt, new Error('x'), options);
      assert.ok(d >= base * 0.9 && d <= base * 1.1, `try ${attempt}: ${d}`);
    }
    assert.ok(webhookRetryDelay(20, new Error('x'), options) <= 60_000);
  });

  it('honour Retry-After when it asks for later than the back-off, never past the maximum', () => {
    const asked = (ms: number) => new WebhookAttemptFailed('HTTP 503', 503, false, ms);
    assert.equal(webhookRetryDelay(1, asked(30_000), options), 30_000);
    assert.ok(webhookRetryDelay(1, asked(0), options) >= 900);
    assert.equal(webhookRetryDelay(1, asked(3_600_000), options), 60_000);
  });

  it('read Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-12-07T10:00:00Z');
    assert.equal(parseRetryAfter('120', now), 120_000);
    assert.equal(parseRetryAfter('Mon, 07 Dec 2026 10:00:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('Mon, 07 Dec 2026 09:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter('soon', now), undefined);
  });
});
