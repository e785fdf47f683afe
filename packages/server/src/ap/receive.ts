import type { KeyObject, X509Certificate } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  type As4Limits,
  type As4ProfileId,
  type AttachmentSink,
  type ByteBudget,
  buildErrorSignal,
  createPMode,
  decryptAttachments,
  EBMS_URI,
  envelopeXml,
  finalRecipient,
  originalSender,
  type PMode,
  type ReceiveBudgets,
  type ReceivedSignals,
  type ReceivedUserMessage,
  receiveAs4Message,
  securityProfileOf,
  signReceipt,
  tempFileSink,
  type UserMessage,
  writeAs4Message,
} from '@ehmi/as4';
import { asEhmiError, EhmiError } from '@ehmi/errors';
import {
  checkCertificatePurpose,
  checkCertificateTrust,
  oneLineName,
  type RevocationChecker,
} from '@ehmi/pki';
import { type EdsMessageFacts, type EhmiEnvelope, type LoadedEnvelope, loadPlainEnvelope } from '@ehmi/sbdh';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { Gauge } from 'prom-client';
import type { MshBackend, PreparedDelivery, ReceiverDiscovery } from '../contract.ts';
import { readSbdhHeader, sbdhHeaderOf } from '../delivery-status/header.ts';
import type { DeliveryStatusReporter } from '../delivery-status/index.ts';
import { readLimited } from '../http/read-limited.ts';
import { QUEUES } from '../path.ts';
import {
  type BlobStore,
  type BlobWriter,
  columnsOf,
  fixedStatement,
  type JobQueue,
  noteBlob,
  savepoint,
} from '../store/index.ts';
import { checkNotRevoked } from '../trust.ts';
import { type FreshLookups, normaliseParticipant, participantOfProperty } from './discovery.ts';
import { recordEvidence } from './evidence.ts';
import { HELD_ENVELOPE_BYTES, type HeldEnvelope, type HeldEnvelopes } from './held.ts';
import { GLN_PARTY_TYPE, type SigningCredential } from './message.ts';
import type { ApReceivedTable, ApStore, ApTables } from './tables.ts';

export interface ReceiveContext {
  store: ApStore;
  /** The queue `ap.deliver` jobs are enqueued on. */
  queue: JobQueue;
  logger: Logger;
  /** Our participant, `0088:<GLN>`. */
  participant: string;
  profile: As4ProfileId;
  /** A sender's signing certificate must chain to one of these (config `ap.trustAnchors`). */
  trustAnchors: readonly X509Certificate[];
  /** Where the AP certificates the register publishes for the sending participant come from. */
  discovery: ReceiverDiscovery;
  /** Revocation status of the sender's signing certificate. */
  revocation: RevocationChecker;
  /** Signs receipts. */
  signing: SigningCredential;
  /**
   * Decrypts payloads: the current key pair, and earlier ones still used by senders whose SMP answer is older
   * (`ap.previousEncryption`); each EncryptedKey picks the one it names.
   */
  decryption: {
    privateKey: KeyObject;
    certificate: X509Certificate;
    previous?: readonly { privateKey: KeyObject; certificate: X509Certificate }[];
  };
  /** Lookups past the discovery cache when a signer is not the one the cached answer names (rate-limited). */
  freshLookups?: FreshLookups;
  limits: Partial<As4Limits>;
  /** EDS reporting: 04.1 (09.1, 14.1, 19.1) with the commit. */
  eds?: DeliveryStatusReporter;
  /** Where envelopes read whole for their EDS facts wait for their hand-over to the MSH (`held.ts`). */
  held?: HeldEnvelopes;
  /**
   * This instance's folder for attachment bodies while a message is processed (on the data disk, not a RAM-backed
   * /tmp; `temp.ts`). Each message's files are removed when it is done.
   */
  tmpDir: string;
  /**
   * Attachment parts kept in memory while small (`ap.receive.maxPartBytesInMemory`), from a pool the messages in
   * progress share (`ap.receive.maxBufferedPartBytes`): a small message touches no disk before its blob is written.
   */
  partsInMemory?: { budget: ByteBudget; partBytes: number };
  /** The pools the messages in progress share (envelopes in memory, decompressed octets on disk). */
  budgets: ReceiveBudgets;
  /** Most messages received at once; beyond it 503 with Retry-After (EBMS:0004, the sender retries). */
  maxConcurrent: number;
  /** Seconds in the Retry-After of a 503. */
  retryAfterSeconds: number;
  /**
   * The MSH the envelopes are handed to: where it shares this store (`sharesStore`), it takes a new message in the
   * reception's own commit (`prepareDelivery`); else, or when it does not, the hand-over job delivers it.
   */
  backend?: MshBackend;
  /** Called after a delivery job committed, so the local worker starts at once. */
  onCommitted: () => void;
  /** Counts answers: `receipt`, `duplicate`, `test`, `signal`, or the ebMS error code. */
  count?: (result: string) => void;
  /** The AP's clock (epoch ms): the wsu:Timestamp window, our receipt's eb:Timestamp, `received_at`. */
  now: () => number;
}

/** ebMS3 Core §5.2.2.9 / AS4 Profile §5.1.5: the test service and action. */
export function isTestMessage(um: UserMessage): boolean {
  return (
    um.collaborationInfo.service.value === EBMS_URI.testService &&
    um.collaborationInfo.action === EBMS_URI.testAction
  );
}

const mismatch = (message: string, details: Record<string, unknown> = {}) =>
  new EhmiError('EHMI_AS4_PMODE_MISMATCH', message, { details });

/**
 * P-Mode selection for a received UserMessage (eDelivery AS4 1.15 §2.2.2, Dynamic Receiver §1.5.3: the P-Mode
 * comes from the message, not from a per-partner table). Any Service (SBDH PROCESSID) and Action (SBDH DOCUMENTID)
 * is accepted — which document types an organisation takes is the MSH's business — but the message must be for us:
 * `finalRecipient` (Four Corner §2.6.1) is our participant, a GLN-typed eb:To/PartyId is our GLN, and the SBDH
 * enhancement's one payload is there. The test service needs no four-corner properties. Else EBMS:0010.
 */
export function receivingPMode(um: UserMessage, rc: Pick<ReceiveContext, 'participant' | 'profile'>): PMode {
  const test = isTestMessage(um);
  const ourGln = rc.participant.replace(/^0088:/, '');
  const toGlns = um.partyInfo.to.partyIds.filter((p) => p.type === GLN_PARTY_TYPE).map((p) => p.value);
  if (toGlns.length > 0 && !toGlns.includes(ourGln)) {
    throw mismatch(`the message is for party ${toGlns.join(', ')}, not ${ourGln}`, { to: toGlns });
  }
  if (!test) {
    const recipient = participantOfProperty(finalRecipient(um));
    if (recipient === undefined || recipient === '') {
      throw mismatch('the message property finalRecipient is required', { property: 'finalRecipient' });
    }
    if (normaliseParticipant(recipient) !== normaliseParticipant(rc.participant)) {
      throw mismatch(`finalRecipient ${recipient} is not served by this access point`, {
        finalRecipient: recipient,
      });
    }
    if (um.payloadInfo.length !== 1) {
      // AS4 SBDH enhancement: one payload, the business envelope.
      throw mismatch(`expected one payload (the ehmiSBDH envelope), got ${um.payloadInfo.length}`);
    }
  }
  return createPMode({
    id: test ? 'ehmi-test-service' : 'ehmi-receive',
    profile: rc.profile,
    service: um.collaborationInfo.service,
    action: um.collaborationInfo.action,
    fourCorner: !test,
  });
}

/**
 * A sender's signing certificate: it chains to a trust anchor and is valid, it is meant for AS4 (a TLS client
 * certificate never signs AS4 messages), and it is not revoked. Else EBMS:0101 FailedAuthentication.
 */
async function trustedSigner(chain: X509Certificate[], rc: ReceiveContext): Promise<boolean> {
  const what = "sender's signing certificate";
  const errorCode = 'EHMI_AS4_FAILED_AUTHENTICATION';
  const path = checkCertificateTrust(chain[0]!, {
    trustAnchors: rc.trustAnchors,
    intermediates: chain.slice(1),
    what,
    errorCode,
  });
  checkCertificatePurpose(path[0]!, 'as4', { what, errorCode });
  await checkNotRevoked(rc.revocation, path, { what, errorCode });
  return true;
}

/**
 * The signer is the sender: a UserMessage is accepted only when its signing certificate is one the register (the
 * SMP) publishes for the `originalSender` participant's access point. An access point may serve several
 * organisations; what binds a signer to a sender is the register, not the certificate's subject. A signer the cached
 * answer does not name sends the AP to the register once more, past the cache (rate-limited per participant: a
 * sender that rolled its certificate over is accepted at once, a forger costs one lookup per interval). Else
 * EBMS:0101.
 */
async function checkSignerIsSender(
  um: UserMessage,
  signer: X509Certificate,
  rc: ReceiveContext,
): Promise<void> {
  const sender = participantOfProperty(originalSender(um));
  const fail = (message: string, details: Record<string, unknown> = {}) =>
    new EhmiError('EHMI_AS4_FAILED_AUTHENTICATION', message, {
      details: { messageId: um.messageInfo.messageId, sender, ...details },
    });
  if (!sender) throw fail('the message property originalSender is required');
  const publishedFor = async (fresh: boolean): Promise<X509Certificate[]> => {
    try {
      return await rc.discovery.accessPointCertificates(sender, fresh ? { fresh } : undefined);
    } catch (err) {
      const e = asEhmiError(err);
      // The register did not answer: the sender may try again. Anything else (not registered, a forged answer) is
      // no binding, and the message is refused.
      if (e.transient) throw err;
      throw fail(`the sender ${sender} has no access point certificate in the register: ${e.message}`);
    }
  };
  const signs = (certs: X509Certificate[]) => certs.some((c) => c.raw.equals(signer.raw));
  if (signs(await publishedFor(false))) return;
  // Not the certificate of the cached answer: the sender's AP may have rolled its certificate over since. Ask the
  // register once more, past the cache (at most once per participant per ap.discovery.refreshIntervalMs).
  const fresh = rc.freshLookups
    ? await rc.freshLookups.run(normaliseParticipant(sender), () => publishedFor(true))
    : undefined;
  if (fresh && signs(fresh)) {
    rc.logger.info(
      { messageId: um.messageInfo.messageId, sender, serialNumber: signer.serialNumber },
      "the sender's signing certificate is newer than the cached register answer; the register, asked again, publishes it",
    );
    return;
  }
  throw fail(
    `the message claims to come from ${sender} but is signed with "${oneLineName(signer.subject)}" (serial ${signer.serialNumber}), which is not an access point certificate the register publishes for ${sender}`,
    { signer: signer.subject, serialNumber: signer.serialNumber, askedAgain: fresh !== undefined },
  );
}

async function text(body: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks).toString('utf8');
}

const SOAP_XML = 'application/soap+xml; charset=UTF-8';

/**
 * `POST /as4`: the receiving endpoint (eDelivery AS4 1.15 §2.2: One-Way/Push, the receipt or the error in the HTTP
 * response, ReplyPattern=Response). The request body is streamed straight into the receive pipeline; only the AS4
 * limits apply, not the server's body limit (the route has its own content-type parser).
 */
export function registerReceiveRoute(app: FastifyInstance, rc: ReceiveContext): void {
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    // The raw stream, whatever its type: receiveAs4Message checks the media type and answers with an ebMS error.
    scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    // The AS4 endpoint is the AP's base URL itself (what the SMP publishes: "an endpoint's address is
    // the organisation's `ap` URL exactly as network.json spells it") and, for peers configured by hand, `/as4`.
    const schema = {
      summary: 'Receive an AS4 message (eDelivery AS4 1.15 §2.2: One-Way/Push, ReplyPattern=Response)',
      description:
        'The body streams straight into the receive pipeline; only the AS4 limits (ap.limits) apply, not the ' +
        "server's body limit. `/` is the AP's base URL as the SMP publishes it; `/as4` for peers configured by hand.",
      requestBody: {
        required: true,
        content: {
          'multipart/related': { schema: { type: 'string', format: 'binary' } },
          'application/soap+xml': { schema: { type: 'string' } },
        },
      },
      responses: {
        '200': {
          description: 'The signed receipt, or an ebMS error signal',
          content: { 'application/soap+xml': { schema: { type: 'string' } } },
        },
        '4XX': {
          description:
            'An ebMS error signal with the status of its error (413: over an AS4 limit, EBMS:0004)',
          content: { 'application/soap+xml': { schema: { type: 'string' } } },
        },
        '5XX': {
          description: 'An ebMS error signal: the message could not be taken over',
          content: { 'application/soap+xml': { schema: { type: 'string' } } },
        },
      },
    };
    scope.post('/as4', { schema }, handler);
    scope.post('/', { schema }, handler);
    let inProgress = 0;
    new Gauge({
      name: 'ehmi_ap_receiving',
      help: 'AS4 messages being received or processed now (at most ap.receive.maxConcurrent)',
      registers: [app.metrics],
      collect() {
        this.set(inProgress);
      },
    });
    new Gauge({
      name: 'ehmi_ap_receive_pool_bytes',
      help: 'Octets the messages in progress hold, by pool (envelopes and small parts in memory, decompressed payloads on disk)',
      labelNames: ['pool'] as const,
      registers: [app.metrics],
      collect() {
        for (const [pool, budget] of Object.entries(rc.budgets)) if (budget) this.set({ pool }, budget.used);
        if (rc.partsInMemory) this.set({ pool: 'parts' }, rc.partsInMemory.budget.used);
      },
    });
    async function handler(request: FastifyRequest, reply: FastifyReply) {
      const contentType = request.headers['content-type'] ?? '';
      const body = (request.body ?? request.raw) as AsyncIterable<Uint8Array>;
      let rx: ReceivedUserMessage | ReceivedSignals | undefined;
      // The payload is written once, into the blob store's own folder, and placed there by the commit.
      const payloads = blobSink(rc.store.blobs, rc.tmpDir, rc.partsInMemory);
      let claimed: UserMessage | undefined;
      let counted = false;
      try {
        if (inProgress >= rc.maxConcurrent) {
          throw new EhmiError(
            'EHMI_UNAVAILABLE',
            `the access point is receiving ${rc.maxConcurrent} messages already; try again later`,
            { details: { limit: 'ap.receive.maxConcurrent', max: rc.maxConcurrent } },
          );
        }
        inProgress++;
        counted = true;
        rx = await receiveAs4Message(body, {
          contentType,
          clock: () => new Date(rc.now()),
          limits: rc.limits,
          budgets: rc.budgets,
          sink: tempFileSink({
            dir: rc.tmpDir,
            ...(rc.partsInMemory ? { memory: rc.partsInMemory } : {}),
            // The storage fault seam of the node's data folder (tests, the fault suite).
            beforeWrite: (path, octets) => rc.store.blobs.faults?.beforeWrite('temp', path, octets),
          }),
          payloadSink: payloads,
          selectPMode: (um) => {
            claimed = um;
            return receivingPMode(um, rc);
          },
          // The signer is checked, against the register too, before anything is decrypted: a message from an
          // impostor costs no decryption.
          verify: {
            trust: async (chain) => {
              await trustedSigner(chain, rc);
              if (claimed && !isTestMessage(claimed)) await checkSignerIsSender(claimed, chain[0]!, rc);
              return true;
            },
          },
          decrypt: (env, attachments, sink) =>
            decryptAttachments(env.document, attachments, {
              privateKey: rc.decryption.privateKey,
              certificate: rc.decryption.certificate,
              ...(rc.decryption.previous?.length ? { previousKeys: rc.decryption.previous } : {}),
              // The P-Mode's algorithms only (eDelivery AS4 1.15: RSA-OAEP SHA-256/MGF1-SHA256, AES-128-GCM).
              profile: securityProfileOf({ profile: rc.profile }),
              sink,
              // No plaintext copy: the payload step decrypts, digests and decompresses each part in one read.
              onRead: true,
            }),
        });
        if (rx.kind === 'signal') {
          rc.count?.('signal');
          return answerSignals(rx, rc.logger, reply);
        }
        const receipt = await commit(rx, rc, payloads);
        return reply.code(200).header('content-type', SOAP_XML).send(receipt);
      } catch (err) {
        const e = asEhmiError(err);
        // A refusal for load or a storage fault is retried by the sender: a warning, not an error per request.
        if (e.transient && e.status === 503)
          rc.logger.warn(
            { code: e.code, msg: e.message, messageId: e.details.messageId },
            'AS4 message refused',
          );
        else if (e.code === 'EHMI_INTERNAL' || e.status >= 500)
          rc.logger.error({ err }, 'AS4 message refused');
        else
          rc.logger.info(
            { code: e.code, ebms: e.ebmsCode, msg: e.message, messageId: e.details.messageId },
            'AS4 message refused',
          );
        rc.count?.(e.ebmsCode);
        // ebMS3 Core §6.2: name the message in error when it is known (a failure after the pipeline, in the commit).
        const ref = rx?.kind === 'user' ? rx.userMessage.messageInfo.messageId : undefined;
        const signal = buildErrorSignal(err, ref ? { refToMessageInError: ref } : {});
        const written = writeAs4Message(envelopeXml(signal), []);
        // The rest of a refused upload is not read: close the connection instead of draining it.
        if (!request.raw.complete) reply.header('connection', 'close');
        // RFC 9110 §10.2.3: a refusal for load or a storage fault says when to come back.
        if (e.status === 503) reply.header('retry-after', String(rc.retryAfterSeconds));
        return reply
          .code(e.status >= 200 ? e.status : 500)
          .header('content-type', written.contentType)
          .send(await text(written.body));
      } finally {
        // The message's temporary files go (success or failure) before it stops counting as in progress.
        if (rx) await rx.dispose();
        else await payloads.dispose();
        if (counted) inProgress--;
      }
    }
  });
}

/**
 * The receive pipeline's payload sink: each payload streams into a {@link BlobWriter} of the node's blob store
 * (hashed as written, fsynced at its end) in the instance's temporary folder, which the commit places under its hash
 * (a hard link: written once); `dispose` removes the temporary files (a placed blob stays).
 */
function blobSink(
  blobs: BlobStore,
  dir: string,
  memory: ReceiveContext['partsInMemory'],
): AttachmentSink & { writerOf(contentId: string): BlobWriter | undefined } {
  const writers = new Map<string, BlobWriter>();
  // Every writer made, also one replaced: the pipeline may write a payload twice (a run begun while the body streamed,
  // not taken), and each one's file goes with the message.
  const made: BlobWriter[] = [];
  // A small payload is also kept in memory until the message is done (from the pool of small parts): written in one
  // write, renamed into place, and its SBDH header read from memory.
  const lease = memory?.budget.lease();
  return {
    create(part) {
      // In the instance's own folder (plaintext with personal data): a crash leaves it where the next start sweeps.
      const writer = blobs.writer({ dir, ...(lease ? { memory: { lease, bytes: memory!.partBytes } } : {}) });
      writers.set(part.contentId, writer);
      made.push(writer);
      return { writable: writer.writable, open: () => writer.open() };
    },
    writerOf: (contentId) => writers.get(contentId),
    async dispose() {
      await Promise.all(made.map((w) => w.discard()));
      made.length = 0;
      writers.clear();
      lease?.release();
    },
  };
}

/**
 * Runs a step of the commit that writes the blob store or the database: any failure there is the receiver's
 * storage (a full disk, a database that does not answer), EHMI_STORE_UNAVAILABLE (503, EBMS:0004): the sender
 * retries, and nothing was receipted.
 */
async function stored<R>(doing: string, step: () => Promise<R>): Promise<R> {
  try {
    return await step();
  } catch (err) {
    if (err instanceof EhmiError) throw err;
    throw new EhmiError('EHMI_STORE_UNAVAILABLE', `${doing} failed: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

const RECEIVED_COLUMNS = columnsOf<ApReceivedTable>()([
  'message_id',
  'status',
  'sender',
  'receiver',
  'process',
  'document_type',
  'conversation_id',
  'blob_hash',
  'blob_size',
  'receipt',
  'received_at',
  'delivered_at',
  'eds_facts',
]);

/** A received message's row, unless it is there already (a duplicate), built once (store/fixed.ts). */
const INSERT_RECEIVED = fixedStatement<(typeof RECEIVED_COLUMNS)[number], { message_id: string }>(
  RECEIVED_COLUMNS,
  (db, p) =>
    (db as Kysely<ApTables>)
      .insertInto('ap_received')
      .values(p)
      .onConflict((oc) => oc.column('message_id').doNothing())
      .returning('message_id'),
);

/** A received message handed to the MSH in the reception's own commit, built once (store/fixed.ts). */
const MARK_DELIVERED = fixedStatement(['now', 'messageId'], (db, p) =>
  (db as Kysely<ApTables>)
    .updateTable('ap_received')
    .set({ status: 'delivered', delivered_at: p.now })
    .where('message_id', '=', p.messageId),
);

/** The receipt of a message received before (the duplicate check), built once (store/fixed.ts). */
const RECEIPT_OF = fixedStatement<'messageId', { receipt: string }>(['messageId'], (db, p) =>
  (db as Kysely<ApTables>).selectFrom('ap_received').select('receipt').where('message_id', '=', p.messageId),
);

/**
 * Duplicate check, durable commit, signed receipt (docs/architecture.md "Durability": the receipt is sent only
 * after the commit). The commit keeps the message's signed SOAP part as evidence (`evidence.ts`); a duplicate adds
 * none.
 * The duplicate check is the primary key on the MessageId inside the commit's transaction: of two concurrent
 * receptions (two instances on one PostgreSQL) one inserts, the other finds the row and returns its receipt
 * (eDelivery AS4 1.15 §3.3 DuplicateDetection: a duplicate is receipted again, not delivered again).
 */
async function commit(
  rx: ReceivedUserMessage,
  rc: ReceiveContext,
  payloads: ReturnType<typeof blobSink>,
): Promise<string> {
  const um = rx.userMessage;
  const messageId = um.messageInfo.messageId;
  const db = rc.store.db;
  const earlier = await stored('the duplicate check', () => RECEIPT_OF.first(db, { messageId }));
  if (earlier) {
    rc.logger.info({ messageId }, 'AS4 duplicate: the original receipt is returned, nothing delivered again');
    rc.count?.('duplicate');
    return earlier.receipt;
  }
  const test = isTestMessage(um);
  const blob = test
    ? undefined
    : await stored('storing the payload', () => {
        // Written into the blob store by the payload step (decompressed or decrypted there): placed, not copied.
        // Its row is noted in the commit below.
        const written = payloads.writerOf(rx.payloads[0]!.contentId);
        return written ? written.place() : rc.store.blobs.put(rx.payloads[0]!.open());
      });
  // An MSH on this store takes the message in the reception's commit (below), from the copy read here.
  // Only an envelope held whole in memory is prepared (`readEnvelope`): a larger one goes by the hand-over job.
  const handOver =
    blob !== undefined &&
    blob.size <= HELD_ENVELOPE_BYTES &&
    rc.backend?.prepareDelivery !== undefined &&
    rc.backend.sharesStore?.(rc.store.db) === true;
  // The SBDH's facts for EDS, from the copy just written. Reporting never stands in the way of a reception: a
  // header that cannot be read reports nothing.
  const read =
    blob && (rc.eds?.enabled || handOver)
      ? await readEnvelope(rx, blob, rc).catch(() => undefined)
      : undefined;
  const facts = read?.header && rc.eds?.enabled ? rc.eds.factsOf(read.header) : undefined;
  const signed = await signReceipt(rx.receipt, {
    privateKey: rc.signing.privateKey,
    certificate: rc.signing.chain,
  });
  const receipt = await text(writeAs4Message(signed.xml, []).body);
  const now = rc.now();
  // Only an envelope read whole here (small): a large one's checks would hold the AS4 answer, and its memory.
  const prepared = handOver && read?.held ? await prepareHandOver(rx, rc, blob!, read.held, now) : undefined;
  // Held before the commit, so the hand-over job, which exists once it commits, finds it (a commit that fails leaves
  // an entry nothing takes: bounded, and named by content).
  if (read?.held) rc.held?.hold(messageId, read.held);
  const result = await stored('the commit', () =>
    commitTransaction(rx, rc, { receipt, blob, now, test, facts, prepared }),
  );
  // Taken by the MSH in the commit: nothing left for the hand-over job.
  if (result.handedOver && blob) rc.held?.take(messageId, blob.hash);
  rc.count?.(result.duplicate ? 'duplicate' : test ? 'test' : 'receipt');
  if (result.duplicate) {
    rc.logger.info({ messageId }, 'AS4 duplicate (concurrent): the original receipt is returned');
  } else {
    rc.logger.info(
      { messageId, sender: originalSender(um)?.value, test, size: blob?.size },
      'AS4 message committed',
    );
    if (!test) rc.onCommitted();
  }
  return result.receipt;
}

/**
 * The received envelope's header, for its EDS facts. A small envelope (the usual case) is read whole from the copy
 * just written and parsed once: held for the MSH of this process (`held.ts`), which then neither reads nor parses it
 * again. A large one, or one whose payload is not well-formed, gives its header only (the payload is not read).
 */
async function readEnvelope(
  rx: ReceivedUserMessage,
  blob: { hash: string; size: number },
  rc: ReceiveContext,
): Promise<{ header: EhmiEnvelope | undefined; held?: HeldEnvelope }> {
  if (!rc.held || blob.size > HELD_ENVELOPE_BYTES)
    return { header: await readSbdhHeader(rx.payloads[0]!.open()) };
  const bytes = await readLimited(rx.payloads[0]!.open(), HELD_ENVELOPE_BYTES, {
    tooLarge: () => new Error(`the received envelope is larger than ${HELD_ENVELOPE_BYTES} bytes`),
  });
  let loaded: LoadedEnvelope;
  try {
    loaded = loadPlainEnvelope(bytes, 'the received envelope');
  } catch {
    return { header: sbdhHeaderOf(bytes.toString('utf8')) };
  }
  return { header: loaded.envelope, held: { hash: blob.hash, bytes, loaded } };
}

/**
 * The MSH's acceptance of the envelope, prepared for the reception's commit (`MshBackend.prepareDelivery`), when the
 * MSH shares this store. Undefined, and the hand-over job delivers it, when the MSH does not take it that way or its
 * preparation fails: the reception never fails for the MSH.
 */
async function prepareHandOver(
  rx: ReceivedUserMessage,
  rc: ReceiveContext,
  blob: { hash: string; size: number },
  held: HeldEnvelope,
  now: number,
): Promise<PreparedDelivery | undefined> {
  const um = rx.userMessage;
  try {
    return await rc.backend!.prepareDelivery!({
      as4MessageId: um.messageInfo.messageId,
      sender: participantOfProperty(originalSender(um)) ?? '',
      receiver: participantOfProperty(finalRecipient(um)) ?? '',
      process: um.collaborationInfo.service.value,
      documentType: um.collaborationInfo.action,
      receivedAt: now,
      envelope: { size: blob.size, hash: blob.hash, open: () => rc.store.blobs.open(blob) },
      read: held,
    });
  } catch (err) {
    rc.logger.info(
      { messageId: um.messageInfo.messageId, err: (err as Error).message },
      'the MSH did not prepare the message in the reception: handed over by the job',
    );
    return undefined;
  }
}

/**
 * The commit's one transaction: the row with the signed receipt, the evidence, and the hand-over: the MSH's own
 * acceptance (`prepared`, under a savepoint: if it fails, only its part is rolled back) or else the hand-over job.
 */
async function commitTransaction(
  rx: ReceivedUserMessage,
  rc: ReceiveContext,
  c: {
    receipt: string;
    blob: { hash: string; size: number } | undefined;
    now: number;
    test: boolean;
    facts: EdsMessageFacts | undefined;
    prepared: PreparedDelivery | undefined;
  },
): Promise<{ duplicate: boolean; receipt: string; handedOver?: boolean }> {
  const um = rx.userMessage;
  const messageId = um.messageInfo.messageId;
  const { receipt, blob, now, test, facts, prepared } = c;
  return rc.store.transaction(async (trx) => {
    // The payload's blob row in the same commit as the row that names it.
    if (blob) await noteBlob(trx, rc.store, blob, () => rx.payloads[0]!.open());
    const row: ApReceivedTable = {
      message_id: messageId,
      status: test ? 'test' : 'received',
      sender: participantOfProperty(originalSender(um)) ?? '',
      receiver: participantOfProperty(finalRecipient(um)) ?? '',
      process: um.collaborationInfo.service.value,
      document_type: um.collaborationInfo.action,
      conversation_id: um.collaborationInfo.conversationId,
      blob_hash: blob?.hash ?? null,
      blob_size: blob?.size ?? null,
      receipt,
      received_at: now,
      delivered_at: null,
      eds_facts: facts ? JSON.stringify(facts) : null,
    };
    const inserted = await INSERT_RECEIVED.first(trx, row);
    if (!inserted) {
      const row = await trx
        .selectFrom('ap_received')
        .select('receipt')
        .where('message_id', '=', messageId)
        .executeTakeFirstOrThrow();
      return { duplicate: true, receipt: row.receipt };
    }
    await recordEvidence(trx, {
      messageId,
      kind: 'user-message',
      direction: 'inbound',
      counterpart: participantOfProperty(originalSender(um)) ?? '',
      chain: rx.verified.chain,
      // Non-repudiation of origin: the signed SOAP part exactly as received (its signature verifies on these octets).
      bytes: rx.message.soapPart,
      at: now,
    });
    // 04.1 (09.1, 14.1, 19.1): received over AS4, committed, receipted.
    if (facts && rc.eds) {
      await rc.eds.report(trx, {
        station: 'AP',
        side: 'destination',
        subtype: 'msg-received',
        facts,
        at: now,
      });
    }
    // eDelivery AS4 1.15 §2.2.3.2: the test service is answered and never delivered to the consumer.
    if (test) return { duplicate: false, receipt };
    // The MSH on this store takes it in this commit: delivered as it commits, no hand-over job. If the MSH cannot
    // (another delivery came first, its store failed), its part is rolled back and the job hands it over.
    const taken =
      prepared !== undefined &&
      (await savepoint(trx, async () => {
        await MARK_DELIVERED.run(trx, { now, messageId });
        // 04.2 (09.2, 14.2, 19.2): handed to the MSH, which commits it with this.
        if (facts && rc.eds) {
          await rc.eds.report(trx, {
            station: 'AP',
            side: 'destination',
            subtype: 'msg-sent',
            facts,
            at: now,
          });
        }
        await prepared.take(trx);
      }).then((r) => {
        if (!r.ok)
          rc.logger.info(
            { messageId, err: (r.error as Error).message },
            'the MSH did not take the message in the reception: handed over by the job',
          );
        return r.ok;
      }));
    // The hand-over job is handed the row (its first try, in this process), so that it does not read it back.
    if (!taken) await rc.queue.enqueue(trx, { queue: QUEUES.deliver, payload: { messageId }, local: row });
    return { duplicate: false, receipt, handedOver: taken };
  });
}

/**
 * Signals pushed to us (asynchronous receipts and errors; we ask for synchronous ones, eDelivery AS4 1.15
 * ReplyPattern=Response) are logged and answered with an empty 200. They are not authenticated here, so nothing acts
 * on them. A PullRequest gets EBMS:0006 EmptyMessagePartitionChannel: we offer nothing to pull.
 */
function answerSignals(
  rx: ReceivedSignals,
  logger: Logger,
  reply: import('fastify').FastifyReply,
): import('fastify').FastifyReply {
  for (const s of rx.signalMessages) {
    if (s.pullRequest) {
      throw new EhmiError('EHMI_AS4_EMPTY_MPC', 'this access point offers no messages for pulling');
    }
    logger.info(
      {
        signalId: s.messageInfo.messageId,
        refToMessageId: s.messageInfo.refToMessageId,
        receipt: s.receipt !== undefined,
        errors: s.errors.map((e) => e.errorCode),
      },
      'AS4 signal received outside an exchange; logged and ignored (receipts and errors are synchronous)',
    );
  }
  return reply.code(200).send();
}
