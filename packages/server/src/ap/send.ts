import type { X509Certificate } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  type As4ProfileId,
  checkReceiptNri,
  checkSignedCoverage,
  type MessagePartReference,
  parseEnvelope,
  parseMessaging,
  verifyEnvelope,
} from '@ehmi/as4';
import { EhmiError } from '@ehmi/errors';
import { checkCertificatePurpose, checkCertificateTrust, type RevocationChecker } from '@ehmi/pki';
import { type Kysely, type Selectable, sql } from 'kysely';
import type { Logger } from 'pino';
import { type Dispatcher, request } from 'undici';
import { linkSignal } from '../abort.ts';
import {
  alongside,
  type ByteSource,
  type DiscoveredEndpoint,
  type MshBackend,
  type ReceiverDiscovery,
} from '../contract.ts';
import type { DeliveryStatusReporter } from '../delivery-status/index.ts';
import { readLimited } from '../http/read-limited.ts';
import { QUEUES } from '../path.ts';
import { fixedStatement } from '../store/fixed.ts';
import type { Job, JobContext, JobQueue } from '../store/index.ts';
import { checkNotRevoked } from '../trust.ts';
import { endpointCertificate, type FreshLookups, normaliseParticipant } from './discovery.ts';
import { recordEvidence } from './evidence.ts';
import { buildOutboundMessage, type SigningCredential } from './message.ts';
import type { ApOutboundTable, ApStore, ApTables } from './tables.ts';

/** The job id of a submission's send job: one per submission, so a sweep can find it. */
export const sendJobId = (submissionId: string) => `${QUEUES.send}:${submissionId}`;

/** Largest response we read (a receipt or an error signal is a few KB; the AS4 envelope limit is 4 MiB). */
export const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/**
 * ebMS errors after which sending the same message again may succeed (eDelivery AS4 1.15 §3.3 reception awareness;
 * ebMS3 Core §6.7.1/6.7.2): ConnectionFailure, DysfunctionalReliability, DeliveryFailure. Every other failure is
 * the message's own fault and final at once (EBMS:0101 FailedAuthentication, 0102, 0103, 0010, 0303, …) — except
 * EBMS:0004 Other with an HTTP 5xx, which is how a receiver reports that its database or disk is down.
 */
const RETRYABLE_EBMS = new Set(['EBMS:0005', 'EBMS:0201', 'EBMS:0202']);

export interface SendContext {
  store: ApStore;
  /** The queue outcome jobs go on. */
  handoverQueue: JobQueue;
  logger: Logger;
  discovery: ReceiverDiscovery;
  /**
   * Lookups past the discovery cache when the receiver cannot decrypt (EBMS:0102) or signs its receipt with another
   * certificate than the cached answer names: it may have rolled its certificate over (rate-limited).
   */
  freshLookups?: FreshLookups;
  signing: SigningCredential;
  /** A discovered endpoint's certificate must chain to one of these (config `ap.trustAnchors`). */
  trustAnchors: readonly X509Certificate[];
  revocation: RevocationChecker;
  /** The node's development switch: a discovered `http://` endpoint is accepted. */
  insecure: boolean;
  dispatcher: Dispatcher;
  timeoutMs: number;
  serviceType: string;
  profile: As4ProfileId;
  onOutcome: () => void;
  /**
   * The MSH told of each final state: in the transaction that records it when both share the store (one commit for
   * the send's end and the MSH's record), else by the `ap.outcome` job. Without it, always by the job.
   */
  backend?: MshBackend;
  /** Aborted when the role closes: a send in flight stops and is retried after the restart. */
  closing?: AbortSignal;
  /** Counts attempts by result: `sent`, `retry`, `failed`. */
  count?: (result: string) => void;
  /** The AP's clock (epoch ms): row times and the receipt's wsu:Timestamp window. */
  now: () => number;
  /** EDS reporting: 03.2 (08.2, 13.2, 18.2) with the final state. */
  eds?: DeliveryStatusReporter;
}

/** Why a send attempt ended without a receipt. */
export class AttemptFailed extends Error {
  readonly retry: boolean;
  readonly ebmsCode: string | undefined;
  constructor(message: string, retry: boolean, ebmsCode?: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'AttemptFailed';
    this.retry = retry;
    this.ebmsCode = ebmsCode;
  }
}

type Outbound = Selectable<ApOutboundTable>;

/**
 * The `ap.send` job: one attempt to send a submission and obtain its signed receipt (eDelivery AS4 1.15 §3.3
 * reception awareness). Discovery → build (same MessageId every attempt) → POST → verify the receipt → `sent`.
 * A failure that may pass throws (the queue retries with the ap.send back-off); the last attempt, and a final
 * error, mark the message `failed` and queue its outcome for the MSH.
 */
export function sendHandler(sc: SendContext) {
  return async (job: Job<{ submissionId: string }>, { signal, complete }: JobContext): Promise<void> => {
    // The row its submission just wrote, handed with the job (its first try, in this process), or read.
    const row =
      (job.local as Outbound | undefined) ??
      (await OUTBOUND_ROW.first(sc.store.db, { submission: job.payload.submissionId }));
    if (row?.status !== 'pending') return; // done before (a repeated job): idempotent
    const linked = sc.closing ? linkSignal(signal, sc.closing) : undefined;
    const abort = linked?.signal ?? signal;
    try {
      const receipt = await attempt(sc, row, abort);
      await finish(
        sc,
        row,
        {
          status: 'sent',
          receipt: receipt.xml,
          endpointUrl: receipt.endpointUrl,
          evidence: receipt.evidence,
        },
        complete,
      );
      sc.count?.('sent');
      sc.logger.info(
        { messageId: row.as4_message_id, attempt: job.attempt, endpoint: receipt.endpointUrl },
        'AS4 message sent; receipt verified',
      );
    } catch (err) {
      const failure =
        err instanceof AttemptFailed
          ? err
          : new AttemptFailed((err as Error).message ?? String(err), true, undefined, err);
      // Shutting down: not the message's fault; the queue retries it after the restart.
      if (sc.closing?.aborted) throw failure;
      const last = job.attempt >= job.maxAttempts;
      if (!failure.retry || last) {
        // eDelivery AS4 1.15 §3.3: MissingReceiptNotifyProducer — after the last retry, EBMS:0301 to the producer.
        const ebmsCode = failure.retry ? 'EBMS:0301' : failure.ebmsCode;
        const reason = failure.retry
          ? `no receipt after ${job.attempt} attempts (MissingReceipt); last error: ${failure.message}`
          : failure.message;
        await finish(sc, row, { status: 'failed', ebmsCode, reason, lastError: failure.message }, complete);
        sc.count?.('failed');
        sc.logger.warn(
          { messageId: row.as4_message_id, attempt: job.attempt, ebmsCode, reason },
          'AS4 message failed',
        );
        return;
      }
      await sc.store.db
        .updateTable('ap_outbound')
        .set({ last_error: failure.message.slice(0, 4000), updated_at: sc.now() })
        .where('submission_id', '=', row.submission_id)
        .execute();
      sc.count?.('retry');
      throw failure;
    } finally {
      linked?.unlink();
    }
  };
}

/** Payloads up to this size are read from the blob store once per attempt and held in memory while it lasts. */
const PAYLOAD_READ_ONCE_BYTES = 256 * 1024;

/** A send attempt noted before its POST (the references a later receipt must match), built once (store/fixed.ts). */
const NOTE_ATTEMPT = fixedStatement(['attempts', 'references', 'endpoint', 'now', 'submission'], (db, p) =>
  (db as Kysely<ApTables>)
    .updateTable('ap_outbound')
    .set({ attempts: p.attempts, sent_references: p.references, endpoint_url: p.endpoint, updated_at: p.now })
    .where('submission_id', '=', p.submission),
);

/** A submission's outbound row, built once (store/fixed.ts). */
export const OUTBOUND_ROW = fixedStatement<'submission', Outbound>(['submission'], (db, p) =>
  (db as Kysely<ApTables>).selectFrom('ap_outbound').selectAll().where('submission_id', '=', p.submission),
);

/**
 * A pending send's final state, built once (store/fixed.ts): the endpoint is kept when the attempt learnt none, and
 * `outcome_at` set only when the MSH has the outcome in the same transaction (null leaves it unset).
 */
const RECORD_OUTCOME = fixedStatement(
  ['status', 'receipt', 'ebmsCode', 'reason', 'lastError', 'endpoint', 'outcomeAt', 'now', 'submission'],
  (db, p) =>
    (db as Kysely<ApTables>)
      .updateTable('ap_outbound')
      .set({
        status: p.status,
        receipt: p.receipt,
        ebms_code: p.ebmsCode,
        reason: p.reason,
        last_error: p.lastError,
        endpoint_url: sql<string>`coalesce(${p.endpoint}, endpoint_url)`,
        outcome_at: sql<number>`coalesce(${p.outcomeAt}, outcome_at)`,
        finished_at: p.now,
        updated_at: p.now,
      })
      .where('submission_id', '=', p.submission)
      .where('status', '=', 'pending'),
);

/**
 * The payload of an attempt. It is read twice (the signature's digest, then the HTTP body): a small one is read once
 * into memory (one open and read, its hash checked), a large one streamed from the blob store each time, never
 * held whole.
 */
async function payloadSource(sc: SendContext, row: Outbound): Promise<ByteSource> {
  const ref = { hash: row.blob_hash, size: row.blob_size };
  if (row.blob_size > PAYLOAD_READ_ONCE_BYTES)
    return { size: ref.size, open: () => sc.store.blobs.open(ref) };
  const bytes = await sc.store.blobs.read(ref, PAYLOAD_READ_ONCE_BYTES);
  return { size: bytes.length, open: () => Readable.from([bytes]) };
}

async function attempt(
  sc: SendContext,
  row: Outbound,
  signal: AbortSignal,
): Promise<{ xml: string; endpointUrl: string; evidence: ReceiptEvidence }> {
  let endpoint: Awaited<ReturnType<ReceiverDiscovery['lookup']>>;
  try {
    endpoint = await sc.discovery.lookup(row.receiver, row.document_type, row.process);
  } catch (err) {
    // eDelivery AS4 1.15 §1.5.4 Dynamic Sender: submission fails when discovery fails. Not registered is final;
    // a lookup that failed (DNS, SMP down) is retried.
    const e = err instanceof EhmiError ? err : undefined;
    throw new AttemptFailed(
      `discovery of ${row.receiver}: ${(err as Error).message}`,
      !e || e.transient || e.code === 'EHMI_INTERNAL',
      undefined,
      err,
    );
  }
  const recipient = endpointCertificate(endpoint);
  await checkEndpoint(sc, row.receiver, endpoint.endpointUrl, recipient);
  const message = await buildOutboundMessage({
    messageId: row.as4_message_id,
    timestamp: new Date(row.created_at),
    sender: row.sender,
    receiver: row.receiver,
    process: row.process,
    documentType: row.document_type,
    serviceType: sc.serviceType,
    trackingIdentifier: row.tracking_identifier ?? undefined,
    payload: await payloadSource(sc, row),
    signing: sc.signing,
    recipientCertificate: recipient,
    profile: sc.profile,
  });
  // Recorded before the POST: a receipt for this transmission, returned later for a duplicate, must still match.
  const earlier = JSON.parse(row.sent_references) as MessagePartReference[][];
  const all = [...earlier, message.references];
  await NOTE_ATTEMPT.run(sc.store.db, {
    attempts: row.attempts + 1,
    references: JSON.stringify(all.slice(-32)),
    endpoint: endpoint.endpointUrl,
    now: sc.now(),
    submission: row.submission_id,
  });

  let status: number;
  let contentType: string;
  let body: Buffer;
  try {
    // A message whose payload is held in memory anyway goes as one buffer: undici then writes the request's head
    // and body in one TLS write with a Content-Length, not a chunked write per MIME part (four writes a message).
    const requestBody =
      row.blob_size <= PAYLOAD_READ_ONCE_BYTES
        ? Buffer.concat((await message.body.toArray()) as Buffer[])
        : message.body;
    const response = await request(endpoint.endpointUrl, {
      method: 'POST',
      dispatcher: sc.dispatcher,
      headers: { 'content-type': message.contentType },
      body: requestBody,
      signal: AbortSignal.any([signal, AbortSignal.timeout(sc.timeoutMs)]),
      headersTimeout: sc.timeoutMs,
      bodyTimeout: sc.timeoutMs,
    });
    status = response.statusCode;
    contentType = String(response.headers['content-type'] ?? '');
    body = await readLimited(response.body, MAX_RESPONSE_BYTES, {
      declared: response.headers['content-length'],
    });
  } catch (err) {
    message.body.destroy();
    throw new AttemptFailed(
      `POST ${endpoint.endpointUrl}: ${(err as Error).message}`,
      true,
      'EBMS:0005',
      err,
    );
  }
  // The register asked again, past the cache, once per receiver and interval: a receiver that rolled its
  // certificate over signs receipts with the new one, and may no longer decrypt with the old.
  let asked: Promise<DiscoveredEndpoint | undefined> | undefined;
  const askAgain = () => {
    asked ??= freshEndpoint(sc, row);
    return asked;
  };
  let receipt: Awaited<ReturnType<typeof interpret>>;
  try {
    receipt = await interpret(
      sc,
      row.as4_message_id,
      all,
      recipient,
      { status, contentType, body },
      {
        newerRecipient: async (signer) => {
          const fresh = await askAgain();
          if (!fresh) return false;
          const certificate = endpointCertificate(fresh);
          if (!certificate.raw.equals(signer.raw)) return false;
          await checkEndpoint(sc, row.receiver, fresh.endpointUrl, certificate);
          return true;
        },
      },
    );
  } catch (err) {
    // EBMS:0102: the receiver cannot decrypt, maybe because we encrypted to the certificate our cached answer
    // names and it has rolled over (and no longer holds the old key). When the register now names another
    // certificate, the message is sent again (the next attempt's lookup finds the fresh answer in the cache);
    // otherwise the error is final as before.
    if (err instanceof AttemptFailed && err.ebmsCode === 'EBMS:0102' && !err.retry) {
      const fresh = await askAgain();
      if (fresh && !endpointCertificate(fresh).raw.equals(recipient.raw)) {
        throw new AttemptFailed(
          `${err.message}; the register now publishes another certificate for ${row.receiver}: sent again, encrypted to it`,
          true,
          err.ebmsCode,
          err,
        );
      }
    }
    throw err;
  }
  return { xml: receipt.xml, endpointUrl: endpoint.endpointUrl, evidence: { body, chain: receipt.chain } };
}

/**
 * The receiver's endpoint asked of the register past the cache (the answer then replaces the cached one), or
 * `undefined` when the rate limit refuses (asked within `ap.discovery.refreshIntervalMs`) or the lookup fails.
 */
async function freshEndpoint(sc: SendContext, row: Outbound): Promise<DiscoveredEndpoint | undefined> {
  if (!sc.freshLookups) return undefined;
  const key = `endpoint:${normaliseParticipant(row.receiver)}|${row.document_type}|${row.process}`;
  try {
    return await sc.freshLookups.run(key, () =>
      sc.discovery.lookup(row.receiver, row.document_type, row.process, { fresh: true }),
    );
  } catch (err) {
    sc.logger.warn(
      { receiver: row.receiver, msg: (err as Error).message },
      'looking the receiver up again failed',
    );
    return undefined;
  }
}

/** A verified receipt as evidence: the response body exactly as received and its signer's chain. */
interface ReceiptEvidence {
  body: Buffer;
  chain: X509Certificate[];
}

/**
 * The synchronous response to the UserMessage `messageId`: a signed receipt (→ its XML, its signer's chain and its
 * eb:Timestamp), an ebMS error, or anything else (→ retry).
 */
export async function interpret(
  sc: Pick<SendContext, 'now'>,
  messageId: string,
  sentReferences: MessagePartReference[][],
  recipient: X509Certificate,
  response: { status: number; contentType: string; body: Buffer },
  options: {
    /**
     * Asked when the receipt is signed by another certificate than `recipient`: whether the register, asked
     * again, now publishes that one for the receiver (a rollover).
     */
    newerRecipient?: (signer: X509Certificate) => Promise<boolean>;
  } = {},
): Promise<{ xml: string; chain: X509Certificate[]; timestamp: string }> {
  const httpInfo = `HTTP ${response.status}`;
  if (!/^application\/soap\+xml/i.test(response.contentType) || response.body.length === 0) {
    throw new AttemptFailed(
      `${httpInfo} without an AS4 signal (${response.contentType || 'no content type'})`,
      true,
    );
  }
  let env: ReturnType<typeof parseEnvelope>;
  let messaging: ReturnType<typeof parseMessaging>;
  try {
    env = parseEnvelope(response.body);
    messaging = parseMessaging(env.messaging);
  } catch (err) {
    throw new AttemptFailed(
      `${httpInfo}: unreadable response: ${(err as Error).message}`,
      true,
      undefined,
      err,
    );
  }
  if (messaging.kind !== 'signal') throw new AttemptFailed(`${httpInfo}: the response is not a signal`, true);
  const signals = messaging.signalMessages;
  const receipt = signals.find((s) => s.receipt);
  if (receipt) {
    try {
      // The receipt's signer: the certificate discovery gave us (the one we encrypted to), or — for an AP that signs
      // with a separate key — a certificate that chains to our trust anchors.
      const verified = await verifyEnvelope(env.document, [], {
        // The receipt is the receiver's: signed with the certificate the register publishes for it, and no other.
        // A receiver that rolled its certificate over signs with the new one before our cached answer names it.
        trust: async (chain) =>
          chain[0] !== undefined &&
          (chain[0].raw.equals(recipient.raw) ||
            (options.newerRecipient !== undefined && (await options.newerRecipient(chain[0])))),
        clock: () => new Date(sc.now()),
      });
      checkSignedCoverage(env, verified);
      // AS4 Profile §5.1.8: the NonRepudiationInformation must be what we signed, in this or an earlier attempt
      // (a duplicate is answered with the receipt of the transmission the receiver committed).
      let lastError: unknown;
      for (const references of [...sentReferences].reverse()) {
        try {
          checkReceiptNri(receipt, { messageId, references });
          return {
            xml: response.body.toString('utf8'),
            chain: verified.chain,
            timestamp: receipt.messageInfo.timestamp,
          };
        } catch (err) {
          lastError = err;
        }
      }
      throw lastError;
    } catch (err) {
      // An invalid receipt is no receipt: reception awareness sends again (the same MessageId) and, after the last
      // try, reports EBMS:0301.
      const e = err instanceof EhmiError ? err : undefined;
      throw new AttemptFailed(
        `invalid receipt (${e?.ebmsCode ?? 'EBMS:0302'}): ${(err as Error).message}`,
        true,
        e?.ebmsCode,
        err,
      );
    }
  }
  const errors = signals.flatMap((s) => s.errors).filter((e) => e.severity !== 'warning');
  const first = errors[0];
  if (!first) throw new AttemptFailed(`${httpInfo}: a signal that is neither a receipt nor an error`, true);
  const code = String(first.errorCode);
  const text = [first.shortDescription, first.description, first.errorDetail].filter(Boolean).join(': ');
  const retry = RETRYABLE_EBMS.has(code) || (code === 'EBMS:0004' && response.status >= 500);
  throw new AttemptFailed(`the receiver answered ${code} (${httpInfo}) ${text}`.trim(), retry, code);
}

/**
 * A discovered endpoint is checked before anything is sent to it (the AP does not depend on the register being
 * honest): its address is HTTPS (plain HTTP only under the node's `insecure` development switch), and the
 * certificate published for it chains to the AP's trust anchors, is valid now, is meant for AS4 and is not revoked.
 * The message is encrypted to that certificate and its receipt must be signed with it, so a forged entry would get
 * both. A failure is final: the register has to be corrected.
 */
export async function checkEndpoint(
  sc: SendContext,
  receiver: string,
  endpointUrl: string,
  certificate: X509Certificate,
) {
  const refuse = (message: string, cause?: unknown) =>
    new AttemptFailed(
      `the endpoint published for ${receiver} is refused: ${message}`,
      false,
      'EBMS:0004',
      cause,
    );
  let url: URL;
  try {
    url = new URL(endpointUrl);
  } catch (err) {
    throw refuse(`"${endpointUrl}" is not a URL`, err);
  }
  if (url.protocol !== 'https:' && !(sc.insecure && url.protocol === 'http:')) {
    throw refuse(`its address ${endpointUrl} is not https`);
  }
  const what = `access point certificate published for ${receiver}`;
  // The SMP publishes the certificate alone, without its issuers: a CA between it and a root must itself be listed
  // in `ap.trustAnchors`.
  try {
    const path = checkCertificateTrust(certificate, { trustAnchors: sc.trustAnchors, what });
    checkCertificatePurpose(certificate, 'as4', { what });
    await checkNotRevoked(sc.revocation, path, { what, errorCode: 'EHMI_CERTIFICATE_UNTRUSTED' });
  } catch (err) {
    throw refuse((err as Error).message, err);
  }
}

/**
 * Final state and the outcome job, in one transaction (the outcome exists only if the state does); with `sent`, the
 * receipt's evidence row too (evidence exists exactly when the message is recorded sent); with `complete`, the send
 * job's completion too (one commit for the attempt's end).
 */
async function finish(
  sc: SendContext,
  row: Outbound,
  result: {
    status: 'sent' | 'failed';
    receipt?: string;
    endpointUrl?: string;
    ebmsCode?: string | undefined;
    reason?: string;
    lastError?: string;
    /** The verified receipt, kept as non-repudiation-of-receipt evidence with the `sent` state. */
    evidence?: ReceiptEvidence;
  },
  complete?: JobContext['complete'],
): Promise<void> {
  const now = sc.now();
  const evidence = result.evidence;
  // The final state; with `told`, the MSH has the outcome (in this transaction, or before it), so no outcome job.
  const record = async (trx: Parameters<typeof recordEvidence>[0], told: boolean): Promise<boolean> => {
    const updated = await RECORD_OUTCOME.affected(trx, {
      status: result.status,
      receipt: result.receipt ?? null,
      ebmsCode: result.ebmsCode ?? null,
      reason: result.reason?.slice(0, 4000) ?? null,
      lastError: result.lastError?.slice(0, 4000) ?? null,
      endpoint: result.endpointUrl || null,
      outcomeAt: told ? now : null,
      now,
      submission: row.submission_id,
    });
    if (updated !== 1) return false;
    await complete?.(trx);
    if (evidence) {
      await recordEvidence(trx, {
        messageId: row.as4_message_id,
        kind: 'receipt',
        direction: 'outbound',
        counterpart: row.receiver,
        chain: evidence.chain,
        bytes: evidence.body,
        at: now,
      });
    }
    if (!told) {
      await sc.handoverQueue.enqueue(trx, {
        queue: QUEUES.outcome,
        payload: { submissionId: row.submission_id },
      });
    }
    // 03.2: sent over AS4 (the receiving AP's receipt verified), or failed for good.
    if (sc.eds?.enabled && row.eds_facts) {
      await sc.eds.report(trx, {
        station: 'AP',
        side: 'origin',
        subtype: 'msg-sent',
        facts: JSON.parse(row.eds_facts),
        outcome: result.status === 'sent' ? 'success' : 'failure',
        at: now,
      });
    }
    return true;
  };
  // Where the MSH shares the store, it records the outcome and commits this state with it (its transaction runs
  // `record` first): one commit instead of this one and the outcome job's. If it cannot take it now (it throws), the
  // state commits below with the outcome job, as for an MSH on another store, which learns the outcome only after
  // the AP's state committed.
  if (sc.backend?.sharesStore?.(sc.store.db) === true) {
    let recorded = false;
    const part = alongside(sc.store.db, async (trx) => {
      recorded = await record(trx as never, true);
      // No longer pending (finished meanwhile): nothing to tell, nothing to commit.
      if (!recorded) throw notPending;
    });
    try {
      await sc.backend.outcome(
        {
          submissionId: row.submission_id,
          as4MessageId: row.as4_message_id,
          status: result.status,
          at: now,
          ...(result.ebmsCode ? { ebmsCode: result.ebmsCode } : {}),
          ...(result.reason ? { reason: result.reason.slice(0, 4000) } : {}),
          ...((result.endpointUrl ?? row.endpoint_url)
            ? { endpointUrl: result.endpointUrl ?? row.endpoint_url! }
            : {}),
        },
        part,
      );
    } catch (err) {
      if (err === notPending) return;
      sc.logger.warn(
        { err, submissionId: row.submission_id },
        'the MSH did not take the outcome with the send; it is queued for it',
      );
    }
    if (part.committed()) {
      if (recorded) sc.onOutcome();
      return;
    }
  }
  const committed = await sc.store.transaction((trx) => record(trx, false));
  if (committed) sc.onOutcome();
}

/** Thrown inside the MSH's transaction when the outbound row was finished meanwhile: it rolls back. */
const notPending = new Error('the outbound message is no longer pending');

/**
 * A pending message whose send job is gone (dead-lettered after its worker died on the last attempt) would wait
 * forever: mark it failed with EBMS:0301 and tell the MSH. Run by the retention sweep.
 */
export async function failOrphans(sc: SendContext): Promise<number> {
  let failed = 0;
  // In pages: a backlog of pending messages is never read into memory at once.
  for (let after = ''; ; ) {
    const pending = await sc.store.db
      .selectFrom('ap_outbound')
      .selectAll()
      .where('status', '=', 'pending')
      .where('submission_id', '>', after)
      .orderBy('submission_id')
      .limit(500)
      .execute();
    if (pending.length === 0) return failed;
    after = pending.at(-1)!.submission_id;
    const live = await sc.handoverQueue.live(pending.map((row) => sendJobId(row.submission_id)));
    for (const row of pending.filter((r) => !live.has(sendJobId(r.submission_id)))) {
      await finish(sc, row, {
        status: 'failed',
        ebmsCode: 'EBMS:0301',
        reason: 'no receipt: the send job ended without a result (worker stopped on its last attempt)',
      });
      failed++;
    }
  }
}
