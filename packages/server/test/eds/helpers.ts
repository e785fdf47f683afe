import { readdirSync, readFileSync } from 'node:fs';
import pino from 'pino';
import { type Dispatcher, fetch } from 'undici';
import { createEdsRole, type EdsRole } from '../../src/eds/index.ts';
import { edsRole } from '../../src/eds/role.ts';
import { roleContext } from '../../src/node.ts';
import { type ConfigInput, loadConfig } from '../../src/role-list.ts';
import { JobQueue } from '../../src/store/index.ts';
import type { TestStore } from '../helpers/engines.ts';
import { FIXTURES } from '../helpers/fixtures.ts';

export const EDS_JSON = `${FIXTURES}eds/json/`;

export type Json = Record<string, unknown>;

export function edsFixture(name: string): Json {
  return JSON.parse(readFileSync(`${EDS_JSON}${name}`, 'utf8')) as Json;
}

/** The EDS IG's sample event of every step (EDS-PDS-01.1 … EDS-BDS-20.1), by file name. */
export function edsSamples(): { name: string; event: Json }[] {
  return readdirSync(EDS_JSON)
    .filter((f) => f.startsWith('AuditEvent-'))
    .sort()
    .map((name) => ({ name, event: edsFixture(name) }));
}

export interface RunningEds {
  role: EdsRole;
  url: string;
  close(): Promise<void>;
}

/**
 * Starts an EDS role on a store (port 0). Without `node.authorization` the node is `insecure` (EDS refuses to start
 * otherwise): tests not about tokens.
 */
export async function startEds(
  ts: TestStore,
  eds: NonNullable<ConfigInput['eds']> = {},
  tls?: { key: string; cert: string; ca: string[] },
  node: Omit<ConfigInput, 'eds'> = {},
  /** Before the server listens: hooks a test observes requests with. */
  prepare?: (role: EdsRole) => void,
): Promise<RunningEds> {
  const config = loadConfig({
    env: {},
    overrides: {
      ...(node.authorization ? {} : { insecure: true }),
      ...node,
      dataDir: ts.dataDir,
      eds: { enabled: true, port: 0, ...eds },
    },
  });
  const queue = new JobQueue(ts.store, {
    leaseMs: config.queue.leaseMs,
    maxAttempts: config.queue.maxAttempts,
    backoffBaseMs: config.queue.backoffBaseMs,
    backoffMaxMs: config.queue.backoffMaxMs,
  });
  const role = await createEdsRole(
    roleContext(edsRole, {
      config,
      store: ts.store,
      queue,
      logger: pino({ level: 'silent' }),
      ...(tls ? { tls } : {}),
    }),
  );
  prepare?.(role);
  await role.start();
  return { role, url: role.url, close: () => role.close() };
}

export interface Answer {
  status: number;
  headers: { get(name: string): string | null };
  body: Json;
  text: string;
}

/** A call to EDS in FHIR JSON (or with the headers given); the body parsed when it is JSON. */
export async function call(
  url: string,
  method = 'GET',
  body?: unknown,
  headers: Record<string, string> = {},
  dispatcher?: Dispatcher,
): Promise<Answer> {
  const res = await fetch(url, {
    method,
    headers: {
      accept: 'application/fhir+json',
      ...(body !== undefined ? { 'content-type': 'application/fhir+json' } : {}),
      ...headers,
    },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    ...(dispatcher ? { dispatcher } : {}),
  });
  const text = await res.text();
  let parsed: Json = {};
  if (text.startsWith('{')) parsed = JSON.parse(text) as Json;
  return { status: res.status, headers: res.headers, body: parsed, text };
}

/** The ids of a searchset Bundle's matches. */
export const matchIds = (bundle: Json): string[] =>
  ((bundle.entry as Json[] | undefined) ?? []).map((e) => String((e.resource as Json).id));

/** An event with its own message id (and recorded time), so each test's events are its own. */
export function withMessage(event: Json, messageId: string, recorded?: string): Json {
  const entity = ((event.entity as Json[]) ?? []).map((e) =>
    (e.type as Json).code === 'ehmiMessage' ? { ...e, what: { identifier: { value: messageId } } } : e,
  );
  const { id: _id, ...rest } = event;
  return { ...rest, entity, ...(recorded ? { recorded } : {}) };
}
