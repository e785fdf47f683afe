import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EhmiError } from '@ehmi/errors';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { createHttpServer } from '../../src/http/index.ts';

describe('HTTP server basics', () => {
  let app: FastifyInstance;
  let base: string;
  let ready = true;

  before(async () => {
    app = await createHttpServer({
      service: 'test',
      logger: pino({ level: 'silent' }),
      bodyLimitBytes: 1024,
      readiness: async () => {
        if (!ready) throw new Error('database not reachable');
      },
      metricsAccess: async (request) => {
        if (request.headers['x-operator'] !== 'yes') {
          throw new EhmiError('EHMI_FORBIDDEN', 'the operator only');
        }
      },
    });
    app.post('/echo', async (request) => request.body);
    app.get('/refuse', async () => {
      throw new EhmiError('EHMI_VALIDATION_FAILED', 'MessageHeader must be first', {
        expression: ['Bundle.entry[0]'],
      });
    });
    app.get('/bug', async () => {
      throw new TypeError('x is undefined');
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  after(async () => {
    await app?.close();
  });

  it('answers /health with 200 when ready and 503 with the reason when not', async () => {
    const ok = await fetch(`${base}/health`);
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { status: 'ok', service: 'test' });
    ready = false;
    const down = await fetch(`${base}/health`);
    ready = true;
    assert.equal(down.status, 503);
    assert.equal(((await down.json()) as { reason: string }).reason, 'database not reachable');
  });

  it('serves Prometheus metrics including request counts, to whom metricsAccess lets through', async () => {
    await fetch(`${base}/health`);
    const refused = await fetch(`${base}/metrics`);
    assert.equal(refused.status, 403);
    assert.match(await refused.text(), /the operator only/);
    const res = await fetch(`${base}/metrics`, { headers: { 'x-operator': 'yes' } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    assert.match(
      text,
      /ehmi_http_requests_total\{method="GET",route="\/health",status="200",service="test"\} \d+/,
    );
    assert.match(text, /process_cpu_seconds_total/);
  });

  it('answers an EhmiError with its status and a FHIR OperationOutcome', async () => {
    const res = await fetch(`${base}/refuse`);
    assert.equal(res.status, 422);
    assert.match(res.headers.get('content-type') ?? '', /application\/fhir\+json/);
    const oo = (await res.json()) as { resourceType: string; issue: { expression: string[] }[] };
    assert.equal(oo.resourceType, 'OperationOutcome');
    assert.deepEqual(oo.issue[0]?.expression, ['Bundle.entry[0]']);
  });

  it('answers an unexpected error with 500 and no internal detail', async () => {
    const res = await fetch(`${base}/bug`);
    assert.equal(res.status, 500);
    assert.doesNotMatch(await res.text(), /undefined/);
  });

  it('answers an unknown route with 404 OperationOutcome', async () => {
    const res = await fetch(`${base}/nowhere`);
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { resourceType: string }).resourceType, 'OperationOutcome');
  });

  it('refuses a body one byte over the limit with 413 and accepts one at the limit', async () => {
    const at = JSON.stringify({ p: 'x'.repeat(1024 - 8) });
    assert.equal(at.length, 1024);
    const ok = await fetch(`${base}/echo`, {
      method: 'POST',
      body: at,
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(ok.status, 200);
    const over = JSON.stringify({ p: 'x'.repeat(1024 - 7) });
    const res = await fetch(`${base}/echo`, {
      method: 'POST',
      body: over,
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(res.status, 413);
    const oo = (await res.json()) as { issue: { details: { coding: { code: string }[] } }[] };
    assert.equal(oo.issue[0]?.details.coding[0]?.code, 'EHMI_TOO_LARGE');
  });

  it('refuses JSON that tries prototype poisoning with 400', async () => {
    const res = await fetch(`${base}/echo`, {
      method: 'POST',
      body: '{"__proto__":{"admin":true}}',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(res.status, 400);
  });

  it('refuses an unsupported content type with 415', async () => {
    const res = await fetch(`${base}/echo`, {
      method: 'POST',
      body: 'x',
      headers: { 'content-type': 'image/png' },
    });
    assert.equal(res.status, 415);
  });
});
