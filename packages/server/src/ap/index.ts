import { createPrivateKey, randomUUID, X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { type As4ProfileId, ByteBudget, resolveLimits } from '@ehmi/as4';
import { EhmiError, isEhmiError } from '@ehmi/errors';
import type { Kysely } from 'kysely';
import { Counter } from 'prom-client';
import {
  type AccessPointGateway,
  type Alongside,
  type MshBackend,
  type OutboundSubmission,
  type ReceiverCheck,
  type ReceiverDiscovery,
  runAlongside,
  type SubmissionAccepted,
} from '../contract.ts';
import { noReporter } from '../delivery-status/index.ts';
import { createHttpServer, listen, nodeAgent, timeoutsOf } from '../http/index.ts';
import { metricsAccess } from '../metrics-access.ts';
import { QUEUES } from '../path.ts';
import { organisationOf, type Role, type RoleContext, readPem } from '../roles.ts';
import {
  afterCommit,
  type BlobSource,
  columnsOf,
  earliestNext,
  fixedStatement,
  type IdleState,
  JobQueue,
  noteBlob,
  Worker,
} from '../store/index.ts';
import { requireClientCertificate } from '../trust.ts';
import type { ApConfig } from './config.ts';
import { FreshLookups } from './discovery.ts';
import { configuredDiscovery } from './discovery-config.ts';
import { EVIDENCE_OPENAPI_COMPONENTS, registerEvidenceRoutes } from './evidence-api.ts';
import { deliverHandler, outcomeHandler } from './handover.ts';
import { HeldEnvelopes } from './held.ts';
import type { SigningCredential } from './message.ts';
import { ping, pings } from './ping.ts';
import { registerReceiveRoute } from './receive.ts';
import { sweepRetention } from './retention.ts';
import { failOrphans, type SendContext, sendHandler, sendJobId } from './send.ts';
import type { ApOutboundTable, ApTables } from './tables.ts';
import { openInstanceTempDir } from './temp.ts';

const OUTBOUND_COLUMNS = columnsOf<ApOutboundTable>()([
  'submission_id',
  'as4_message_id',
  'status',
  'sender',
  'receiver',
  'document_type',
  'process',
  'tracking_identifier',
  'blob_hash',
  'blob_size',
  'attempts',
  'sent_references',
  'endpoint_url',
  'receipt',
  'ebms_code',
  'reason',
  'last_error',
  'created_at',
  'updated_at',
  'finished_at',
  'outcome_at',
  'eds_facts',
]);

/** A submission's outbound row, unless it has one (a job run twice), built once (store/fixed.ts). */
const INSERT_OUTBOUND = fixedStatement<(typeof OUTBOUND_COLUMNS)[number], { submission_id: string }>(
  OUTBOUND_COLUMNS,
  (db, p) =>
    (db as Kysely<ApTables>)
      .insertInto('ap_outbound')
      .values(p)
      .onConflict((oc) => oc.column('submission_id').doNothing())
      .returning('submission_id'),
);

export * from '../contract.ts';
export { normaliseParticipant, staticDiscovery } from './discovery.ts';

/** Discovery errors that answer "this receiver cannot be sent this": `checkReceiver` says so instead of throwing. */
const NOT_REGISTERED = new Set(['EHMI_SMP_NOT_REGISTERED', 'EHMI_SMP_IDENTIFIER_INVALID']);

export { buildOutboundMessage, GLN_PARTY_TYPE, type OutboundMessageInput } from './message.ts';

export interface AccessPoint extends Role {
  /** Where the MSH submits envelopes. */
  readonly gateway: AccessPointGateway;
  /** Our participant, `0088:<GLN>`. */
  readonly participant: string;
  /** The AS4 endpoint others post to (`<url>/as4`); valid after `start()`. */
  readonly as4Url: string;
  /** Run the retention sweep now (it also runs on its timer), as if the time were `now` (default: the AP's clock). */
  sweep(now?: number): Promise<{ received: number; outbound: number; orphans: number }>;
  /**
   * Resolves once the access point is idle: no send, hand-over or outcome job is due or running (sends first, so the
   * outcome jobs they queue are waited for too). `next`: when the earliest waiting job (a retry) falls due, by the
   * AP's clock. With `drained`, waits until no job waits at all. See `Worker.idle`.
   */
  idle(options?: { drained?: boolean }): Promise<IdleState>;
}

export interface AccessPointDeps {
  /** The MSH that received envelopes and send outcomes are handed to. */
  backend: MshBackend;
  /** Default: from config (`ap.discovery`). */
  discovery?: ReceiverDiscovery;
  /**
   * Clock in epoch milliseconds, as the MSH's `now()`: row timestamps, when retries and hand-overs fall due, the
   * wsu:Timestamp window of received messages and receipts, the eb:Timestamp of our receipts, retention. Tests fix
   * or advance it. Default: the node queue's clock.
   */
  now?: () => number;
}

const DAY = 86_400_000;

function loadCredential(files: { cert: string; key: string }, what: string): SigningCredential {
  const pem = readPem(files.cert, `${what}.cert`);
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) {
    throw new EhmiError('EHMI_CONFIG_INVALID', `${what}.cert: ${files.cert} holds no PEM certificate`);
  }
  try {
    return {
      chain: blocks.map((b) => new X509Certificate(b)),
      privateKey: createPrivateKey(readPem(files.key, `${what}.key`)),
    };
  } catch (err) {
    if (err instanceof EhmiError) throw err;
    throw new EhmiError('EHMI_CONFIG_INVALID', `${what}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The longest time a sender keeps retrying one message with this back-off: the duplicate cache must outlive it
 * (docs/architecture.md "Durability": the duplicate caches are never shorter than the messages they guard).
 */
function retryWindowMs(send: ApConfig['send']): number {
  let total = 0;
  for (let i = 1; i < send.maxAttempts; i++)
    total += Math.min(send.backoffMaxMs, send.backoffBaseMs * 2 ** (i - 1));
  return total + send.maxAttempts * send.timeoutMs;
}

/**
 * The access point role (ehmiAP): `POST /as4` receives AS4 messages from other access points (verify, decrypt,
 * decompress, duplicate check, durable commit, signed receipt), `gateway.submit` queues envelopes from the MSH, and
 * workers send them (`ap.send`, reception awareness; the MSH is told the outcome with the send's end, in one commit
 * when it shares the store), hand received envelopes to the MSH (`ap.deliver`) and report outcomes the MSH could not
 * take then (`ap.outcome`). eDelivery AS4 1.15 (default) or 2.0 (config `ap.profile`).
 *
 * @example
 * const ap = await createAccessPoint(ctx, { backend: msh.backend });
 * await ap.start();
 * const { as4MessageId } = await ap.gateway.submit({ submissionId, sender, receiver, documentType, process, envelope });
 */
export async function createAccessPoint(
  ctx: RoleContext<ApConfig, ApTables>,
  deps: AccessPointDeps,
): Promise<AccessPoint> {
  const { node: config, config: ap, store, logger: nodeLogger } = ctx;
  const logger = nodeLogger.child({ role: 'ap' });
  const organisation = organisationOf(config, 'access point');
  const eds = ctx.deliveryStatus ?? noReporter(ctx.queue);
  if (!ap.signing) {
    throw new EhmiError(
      'EHMI_CONFIG_INVALID',
      'ap.signing: the access point needs a signing key and certificate',
    );
  }
  if (ap.trustAnchors.length === 0) {
    throw new EhmiError(
      'EHMI_CONFIG_INVALID',
      'ap.trustAnchors: the access point needs the CA certificates senders must chain to',
    );
  }
  if (ap.duplicateRetentionDays * DAY < retryWindowMs(ap.send)) {
    throw new EhmiError(
      'EHMI_CONFIG_INVALID',
      'ap.duplicateRetentionDays is shorter than the retry window of ap.send: duplicates could pass',
    );
  }
  if (ap.evidenceRetentionDays < ap.duplicateRetentionDays) {
    throw new EhmiError(
      'EHMI_CONFIG_INVALID',
      'ap.evidenceRetentionDays is shorter than ap.duplicateRetentionDays: a duplicate would be receipted for a message whose evidence is gone',
    );
  }
  if (ap.adminToken === undefined) {
    logger.warn('ap.adminToken is not set: the evidence API refuses every request');
  }
  const limits = resolveLimits(
    Object.fromEntries(Object.entries(ap.limits).filter(([, v]) => v !== undefined)),
  );
  if (ap.receive.maxDecompressedBytesInProgress < limits.maxDecompressedBytes) {
    throw new EhmiError(
      'EHMI_CONFIG_INVALID',
      'ap.receive.maxDecompressedBytesInProgress is smaller than ap.limits.maxDecompressedBytes: a message that may be received could never be',
    );
  }
  const signing = loadCredential(ap.signing, 'ap.signing');
  const encryption = ap.encryption ? loadCredential(ap.encryption, 'ap.encryption') : signing;
  const previousEncryption = ap.previousEncryption.map((files, i) => {
    const what = `ap.previousEncryption[${i}]`;
    const c = loadCredential(files, what);
    // A pair that does not match would only ever fail to decrypt (EBMS:0102): refused at start instead.
    if (!c.chain[0]!.checkPrivateKey(c.privateKey)) {
      throw new EhmiError(
        'EHMI_CONFIG_INVALID',
        `${what}: the key ${files.key} is not the certificate's key`,
      );
    }
    return { privateKey: c.privateKey, certificate: c.chain[0]! };
  });
  const trustAnchors = ap.trustAnchors.map((f) => {
    try {
      return new X509Certificate(readPem(f, 'ap.trustAnchors'));
    } catch (err) {
      if (err instanceof EhmiError) throw err;
      throw new EhmiError('EHMI_CONFIG_INVALID', `ap.trustAnchors: ${f} is not a PEM certificate`, {
        cause: err,
      });
    }
  });
  const discovery = deps.discovery ?? configuredDiscovery(ap.discovery, ctx.revocation);
  const participant = `0088:${organisation.gln}`;
  const profile: As4ProfileId = ap.profile === '2.0' ? 'edelivery-as4-2.0' : 'edelivery-as4-1.15';
  const now = deps.now ?? ctx.queue.options.now;
  // Lookups past the discovery cache (a peer's certificate rollover), at most one per participant per interval.
  const freshLookups = new FreshLookups(ap.discovery.refreshIntervalMs, now);

  // Reception awareness (eDelivery AS4 1.15 §3.3: retry parameters configurable): the send jobs use ap.send's
  // attempts and back-off, the hand-over jobs ap.handover's; both on the node's store and lease.
  const sendQueue = new JobQueue(store, {
    ...ctx.queue.options,
    now,
    maxAttempts: ap.send.maxAttempts,
    backoffBaseMs: ap.send.backoffBaseMs,
    backoffMaxMs: ap.send.backoffMaxMs,
  });
  const handoverQueue = new JobQueue(store, {
    ...ctx.queue.options,
    now,
    maxAttempts: ap.handover.maxAttempts,
    backoffBaseMs: ap.handover.backoffBaseMs,
    backoffMaxMs: ap.handover.backoffMaxMs,
  });

  const tls = ctx.tls;
  let url = '';
  const metrics = metricsAccess(ctx, { service: 'ap', audience: () => [url], anchorsKey: 'tls.ca' });
  // With `authorization`, the operator's token for /metrics is bound to a client certificate: the server asks for
  // one (never requires it: an AS4 sender without one is served as before; only /metrics checks it).
  const askCertificate = ap.requireClientCertificate || (!!config.authorization && (tls?.ca.length ?? 0) > 0);
  const app = await createHttpServer({
    service: 'ap',
    audit: ctx.audit,
    logger,
    bodyLimitBytes: config.http.bodyLimitBytes,
    timeouts: timeoutsOf(config.http),
    openapi: {
      title: 'EHMI access point (AS4)',
      version: '1.0.0',
      description:
        'The eDelivery AS4 1.15 receiving endpoint (One-Way/Push): a signed and encrypted ebMS3 UserMessage or ' +
        'signal in, the receipt or the ebMS error in the HTTP response. The evidence API (Bearer ap.adminToken) ' +
        'gives the operator the signed messages and receipts kept as non-repudiation evidence.',
      components: EVIDENCE_OPENAPI_COMPONENTS,
    },
    readiness: () => store.ping(),
    metricsAccess: metrics.hook,
    ...(tls
      ? {
          tls: {
            key: tls.key,
            cert: tls.cert,
            ca: tls.ca,
            // eDelivery AS4 1.15 §2.1: TLS client authentication MUST be configurable.
            requestCert: askCertificate,
            rejectUnauthorized: ap.requireClientCertificate,
            ...(tls.proxies ? { proxies: tls.proxies } : {}),
          },
        }
      : {}),
  });
  if (tls && ap.requireClientCertificate) {
    // TLS already refused a client certificate that does not chain to the node's CAs; this refuses one not meant
    // for TLS clients or revoked.
    app.addHook(
      'onRequest',
      requireClientCertificate({
        revocation: ctx.revocation,
        anchorsKey: 'tls.ca',
        open: new Set(['/health']),
      }),
    );
  }
  // The client side of TLS: trust the node's CAs, present the node's certificate (mutual TLS when asked).
  const dispatcher = nodeAgent({
    connect: tls
      ? {
          ...(tls.ca.length > 0 ? { ca: tls.ca } : {}),
          cert: tls.client.cert,
          key: tls.client.key,
          minVersion: 'TLSv1.2',
        }
      : {},
    connections: ap.send.concurrency * 2,
  });

  const pollIntervalMs = config.queue.pollIntervalMs;
  let deliverWorker: Worker<{ messageId: string }> | undefined;
  let outcomeWorker: Worker<{ submissionId: string }> | undefined;
  let sendWorker: Worker<{ submissionId: string }> | undefined;

  const received = new Counter({
    name: 'ehmi_ap_received_total',
    help: 'AS4 messages answered on POST /as4, by result (receipt, duplicate, test, signal, or the ebMS error code)',
    labelNames: ['result'] as const,
    registers: [app.metrics],
  });
  const attempts = new Counter({
    name: 'ehmi_ap_send_attempts_total',
    help: 'AS4 send attempts, by result (sent, retry, failed)',
    labelNames: ['result'] as const,
    registers: [app.metrics],
  });
  // This instance's own folder for the temporary files of received messages; what a crash left is removed here.
  const temp = await openInstanceTempDir(join(config.dataDir, 'tmp', 'as4'), { logger });
  // Received envelopes the commit read whole, for the hand-over to take (`held.ts`).
  const held = new HeldEnvelopes();
  registerReceiveRoute(app, {
    held,
    backend: deps.backend,
    count: (result) => received.inc({ result }),
    store,
    queue: handoverQueue,
    logger,
    participant,
    profile,
    trustAnchors,
    discovery,
    revocation: ctx.revocation,
    signing,
    decryption: {
      privateKey: encryption.privateKey,
      certificate: encryption.chain[0]!,
      previous: previousEncryption,
    },
    freshLookups,
    limits,
    tmpDir: temp.dir,
    ...(ap.receive.maxBufferedPartBytes > 0 && ap.receive.maxPartBytesInMemory > 0
      ? {
          partsInMemory: {
            budget: new ByteBudget(ap.receive.maxBufferedPartBytes, 'attachment parts held in memory'),
            partBytes: ap.receive.maxPartBytesInMemory,
          },
        }
      : {}),
    budgets: {
      envelopes: new ByteBudget(ap.receive.maxBufferedEnvelopeBytes, 'SOAP envelopes held in memory'),
      decompressed: new ByteBudget(
        ap.receive.maxDecompressedBytesInProgress,
        'decompressed payloads on disk',
      ),
    },
    maxConcurrent: ap.receive.maxConcurrent,
    retryAfterSeconds: ap.receive.retryAfterSeconds,
    // The workers hear of the jobs a commit queued from the queue itself (handed over or signalled); EDS reports
    // may need a look.
    onCommitted: () => {
      eds.wake();
    },
    eds,
    now,
  });

  await registerEvidenceRoutes(app, { store, adminToken: ap.adminToken });

  const closing = new AbortController();
  const sendContext: SendContext = {
    store,
    handoverQueue,
    logger,
    discovery,
    freshLookups,
    signing,
    trustAnchors,
    revocation: ctx.revocation,
    insecure: config.insecure,
    dispatcher,
    timeoutMs: ap.send.timeoutMs,
    serviceType: ap.serviceType,
    profile,
    onOutcome: () => {
      eds.wake();
    },
    backend: deps.backend,
    eds,
    closing: closing.signal,
    count: (result) => attempts.inc({ result }),
    now,
  };
  // The send handler decides itself when a failure is final (it records the outcome and returns), so the queue
  // only ever sees retryable failures.
  sendWorker = new Worker(sendQueue, QUEUES.send, sendHandler(sendContext), {
    concurrency: ap.send.concurrency,
    pollIntervalMs,
    logger,
    isPermanent: () => false,
  });
  deliverWorker = new Worker(
    handoverQueue,
    QUEUES.deliver,
    deliverHandler(store, deps.backend, logger, now, eds, held),
    {
      concurrency: ap.send.concurrency,
      pollIntervalMs,
      logger,
    },
  );
  outcomeWorker = new Worker(handoverQueue, QUEUES.outcome, outcomeHandler(store, deps.backend, now), {
    concurrency: ap.send.concurrency,
    pollIntervalMs,
    logger,
  });
  // Sends first: the outcome jobs a send queues exist before the send worker is idle.
  const workers = { sends: sendWorker, handovers: [deliverWorker, outcomeWorker] };

  const gateway: AccessPointGateway = {
    async checkReceiver(receiver, documentType, process): Promise<ReceiverCheck> {
      try {
        const found = await discovery.lookup(receiver, documentType, process);
        return { registered: true, endpointUrl: found.endpointUrl };
      } catch (err) {
        // Only the register's own "not registered" (or an identifier it could never register) is an answer; any
        // other failure is no answer, and the caller must not read it as one.
        if (isEhmiError(err) && NOT_REGISTERED.has(err.code))
          return { registered: false, reason: err.message };
        throw err;
      }
    },
    // eDelivery AS4 1.15 §2.2.3.2: the ebMS test service, sent to the partner's AP at once (`ping.ts`).
    ping: (receiver) => ping({ ...sendContext, participant }, receiver),
    pings: () => pings({ store }),
    async submit(
      submission: OutboundSubmission,
      part?: Alongside<SubmissionAccepted>,
    ): Promise<SubmissionAccepted> {
      checkSubmission(submission);
      // A repeated submit (the MSH's job again after a crash) is found by the insert below, which keeps the first
      // AS4 MessageId; no look-up before it, since nearly every submit is a first.
      // The MSH's envelope is a blob of the node's store already: named again, not copied (content-addressed). One
      // this store just made durable (the MSH of this process wrote it) is not looked for twice: `noteBlob` in the
      // transaction below checks its file, and stores it again should it be gone.
      const envelope = submission.envelope;
      const known =
        envelope.hash !== undefined &&
        envelope.size !== undefined &&
        (store.blobs.madeDurable(envelope.hash) || (await store.blobs.has(envelope.hash)))
          ? { hash: envelope.hash, size: envelope.size }
          : undefined;
      const blob = known ?? (await store.blobs.put(envelope.open()));
      // Should `noteBlob` find a small blob's content gone, it writes it again from the source. The envelope's
      // `open` may read this store, whose rows a read inside the transaction would wait for (SQLite: one connection,
      // held by the transaction): the content of a small envelope is read before.
      const source: BlobSource = store.blobs.inRow(blob.size)
        ? await store.blobs.read(blob)
        : () => envelope.open();
      const accepted = await store.transaction(async (trx) => {
        await noteBlob(trx, store, blob, source);
        return accept(trx, submission, blob, part);
      });
      return { submissionId: accepted.submissionId, as4MessageId: accepted.as4MessageId };
    },
    sharesStore: (db) => db === store.db,
    async submitIn(trx, submission): Promise<SubmissionAccepted> {
      checkSubmission(submission);
      const { hash, size } = submission.envelope;
      if (hash === undefined || size === undefined) {
        throw new EhmiError('EHMI_INTERNAL', 'submitIn: the envelope must be a blob of the shared store');
      }
      const accepted = await accept(trx as never, submission, { hash, size });
      return { submissionId: accepted.submissionId, as4MessageId: accepted.as4MessageId };
    },
  };

  function checkSubmission(submission: OutboundSubmission): void {
    for (const key of ['submissionId', 'sender', 'receiver', 'documentType', 'process'] as const) {
      if (typeof submission[key] !== 'string' || submission[key].trim() === '') {
        throw new EhmiError('EHMI_VALIDATION_FAILED', `submit: ${key} is required`);
      }
    }
  }

  /**
   * The AP's record of a submission in `trx`, whose caller has noted its blob there: the outbound row, its send job
   * (handed the row, so that it does not read it back), 03.1, and the MSH's `part`. A repeated submission keeps its
   * first AS4 MessageId and adds nothing.
   */
  async function accept(
    trx: Parameters<Parameters<typeof store.transaction>[0]>[0],
    submission: OutboundSubmission,
    blob: { hash: string; size: number },
    part?: Alongside<SubmissionAccepted>,
  ): Promise<SubmissionAccepted & { fresh: boolean }> {
    // docs/architecture.md "Durability": the AS4 MessageId is fixed here and never changes across retries.
    // RFC 2822 msg-id with a UUID (eDelivery AS4 1.15 §2.2.3.2 RECOMMENDED).
    const as4MessageId = `${randomUUID()}@${organisation.gln}.ehmi`;
    const at = now();
    const row = {
      submission_id: submission.submissionId,
      as4_message_id: as4MessageId,
      status: 'pending' as const,
      sender: submission.sender,
      receiver: submission.receiver,
      document_type: submission.documentType,
      process: submission.process,
      tracking_identifier: submission.trackingIdentifier ?? null,
      blob_hash: blob.hash,
      blob_size: blob.size,
      attempts: 0,
      sent_references: '[]',
      endpoint_url: null,
      receipt: null,
      ebms_code: null,
      reason: null,
      last_error: null,
      created_at: at,
      updated_at: at,
      finished_at: null,
      outcome_at: null,
      eds_facts: eds.enabled && submission.eds ? JSON.stringify(submission.eds) : null,
    } satisfies Record<(typeof OUTBOUND_COLUMNS)[number], unknown>;
    const inserted = await INSERT_OUTBOUND.first(trx, row);
    if (!inserted) {
      const earlier = await trx
        .selectFrom('ap_outbound')
        .select(['submission_id', 'as4_message_id'])
        .where('submission_id', '=', submission.submissionId)
        .executeTakeFirstOrThrow();
      const taken = { submissionId: earlier.submission_id, as4MessageId: earlier.as4_message_id };
      await runAlongside(part, store.db, trx, taken);
      return { ...taken, fresh: false };
    }
    await sendQueue.enqueue(trx, {
      id: sendJobId(submission.submissionId),
      queue: QUEUES.send,
      payload: { submissionId: submission.submissionId },
      local: row,
    });
    // 03.1 (08.1, 13.1, 18.1): the AP took the envelope over.
    if (submission.eds) {
      await eds.report(trx, {
        station: 'AP',
        side: 'origin',
        subtype: 'msg-received',
        facts: submission.eds,
        at,
      });
    }
    if (!afterCommit(trx, () => eds.wake())) eds.wake();
    // The MSH's record of the hand-over, in this same commit.
    await runAlongside(part, store.db, trx, { submissionId: submission.submissionId, as4MessageId });
    return { submissionId: submission.submissionId, as4MessageId, fresh: true };
  }

  const sweep = async (at = now()) => {
    const { evidence, ...purged } = await sweepRetention(store, {
      now: at,
      duplicateRetentionMs: ap.duplicateRetentionDays * DAY,
      outboundRetentionMs: ap.outboundRetentionDays * DAY,
      evidenceRetentionMs: ap.evidenceRetentionDays * DAY,
    });
    if (evidence > 0)
      logger.info({ evidence }, 'AP retention: evidence past ap.evidenceRetentionDays removed');
    const orphans = await failOrphans(sendContext);
    // The AP's finished jobs (done and dead) go with the rows they worked on; the table kept them for good before.
    const jobsBefore = at - Math.max(ap.duplicateRetentionDays, ap.outboundRetentionDays) * DAY;
    for (const queue of [QUEUES.send, QUEUES.deliver, QUEUES.outcome]) {
      await handoverQueue.purgeFinished(jobsBefore, { queue });
    }
    return { ...purged, orphans };
  };

  let timer: NodeJS.Timeout | undefined;
  return {
    name: 'ap',
    app,
    participant,
    get url() {
      return url;
    },
    get as4Url() {
      return `${url}/as4`;
    },
    gateway,
    sweep,
    async idle(options = {}) {
      const sends = await workers.sends.idle(options);
      const handovers = await Promise.all(workers.handovers.map((w) => w.idle(options)));
      return earliestNext([sends, ...handovers]);
    },
    async start() {
      url = await listen(app, { host: ap.host, port: ap.port, https: !!tls, publicUrl: ap.publicUrl });
      sendWorker?.start();
      deliverWorker?.start();
      outcomeWorker?.start();
      timer = setInterval(() => {
        sweep().catch((err) => logger.warn({ err }, 'AP retention sweep failed'));
      }, ap.retentionIntervalMs);
      timer.unref();
      logger.info({ url, participant, profile }, 'access point started');
    },
    async close() {
      if (timer) clearInterval(timer);
      closing.abort(new EhmiError('EHMI_UNAVAILABLE', 'the access point is closing'));
      await app.close();
      await Promise.all([sendWorker?.stop(), deliverWorker?.stop(), outcomeWorker?.stop()]);
      await dispatcher.close();
      await metrics.close();
      await temp.close();
    },
  };
}
