// A console in front of a running local network without the console role's sign-in: the built pages and the real
// data routes (`@ehmi/server` console/api), with a fixed user and `callApi` going through the network's own clients
// (an organisation's MSH as its EUA, EER and /metrics as the network's operator). For looking at the pages while
// developing (`node --import tsx packages/console/test/preview.ts [dataDir]` after `ehmi up`), and for the browser
// test when the network has no console service.
import { readFileSync } from 'node:fs';
import type { NetworkClient } from '@ehmi/network';
import Fastify from 'fastify';
import { Agent, request } from 'undici';
import { registerConsoleApi } from '../../server/src/console/api/index.ts';
import type { ConsoleUser } from '../../server/src/console/session.ts';
import { CONSOLE_CSP, DEFAULT_STATIC_DIR, registerStatic } from '../../server/src/console/static.ts';

export const PREVIEW_USER: ConsoleUser = {
  subject: 'preview',
  name: 'Preview operator',
  // It calls each MSH as that organisation's EUA: an operator of every organisation, who may also act.
  roles: ['network-operator', 'org-operator'],
  patientData: true,
};

/** The services the console names (`console.services`), from network.json. */
export function servicesOf(client: NetworkClient): Record<string, string> {
  const m = client.manifest;
  const services: Record<string, string> = {};
  for (const [name, url] of Object.entries(m.services)) {
    if (name === 'node') services['node:central'] = url;
    else if (['eer', 'eas', 'smp', 'eds', 'auth'].includes(name)) services[name] = url;
  }
  for (const o of m.organisations) {
    services[`msh:${o.name}`] = o.msh;
    services[`ap:${o.name}`] = o.ap;
    if (o.node) services[`node:${o.name}`] = o.node;
  }
  return services;
}

export async function startPreviewConsole(
  client: NetworkClient,
  options: { port?: number; user?: ConsoleUser } = {},
): Promise<{ url: string; close: () => Promise<void> }> {
  const services = servicesOf(client);
  const user = options.user ?? PREVIEW_USER;
  const ca = readFileSync(client.manifest.trustAnchor, 'utf8');
  const anonymous = new Agent({ connect: { ca } });
  const callApi = async (service: string, path: string, init: RequestInit = {}): Promise<Response> => {
    const base = services[service];
    if (!base) throw new Error(`unknown service ${service}`);
    const method = (init.method ?? 'GET') as 'GET' | 'POST' | 'DELETE';
    const headers = new Headers(init.headers);
    const accept = headers.get('accept') ?? 'application/fhir+json, application/json';
    let res: { status: number; text: string; headers: Record<string, string | string[] | undefined> };
    if (service.startsWith('msh:')) {
      const body = init.body ? { bytes: String(init.body), contentType: 'application/json' } : undefined;
      res = await client.call(service.slice(4), method, path, body, accept);
    } else if (service === 'eer') {
      res = await client.readRegister(path, accept);
    } else if (path === '/metrics') {
      res = await client.metrics(base);
    } else {
      const r = await request(`${base}${path}`, { method, dispatcher: anonymous, headers: { accept } });
      res = { status: r.statusCode, text: await r.body.text(), headers: r.headers };
    }
    const type = res.headers['content-type'];
    return new Response(res.status === 204 ? null : res.text, {
      status: res.status,
      headers: typeof type === 'string' ? { 'content-type': type } : {},
    });
  };

  const app = Fastify({ logger: false });
  app.addHook('onSend', async (_request, reply) => {
    reply.header('content-security-policy', CONSOLE_CSP);
  });
  await app.register(
    async (api) => {
      api.decorateRequest('consoleUser', undefined);
      api.decorateRequest('callApi', undefined as never);
      api.addHook('onRequest', async (req) => {
        req.consoleUser = user;
        req.callApi = callApi;
      });
      api.get('/session', async () => ({ user }));
      await registerConsoleApi(api, { services, logger: app.log as never });
    },
    { prefix: '/api' },
  );
  app.post('/auth/logout', async (_req, reply) => reply.status(204).send());
  await registerStatic(app, DEFAULT_STATIC_DIR);
  const url = await app.listen({ port: options.port ?? 0, host: '127.0.0.1' });
  return {
    url,
    close: async () => {
      await app.close();
      await anonymous.close();
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { NetworkClient } = await import('@ehmi/network');
  const client = NetworkClient.open(process.argv[2] ?? '.ehmi');
  const preview = await startPreviewConsole(client, { port: Number(process.env.PORT ?? 0) });
  console.log(`console preview at ${preview.url}`);
}
