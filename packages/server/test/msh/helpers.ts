import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { EhmiError } from '@ehmi/errors';
import { buildHomeCareObservationMessage, type HomeCareObservationInput } from '@ehmi/fhir';
import { type Credential, createCertificateAuthority, issueCertificate } from '@ehmi/pki';
import type { EdsSearch } from '@ehmi/sbdh';
import pino from 'pino';
import { Agent, fetch as undiciFetch } from 'undici';
import type { AuditLog } from '../../src/audit/log.ts';
import type {
  AccessPointGateway,
  MshBackend,
  OutboundSubmission,
  ReceiverCheck,
  SubmissionAccepted,
} from '../../src/contract.ts';
import type { MshConfig } from '../../src/msh/config.ts';
import { createMsh, type MessageServiceHandler } from '../../src/msh/index.ts';
import { mshRole } from '../../src/msh/role.ts';
import type { MshTables } from '../../src/msh/tables.ts';
import { roleContext } from '../../src/node.ts';
import { type ConfigInput, configSchema } from '../../src/role-list.ts';
import type { RoleContext } from '../../src/roles.ts';
import { JobQueue } from '../../src/store/index.ts';
import { testAudit } from '../audit/helpers.ts';
import type { EngineCase, TestStore } from '../helpers/engines.ts';

/** The municipal acute team (the prøvesvar sender) and the GP practice, as in MedCom's example 401cbc36. */
export const ORG_A = { name: 'acute-team', gln: '5790000123117', sor: '1144561000016002' };
export const ORG_B = { name: 'gp', gln: '5790000127092', sor: '52581000016005' };

export function homecareInput(): HomeCareObservationInput {
  return {
    sender: { sor: ORG_A.sor, gln: ORG_A.gln, name: 'Pleje og Rehabilitering' },
    receiver: {
      sor: ORG_B.sor,
      gln: ORG_B.gln,
      ydernummer: '061654',
      name: 'Skødstrup Lægepraksis',
      requesterInitials: 'O.K.M.',
    },
    patient: { cpr: '2509479989', family: 'Elmer', given: ['Bruno'] },
    practitioner: { given: ['Mia'], phone: '+45 05577668' },
    observations: [
      {
        code: 'NPU19748',
        display: 'P—C-reaktivt protein; massek. = ? mg/L',
        value: { quantity: 26, unit: 'mg/L', ucum: 'mg/L' },
        effective: '2026-11-25T10:24:08+01:00',
      },
    ],
    conclusion: 'ABCDE: stabil.',
  };
}

// biome-ignore lint/suspicious/noExplicitAny: FHIR JSON read by tests
export type Json = Record<string, any>;

/** A new prøvesvar from A to B (new Bundle.id and MessageHeader.id each call). */
export function homecare(): Json {
  return buildHomeCareObservationMessage(homecareInput()) as unknown as Json;
}

export interface TestPki {
  dir: string;
  ca: Credential;
  caPem: string;
  caFile: string;
  orgs: Record<'a' | 'b', Credential & { certFile: string; keyFile: string }>;
  /** A client certificate from a CA the MSHs do not trust. */
  stranger: Credential;
}

export async function testPki(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'ehmi-msh-pki-'));
  const ca = await createCertificateAuthority({ subject: 'CN=MSH Test Root, O=EHMI, C=DK' });
  const other = await createCertificateAuthority({ subject: 'CN=Stranger Root, O=Elsewhere, C=DK' });
  const caFile = join(dir, 'ca.pem');
  await writeFile(caFile, ca.certificatePem);
  const orgs = {} as TestPki['orgs'];
  for (const [k, org] of [
    ['a', ORG_A],
    ['b', ORG_B],
  ] as const) {
    const cred = await issueCertificate(ca, {
      subject: `CN=${org.name}, O=EHMI test, C=DK`,
      purposes: ['tls-server', 'tls-client'],
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
    });
    const certFile = join(dir, `${k}.crt`);
    const keyFile = join(dir, `${k}.key`);
    await writeFile(certFile, cred.certificatePem);
    await writeFile(keyFile, cred.privateKeyPem);
    orgs[k] = { ...cred, certFile, keyFile };
  }
  const stranger = await issueCertificate(other, {
    subject: 'CN=stranger, O=Elsewhere, C=DK',
    purposes: ['tls-client'],
  });
  return { dir, ca, caPem: ca.certificatePem, caFile, orgs, stranger };
}

export interface SentEnvelope {
  submission: OutboundSubmission;
  bytes: Buffer;
  as4MessageId: string;
}

/**
 * The other side of the MSH↔AP contract for MSH unit tests: an in-memory "access point" that hands each submitted
 * envelope straight to the receiving MSH's `deliver`, then reports `sent` to its own MSH. Real AP-to-AP tests are
 * the network's.
 */
export class LoopbackAp implements AccessPointGateway {
  readonly peers = new Map<string, MshBackend>();
  own: MshBackend | undefined;
  readonly sent: SentEnvelope[] = [];
  readonly errors: unknown[] = [];
  /** Accept and report `sent`, but never deliver, what this returns true for. */
  drop: ((s: OutboundSubmission) => boolean) | undefined;
  /** Change the envelope on the way (a broken envelope for a ReceiptException). */
  tamper: ((bytes: Buffer, s: OutboundSubmission) => Buffer) | undefined;
  /** The sender the receiving AP authenticated (AS4 originalSender), when it is not the submission's. */
  claim: ((s: OutboundSubmission) => string) | undefined;
  /** Receivers the loopback's "register" does not serve: `checkReceiver` answers not registered. */
  readonly unregistered = new Set<string>();
  /** Discovery cannot be had: `checkReceiver` throws EHMI_SMP_LOOKUP_FAILED, as an AP whose SMP is down. */
  discoveryDown = false;
  /** Every `checkReceiver` call, in order. */
  readonly checks: { receiver: string; documentType: string; process: string }[] = [];
  readonly #accepted = new Map<string, SubmissionAccepted>();
  readonly #pending = new Set<Promise<void>>();

  async checkReceiver(receiver: string, documentType: string, process: string): Promise<ReceiverCheck> {
    this.checks.push({ receiver, documentType, process });
    if (this.discoveryDown) throw new EhmiError('EHMI_SMP_LOOKUP_FAILED', 'the SMP does not answer');
    if (this.unregistered.has(receiver)) {
      return { registered: false, reason: `participant ${receiver} is not registered in the SMP` };
    }
    return { registered: true, endpointUrl: `loopback:${receiver}` };
  }

  async submit(s: OutboundSubmission): Promise<SubmissionAccepted> {
    const known = this.#accepted.get(s.submissionId);
    if (known) return known;
    const accepted = { submissionId: s.submissionId, as4MessageId: `${randomUUID()}@loopback.test` };
    const chunks: Buffer[] = [];
    for await (const c of s.envelope.open()) chunks.push(c as Buffer);
    let bytes: Buffer = Buffer.concat(chunks);
    this.#accepted.set(s.submissionId, accepted);
    this.sent.push({ submission: s, bytes, as4MessageId: accepted.as4MessageId });
    if (this.tamper) bytes = this.tamper(bytes, s);
    const drop = this.drop?.(s) ?? false;
    const work = (async () => {
      await new Promise((r) => setImmediate(r));
      const peer = this.peers.get(s.receiver);
      if (!peer) {
        await this.own?.outcome({
          ...accepted,
          status: 'failed',
          at: Date.now(),
          ebmsCode: 'EBMS:0301',
          reason: `no route to ${s.receiver}`,
        });
        return;
      }
      const sender = this.claim?.(s) ?? s.sender;
      if (!drop) await this.deliverTo(peer, { ...s, sender }, bytes, accepted.as4MessageId);
      await this.own?.outcome({
        ...accepted,
        status: 'sent',
        at: Date.now(),
        endpointUrl: `loopback:${s.receiver}`,
      });
    })().catch((err) => {
      this.errors.push(err);
    });
    this.#pending.add(work);
    void work.finally(() => this.#pending.delete(work));
    return accepted;
  }

  deliverTo(
    peer: MshBackend,
    s: Pick<OutboundSubmission, 'sender' | 'receiver' | 'process' | 'documentType'>,
    bytes: Buffer,
    as4MessageId: string,
  ) {
    return peer.deliver({
      as4MessageId,
      sender: s.sender,
      receiver: s.receiver,
      process: s.process,
      documentType: s.documentType,
      receivedAt: Date.now(),
      envelope: { size: bytes.length, open: () => Readable.from([bytes]) },
    });
  }

  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }
}

export interface Node {
  msh: MessageServiceHandler;
  /** The node's audit log, which the MSH's server records its calls in. */
  audit: AuditLog;
  ap: LoopbackAp;
  test: TestStore;
  ctx: RoleContext<MshConfig, MshTables>;
  /** fetch with this organisation's client certificate. */
  fetch: typeof undiciFetch;
  url: string;
}

export function clientFetch(pki: TestPki, cred: Credential | undefined): typeof undiciFetch {
  const agent = new Agent({
    connect: { ca: pki.caPem, ...(cred ? { cert: cred.certificatePem, key: cred.privateKeyPem } : {}) },
  });
  return ((input: Parameters<typeof undiciFetch>[0], init: Parameters<typeof undiciFetch>[1] = {}) =>
    undiciFetch(input, { ...init, dispatcher: agent })) as typeof undiciFetch;
}

export async function startNode(
  engine: EngineCase,
  pki: TestPki,
  which: 'a' | 'b',
  msh: NonNullable<ConfigInput['msh']> = {},
  /** EDS for the journey of a message (what the node's `deliveryStatus` gives the MSH). */
  eds?: { search: EdsSearch; due?: NonNullable<ConfigInput['deliveryStatus']>['due'] },
): Promise<Node> {
  const org = which === 'a' ? ORG_A : ORG_B;
  const test = await engine.open();
  const cred = pki.orgs[which];
  // mTLS alone, without access tokens: the insecure development switch (the tokens' tests are the network's).
  const config = configSchema.parse({
    dataDir: test.dataDir,
    insecure: true,
    organisation: org,
    tls: { cert: cred.certFile, key: cred.keyFile, ca: [pki.caFile] },
    msh: {
      enabled: true,
      port: 0,
      clientTrustAnchors: [pki.caFile],
      sweepIntervalMs: 3_600_000,
      ...msh,
    },
    queue: { pollIntervalMs: 50, backoffBaseMs: 20, backoffMaxMs: 200 },
    log: { level: 'silent' },
    ...(eds?.due ? { deliveryStatus: { due: eds.due } } : {}),
  });
  const queue = new JobQueue(test.store, {
    leaseMs: 30_000,
    maxAttempts: 5,
    backoffBaseMs: 20,
    backoffMaxMs: 200,
  });
  const audit = testAudit(test.store);
  const ctx = roleContext(mshRole, {
    config,
    store: test.store,
    queue,
    logger: pino({ level: process.env.EHMI_TEST_LOG ?? 'silent' }),
    tls: { key: cred.privateKeyPem, cert: cred.certificatePem, ca: [pki.caPem] },
    ...(eds ? { deliveryStatusSearch: eds.search } : {}),
    audit: audit.audit,
  });
  const ap = new LoopbackAp();
  const role = await createMsh(ctx, { accessPoint: ap });
  ap.own = role.backend;
  await role.start();
  return { msh: role, audit: audit.log, ap, test, ctx, fetch: clientFetch(pki, cred), url: role.url };
}

/**
 * Stop nodes that may send to one another: first none sends any more and what is on its way has arrived (a delivery
 * into a stopped node would write into a folder being removed), then each closes.
 */
export async function stopNode(...nodes: (Node | undefined)[]): Promise<void> {
  const running = nodes.filter((n): n is Node => n !== undefined);
  for (const node of running) node.ap.peers.clear();
  await Promise.all(running.map((node) => node.ap.idle()));
  for (const node of running) {
    await node.msh.close();
    await node.audit.close();
    await node.test.cleanup();
  }
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** Poll until `check` returns a value (not undefined/false), or fail after `ms`. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  ms = 15_000,
): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
