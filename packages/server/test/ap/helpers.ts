import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Credential, createCertificateAuthority, issueCertificate, type Purpose } from '@ehmi/pki';
import pino from 'pino';
import { Agent, request } from 'undici';
import { type AccessPoint, createAccessPoint } from '../../src/ap/index.ts';
import { apRole } from '../../src/ap/role.ts';
import type {
  ByteSource,
  InboundEnvelope,
  MshBackend,
  OutboundOutcome,
  ReceiverDiscovery,
} from '../../src/contract.ts';
import { roleContext } from '../../src/node.ts';
import type { NodeTables } from '../../src/role-list.ts';
import { type ConfigInput, loadConfig } from '../../src/role-list.ts';
import { JobQueue, type Store } from '../../src/store/index.ts';

export const GLN_A = '5790000000001';
export const GLN_B = '5790000000002';
export const PROCESS = 'sdn-emergence';
export const DOCUMENT_TYPE =
  'urn:dk:healthcare:medcom:messaging:fhir:structuredefinition::homecareobservation-message##urn:dk:medcom:fhir:homecareobservation-message::1.2';

/** A test PKI: one root CA for everything, and a second CA nobody trusts. */
export interface TestPki {
  dir: string;
  root: Credential;
  rootFile: string;
  other: Credential;
}

export interface ApCredentials {
  signing: Credential;
  tls: Credential;
  files: { signingCert: string; signingKey: string; tlsCert: string; tlsKey: string };
}

export async function createPki(dir: string): Promise<TestPki> {
  const root = await createCertificateAuthority({ subject: 'CN=EHMI Test Root CA, O=EHMI test, C=DK' });
  const other = await createCertificateAuthority({ subject: 'CN=Some Other CA, O=Elsewhere, C=DK' });
  const rootFile = join(dir, 'root-ca.pem');
  await writeFile(rootFile, root.certificatePem);
  return { dir, root, rootFile, other };
}

/**
 * Credentials for `name`: an AS4 certificate (by default the old 'signing' + 'encryption' purposes; `purposes`,
 * `ca` and `crlDistributionPoint` to test other ones) and a TLS certificate. The file names are what the register
 * of the test parties reads for `a` and `b` (see `testRegister`).
 */
export async function issueApCredentials(
  pki: TestPki,
  name: string,
  options: { ca?: Credential; purposes?: Purpose[]; crlDistributionPoint?: string } = {},
): Promise<ApCredentials> {
  const signing = await issueCertificate(options.ca ?? pki.root, {
    subject: `CN=ap.${name}, O=${name}, C=DK`,
    purposes: options.purposes ?? ['signing', 'encryption'],
    ...(options.crlDistributionPoint ? { crlDistributionPoint: options.crlDistributionPoint } : {}),
  });
  const tls = await issueCertificate(pki.root, {
    subject: `CN=${name}.localhost, O=${name}, C=DK`,
    purposes: ['tls-server', 'tls-client'],
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
  });
  const files = {
    signingCert: join(pki.dir, `${name}-signing.pem`),
    signingKey: join(pki.dir, `${name}-signing.key`),
    tlsCert: join(pki.dir, `${name}-tls.pem`),
    tlsKey: join(pki.dir, `${name}-tls.key`),
  };
  await writeFile(files.signingCert, signing.certificatePem);
  await writeFile(files.signingKey, signing.privateKeyPem);
  await writeFile(files.tlsCert, tls.certificatePem);
  await writeFile(files.tlsKey, tls.privateKeyPem);
  return { signing, tls, files };
}

/** What a recording MSH saw: every deliver call (with the bytes' hash, and the bytes when small) and outcome. */
export interface Delivered extends Omit<InboundEnvelope, 'envelope'> {
  sha256: string;
  size: number;
  bytes: Buffer | undefined;
}

/** A test MSH (the other side of the contract): records, de-duplicates on the AS4 MessageId as the contract says. */
export class RecordingBackend implements MshBackend {
  readonly calls: Delivered[] = [];
  readonly delivered = new Map<string, Delivered>();
  readonly outcomes: OutboundOutcome[] = [];
  /** While set, deliver fails as an MSH that is down would. */
  unavailable = false;

  async deliver(inbound: InboundEnvelope): Promise<void> {
    if (this.unavailable) throw new Error('the MSH is down (test)');
    const hash = createHash('sha256');
    const small: Buffer[] = [];
    let size = 0;
    for await (const chunk of inbound.envelope.open()) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).byteLength;
      if (size <= 1024 * 1024) small.push(chunk as Buffer);
    }
    const { envelope: _e, ...rest } = inbound;
    const d: Delivered = {
      ...rest,
      sha256: hash.digest('hex'),
      size,
      bytes: size <= 1024 * 1024 ? Buffer.concat(small) : undefined,
    };
    this.calls.push(d);
    if (!this.delivered.has(inbound.as4MessageId)) this.delivered.set(inbound.as4MessageId, d);
  }

  async outcome(outcome: OutboundOutcome): Promise<void> {
    this.outcomes.push(outcome);
  }
}

export { freePort } from '../helpers/ports.ts';

export interface StartOptions {
  store: Store<NodeTables>;
  dataDir: string;
  pki: TestPki;
  gln: string;
  creds: ApCredentials;
  backend: MshBackend;
  discovery?: ReceiverDiscovery;
  ap?: ConfigInput['ap'];
  /** The AP's clock (default: real time). */
  now?: () => number;
  /** More node settings (`insecure`, `revocation`, …). */
  node?: Omit<ConfigInput, 'ap'>;
}

/** A clock for an access point under test: it moves only when the test moves it. */
export class TestClock {
  #t: number;
  constructor(start = Date.now()) {
    this.#t = start;
  }
  readonly now = (): number => this.#t;
  set(t: number): void {
    this.#t = t;
  }
  advance(ms: number): void {
    this.#t += ms;
  }
}

/**
 * Lets `ap` run everything it has queued, moving `clock` to each retry's due time instead of waiting for it, until
 * no job waits (or `steps` retries were made due: a guard against an endless retry).
 */
export async function runToEnd(ap: AccessPoint, clock: TestClock, steps = 100): Promise<void> {
  for (let i = 0; i < steps; i++) {
    const { next } = await ap.idle();
    if (next === undefined) return;
    clock.set(Math.max(clock.now(), next));
  }
  throw new Error(`runToEnd: still retrying after ${steps} steps`);
}

/**
 * The register of the test parties as a static discovery map: A and B with the AS4 certificates issued for them
 * (`issueApCredentials(pki, 'a' | 'b')`). A receiving AP checks a sender's signature against it; a sender's own
 * map entry for its receiver (with the receiver's real URL) replaces the placeholder address.
 */
function testRegister(pki: TestPki): Record<string, { url: string; certificate: string }> {
  const register: Record<string, { url: string; certificate: string }> = {};
  for (const [name, gln] of [
    ['a', GLN_A],
    ['b', GLN_B],
  ] as const) {
    const certificate = join(pki.dir, `${name}-signing.pem`);
    if (existsSync(certificate))
      register[`0088:${gln}`] = { url: `https://${name}.invalid/as4`, certificate };
  }
  return register;
}

/** An access point on loopback over HTTPS, as the node would create it, with quick timers for tests. */
export async function startAp(options: StartOptions): Promise<AccessPoint> {
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir: options.dataDir,
      organisation: { name: `org-${options.gln}`, gln: options.gln, sor: '1234' },
      tls: { cert: options.creds.files.tlsCert, key: options.creds.files.tlsKey, ca: [options.pki.rootFile] },
      queue: { pollIntervalMs: 600_000, leaseMs: 10_000, backoffBaseMs: 50, backoffMaxMs: 200 },
      log: { level: 'silent' },
      ...options.node,
      ap: {
        enabled: true,
        port: 0,
        signing: { cert: options.creds.files.signingCert, key: options.creds.files.signingKey },
        trustAnchors: [options.pki.rootFile],
        requireClientCertificate: true,
        ...options.ap,
        discovery: {
          ...options.ap?.discovery,
          static: { ...testRegister(options.pki), ...options.ap?.discovery?.static },
        },
        send: {
          maxAttempts: 5,
          backoffBaseMs: 50,
          backoffMaxMs: 200,
          timeoutMs: 120_000,
          ...options.ap?.send,
        },
        handover: { backoffBaseMs: 50, backoffMaxMs: 200, ...options.ap?.handover },
      },
    },
  });
  const queue = new JobQueue(options.store, {
    leaseMs: config.queue.leaseMs,
    maxAttempts: config.queue.maxAttempts,
    backoffBaseMs: config.queue.backoffBaseMs,
    backoffMaxMs: config.queue.backoffMaxMs,
  });
  const ctx = roleContext(apRole, {
    config,
    store: options.store,
    queue,
    logger: pino({ level: process.env.EHMI_TEST_LOG ?? 'silent' }),
    tls: {
      cert: options.creds.tls.certificatePem,
      key: options.creds.tls.privateKeyPem,
      ca: [options.pki.root.certificatePem],
    },
  });
  const ap = await createAccessPoint(ctx, {
    backend: options.backend,
    ...(options.discovery ? { discovery: options.discovery } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  await ap.start();
  return ap;
}

export interface PairOptions {
  pki: TestPki;
  /** Sender A's and receiver B's stores (B's is used only when B is started). */
  a: { store: Store<NodeTables>; dataDir: string; creds: ApCredentials };
  b: { store: Store<NodeTables>; dataDir: string; creds: ApCredentials };
  /** Where A's static discovery sends B's messages; default B's own URL. */
  bUrl?: string;
  /** More `ap` configuration of the sender A (its discovery map to B is set here). */
  aAp?: ConfigInput['ap'];
  /** Start receiver B (default true); false to test a receiver that is down. */
  startB?: boolean;
  /** The clock of both access points (default: real time). */
  now?: () => number;
}

/** Receiver B, then sender A whose static discovery map points at B (or at `bUrl`), each with a recording MSH. */
export async function startApPair(options: PairOptions): Promise<{
  a: AccessPoint;
  b: AccessPoint | undefined;
  backendA: RecordingBackend;
  backendB: RecordingBackend;
}> {
  const backendA = new RecordingBackend();
  const backendB = new RecordingBackend();
  const b =
    options.startB === false
      ? undefined
      : await startAp({
          ...options.b,
          pki: options.pki,
          gln: GLN_B,
          backend: backendB,
          ...(options.now ? { now: options.now } : {}),
        });
  const url = options.bUrl ?? b?.as4Url;
  if (!url) throw new Error('startApPair: bUrl is needed when B is not started');
  const a = await startAp({
    ...options.a,
    pki: options.pki,
    gln: GLN_A,
    backend: backendA,
    ...(options.now ? { now: options.now } : {}),
    ap: {
      ...options.aAp,
      discovery: {
        static: { [`0088:${GLN_B}`]: { url, certificate: options.b.creds.files.signingCert } },
      },
    },
  });
  return { a, b, backendA, backendB };
}

export async function waitFor<T>(
  what: string,
  fn: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

export function bytes(content: Buffer | string): ByteSource {
  const b = Buffer.from(content);
  return { size: b.length, open: () => Readable.from([b]) };
}

/** A TLS client for posting raw AS4 bodies to an access point (trusts the root, presents a client certificate). */
export function testClient(pki: TestPki, creds: ApCredentials): Agent {
  return new Agent({
    connect: { ca: [pki.root.certificatePem], cert: creds.tls.certificatePem, key: creds.tls.privateKeyPem },
  });
}

export async function post(
  dispatcher: Agent,
  url: string,
  contentType: string,
  body: Buffer,
): Promise<{ status: number; contentType: string; body: string }> {
  const res = await request(url, {
    method: 'POST',
    dispatcher,
    headers: { 'content-type': contentType },
    body,
  });
  return {
    status: res.statusCode,
    contentType: String(res.headers['content-type'] ?? ''),
    body: await res.body.text(),
  };
}

export async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

/** The ebMS error code in an error signal response, if any. */
export function ebmsCodeIn(xml: string): string | undefined {
  return /errorCode="(EBMS:\d{4})"/.exec(xml)?.[1];
}
