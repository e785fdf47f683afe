import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { type ReceiveContext, registerReceiveRoute } from '../../src/ap/receive.ts';
import { createHttpServer } from '../../src/http/index.ts';
import { assertOpenApiListsEveryRoute } from '../helpers/openapi.ts';

describe('access point OpenAPI', () => {
  it('lists the AS4 endpoints with the server routes, generated from their schemas', async () => {
    const app = await createHttpServer({
      service: 'ap',
      logger: pino({ level: 'silent' }),
      bodyLimitBytes: 1024,
      openapi: { title: 'EHMI access point (AS4)' },
      metricsAccess: async () => {},
    });
    // The routes only read the context when a message arrives; listing them needs none.
    registerReceiveRoute(app, {} as ReceiveContext);
    try {
      const res = await app.inject({ method: 'GET', url: '/openapi.json' });
      assert.equal(res.statusCode, 200);
      const doc = res.json() as { paths: Record<string, Record<string, { requestBody?: unknown }>> };
      assertOpenApiListsEveryRoute(app, doc);
      for (const path of ['/as4', '/']) assert.ok(doc.paths[path]?.post?.requestBody, path);
    } finally {
      await app.close();
    }
  });
});
