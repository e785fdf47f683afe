import type { X509Certificate } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { EdsMessageFacts, LoadedEnvelope } from '@ehmi/sbdh';
import { afterCommit } from './store/db.ts';
import type { AnyDb } from './store/types.ts';

/**
 * The contract between a message service handler and its access point (ehmi-core §1.1: "MSH … talks to AP over a
 * secured interface"). Both directions are durable hand-overs: a call resolves only after the receiving side has
 * committed what it was given, and every call is idempotent on its key, so the caller may repeat it after a crash
 * (at-least-once calls, exactly-once effect). In one process the calls are direct; nothing in them assumes that.
 */

/**
 * The caller's own record of a hand-over (a job's completion, a status), to commit in the callee's transaction when
 * both sides are on one store: one commit for the hand-over instead of one on each side. The callee runs it first
 * thing in the transaction that commits what it was given ({@link runAlongside}); a callee on another database, or
 * one that commits nothing (a repeated call), does not, and the caller then commits its record on its own
 * ({@link alongside} tells it which).
 */
export interface Alongside<R = void> {
  /** The caller's database handle: a callee runs `run` only when its store has this same one. */
  readonly db: unknown;
  run(trx: AnyDb, result: R): Promise<void>;
}

/** The callee's side of {@link Alongside}: run the caller's part in `trx` when both share the database `db`. */
export async function runAlongside<R>(
  part: Alongside<R> | undefined,
  db: unknown,
  trx: AnyDb,
  result: R,
): Promise<void> {
  if (part !== undefined && part.db === db) await part.run(trx, result);
}

/**
 * The caller's side of {@link Alongside}: `committed()` is true once `run` ran in a transaction of the callee that
 * committed (then the caller's record is in; otherwise the caller commits it itself).
 */
export function alongside<R = void>(
  db: unknown,
  run: (trx: AnyDb, result: R) => Promise<void>,
): Alongside<R> & { committed(): boolean } {
  let committed = false;
  return {
    db,
    async run(trx, result) {
      await run(trx, result);
      // A transaction of Store.transaction: in once it commits. A plain handle: in now.
      if (!afterCommit(trx, () => (committed = true))) committed = true;
    },
    committed: () => committed,
  };
}

/** Bytes that can be read more than once (a stored blob, a file, a buffer). */
export interface ByteSource {
  /** Octets, when known up front. */
  size?: number;
  /**
   * `sha256:<hex>` of the content, when it is a blob of the caller's store: a callee on the same blob store names
   * that blob instead of copying it (a callee on another reads `open()` as ever).
   */
  hash?: string;
  open(): Readable;
}

/** What the MSH hands to its AP to send: one ehmiSBDH envelope for one receiver. */
export interface OutboundSubmission {
  /** Idempotency key chosen by the MSH (unique per envelope): a repeated submit returns the first result. */
  submissionId: string;
  /** `0088:<GLN>` (iso6523-actorid-upis) of the sending organisation: the AS4 `originalSender`. */
  sender: string;
  /** `0088:<GLN>` of the receiving organisation: the AS4 `finalRecipient` and the SMP participant. */
  receiver: string;
  /** SBDH DOCUMENTID scope: the SMP document type, and the AS4 Action. */
  documentType: string;
  /** SBDH PROCESSID scope: the SMP process, and the AS4 Service. */
  process: string;
  /** The whole ehmiSBDH document (XML), sent as the one AS4 payload. */
  envelope: ByteSource;
  /** Optional AS4 `trackingIdentifier` message property (eDelivery AS4 1.15 §2.6.1). */
  trackingIdentifier?: string;
  /**
   * The envelope's facts for EHMI Delivery Status (read by the MSH when it built the envelope), so the AP reports
   * its steps without parsing the envelope; absent when the node reports to no EDS.
   */
  eds?: EdsMessageFacts;
}

export interface SubmissionAccepted {
  submissionId: string;
  /** The AS4 MessageId, fixed now and kept across every retry (docs/architecture.md "Durability"). */
  as4MessageId: string;
}

/** What the AP's discovery says of a receiver (`AccessPointGateway.checkReceiver`). */
export type ReceiverCheck =
  | { registered: true; endpointUrl: string }
  /** The register answered that it does not serve the receiver for this document type and process. */
  | { registered: false; reason: string };

/** The MSH side of the contract as the AP sees it. */
export interface AccessPointGateway {
  /**
   * Durably queue an envelope for sending; idempotent on `submissionId`. `part`: the MSH's record of the hand-over,
   * committed with the AP's (see {@link Alongside}).
   */
  submit(submission: OutboundSubmission, part?: Alongside<SubmissionAccepted>): Promise<SubmissionAccepted>;
  /**
   * Whether `submitIn` writes to the database handle `db` (the AP's store is that one). Absent: false.
   */
  sharesStore?(db: unknown): boolean;
  /**
   * `submit` in the caller's own transaction `trx` on the shared store (only where `sharesStore` said so): the AP's
   * record and its send job commit with whatever the caller commits there, one commit for the envelope's acceptance
   * and its hand-over. The envelope must be a blob of that store (`hash` and `size`), noted by the caller in `trx`.
   * Throws what `submit` throws; the caller's transaction then rolls back.
   */
  submitIn?(trx: AnyDb, submission: OutboundSubmission): Promise<SubmissionAccepted>;
  /**
   * Whether the receiver can be sent `documentType` in `process`, by the same discovery (and cache) the AP sends
   * with, so the MSH can refuse a message no AP could deliver before it accepts it. `registered: false` only for a
   * definite answer (the SMP says the participant or its document type is not registered, or the identifier is
   * malformed); a discovery that cannot be had (DNS or SMP down, an answer refused) throws, and is no answer.
   */
  checkReceiver(receiver: string, documentType: string, process: string): Promise<ReceiverCheck>;
  /**
   * Send the receiver's access point one ebMS 3.0 test-service message (eDelivery AS4 1.15 §2.2.3.2) and wait for its
   * signed receipt: the round trip, the receipt's time, recorded as the partner's last ping (`pings`). Throws, with
   * the reason recorded, when no valid receipt comes. An AP without it does not offer the test service.
   */
  ping?(receiver: string): Promise<PingResult>;
  /** The last ping of each partner this AP pinged (its last success, and its last attempt). */
  pings?(): Promise<PingRecord[]>;
}

/** A ping's answer: the receiving AP's signed receipt of one test-service message. */
export interface PingResult {
  receiver: string;
  as4MessageId: string;
  endpointUrl: string;
  /** When the message was posted (epoch ms, the AP's clock). */
  sentAt: number;
  /** From the POST to the verified receipt, in ms. */
  roundTripMs: number;
  /** The receipt's eb:Timestamp, as the receiving AP wrote it. */
  receiptTime: string;
}

/** What an AP keeps of its pings to one partner. */
export interface PingRecord {
  receiver: string;
  /** The last success: when (epoch ms), its round trip (ms) and the receipt's time (epoch ms); absent before one. */
  lastOk?: { at: number; roundTripMs: number; receiptAt: number; as4MessageId: string; endpointUrl: string };
  lastAttemptAt: number;
  /** Why the last attempt failed, when it did. */
  lastError?: string;
}

/** An envelope the AP received, verified, decrypted, committed and receipted: for the MSH to take over. */
export interface InboundEnvelope {
  /** AS4 MessageId: the idempotency key of `deliver`. */
  as4MessageId: string;
  /** AS4 `originalSender` / `finalRecipient` properties (`0088:<GLN>`), as received. */
  sender: string;
  receiver: string;
  /** AS4 Service (process) and Action (document type). */
  process: string;
  documentType: string;
  receivedAt: number;
  envelope: ByteSource;
  /**
   * The envelope's octets and the document parsed from them, when the AP of this process read them at its commit
   * (`ap/held.ts`): an MSH in the same process uses them instead of reading and parsing `envelope` again.
   */
  read?: { bytes: Buffer; loaded: LoadedEnvelope };
}

/** What became of a submission at the AP (reception awareness, eDelivery AS4 1.15 §3.3). */
export interface OutboundOutcome {
  submissionId: string;
  as4MessageId: string;
  /** `sent`: the receiving AP's signed AS4 receipt verified. `failed`: final, no more retries. */
  status: 'sent' | 'failed';
  at: number;
  /**
   * For `failed`: the ebMS error code: EBMS:0301 MissingReceipt after the retries, the receiver's error, or EBMS:0004
   * when the sending AP refused the endpoint the register published (not https, a certificate it cannot trust).
   */
  ebmsCode?: string;
  reason?: string;
  /** The receiving access point's URL, as discovered. */
  endpointUrl?: string;
}

/**
 * The MSH as its AP sees it. Both calls are idempotent and resolve only after the MSH committed. `part`: the AP's
 * record of the hand-over, committed with the MSH's (see {@link Alongside}).
 */
export interface MshBackend {
  /**
   * Whether `outcome` commits to the database handle `db` and runs its `part` there: an AP on that store then tells
   * the outcome of a send in the send's own commit. A method, so that the node's stand-in for a role created later
   * (`ServiceRegistry.late`) passes it on. Absent: false.
   */
  sharesStore?(db: unknown): boolean;
  deliver(inbound: InboundEnvelope, part?: Alongside): Promise<void>;
  /**
   * Where the MSH shares the AP's store (`sharesStore`): its acceptance of a received envelope prepared before the
   * AP's reception commits, to be taken in that same commit ({@link PreparedDelivery}): a new message (read,
   * validated, checked for duplicates, its EnvelopeReceipt built and its blobs put) or an EnvelopeReceipt for an
   * envelope we sent (read, correlated with the submission it answers and checked to come from its receiver).
   * Undefined when it is not taken that way (an acknowledgement, a duplicate, a refusal, a receipt that is ignored):
   * the AP hands the envelope over by its job, to `deliver`, as before. Writes nothing the AP's commit depends on.
   */
  prepareDelivery?(inbound: InboundEnvelope): Promise<PreparedDelivery | undefined>;
  outcome(outcome: OutboundOutcome, part?: Alongside): Promise<void>;
}

/** A received envelope's acceptance by the MSH, prepared, to be taken in the AP's reception commit. */
export interface PreparedDelivery {
  /**
   * Take the envelope in the AP's reception transaction `trx` on the shared store (under a savepoint of the AP's):
   * the MSH's record of the AS4 MessageId and then the inbox item, its EnvelopeReceipt's submission and its EDS
   * steps, or for an EnvelopeReceipt the answered message's step 10.1 (its state, events, EDS, webhooks). Throws
   * when it cannot take it after all (another delivery of the same message or of its duplicate keys came first, the
   * store): the AP then rolls back to its savepoint and hands the envelope over by its job (`deliver`).
   */
  take(trx: AnyDb): Promise<void>;
}

/** Where to send a document type to a participant (the SMP lookup; ehmi-core §1.2 step 3). */
export interface DiscoveredEndpoint {
  endpointUrl: string;
  /**
   * The receiving AP's certificate: encrypt to it, and check its receipts' signatures with it. node:crypto's, the
   * one certificate type between the packages (what `SmpClient` returns and @ehmi/as4 takes).
   */
  certificate: X509Certificate;
  transportProfile: string;
}

/**
 * Dynamic discovery as the AP needs it; `SmpClient` from @ehmi/smp satisfies it, and so does the static map used
 * until the registers run. Errors: `EHMI_SMP_NOT_REGISTERED` (permanent: the receiver cannot be reached) and
 * `EHMI_SMP_LOOKUP_FAILED` (transient).
 */
export interface ReceiverDiscovery {
  /**
   * Where to send a document type to a participant. Answers may be cached (`ap.discovery.smp.cacheTtlMs`);
   * `fresh` asks the register again and replaces the cached answer (a receiver that rolled its certificate over).
   */
  lookup(
    participant: string,
    documentType: string,
    process?: string,
    options?: { fresh?: boolean },
  ): Promise<DiscoveredEndpoint>;
  /**
   * The access point certificates the register publishes for a participant (for any of its document types): a
   * message or receipt claiming to come from that participant must be signed with one of them. `fresh` as in
   * `lookup`.
   */
  accessPointCertificates(participant: string, options?: { fresh?: boolean }): Promise<X509Certificate[]>;
  /**
   * The access point the register publishes for a participant, for any of its document types: where the ebMS test
   * service goes (`ehmi ping`), which no register publishes as a document type of its own. Without it, the test
   * service is looked up as a document type (a static map answers for every one).
   */
  accessPointEndpoint?(participant: string): Promise<DiscoveredEndpoint>;
}
