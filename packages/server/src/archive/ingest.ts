import { createHash } from 'node:crypto';
import { EhmiError } from '@ehmi/errors';
import { type EhmiEnvelope, payloadOf, scopeValue, validate } from '@ehmi/sbdh';
import type { Logger } from 'pino';
import { type Alongside, type InboundEnvelope, type MshBackend, runAlongside } from '../contract.ts';
import type { DeliveryStatusReporter } from '../delivery-status/reporter.ts';
import { readLimited } from '../http/read-limited.ts';
import { type AnyDb, noteBlob } from '../store/index.ts';
import { type DocumentFacts, readDocumentReference } from './document.ts';
import { insertDocument, wasArchived } from './repository.ts';
import type { ArchiveStore } from './tables.ts';

export interface ArchiveIngestOptions {
  store: ArchiveStore;
  /** This archive's participant (`0088:<GLN>`), from the node's organisation: a copy must be addressed to it. */
  participant: string | undefined;
  maxEnvelopeBytes: number;
  /** EDS reporting of the node: the archive takes the receiving MSH's steps of the copy (05.1). */
  eds: DeliveryStatusReporter | undefined;
  logger: Logger;
  /** The URL the archive serves a document at (the attachment URL of its DocumentReference). */
  binaryUrl: (id: string) => string;
  now?: () => number;
  /** After a document was archived (metrics). */
  onArchived?: () => void;
  /** After a copy was refused (metrics). */
  onRefused?: () => void;
}

/** The copy's envelope, at most `limit` octets. */
function readEnvelope(inbound: InboundEnvelope, limit: number): Promise<Buffer> {
  return readLimited(inbound.envelope.open(), limit, {
    tooLarge: () =>
      new EhmiError('EHMI_TOO_LARGE', `the copy is larger than ${limit} bytes (archive.maxEnvelopeBytes)`),
  });
}

/** What the archive keeps of a valid copy. */
interface Copy {
  envelope: EhmiEnvelope;
  docRef: Record<string, unknown>;
  facts: DocumentFacts;
  document: Buffer;
}

/**
 * Check a copy (ehmi-core §1.3): an ehmiSBDH valid by the IG (XSD and rules) addressed to this archive, with an
 * XDS-METADATA scope holding a DocumentReference the archive can index (document.ts), and a document (the
 * BinaryContent) that is the one the DocumentReference describes (its size and SHA-1, when it gives them).
 */
async function checkCopy(bytes: Buffer, participant: string | undefined): Promise<Copy> {
  const result = await validate(bytes, 'the archive copy');
  const envelope = result.envelope;
  if (!result.valid || !envelope) {
    const first = result.errors[0];
    throw new EhmiError(
      'EHMI_VALIDATION_FAILED',
      `the copy is no valid ehmiSBDH: ${first ? `${first.element}: ${first.message}` : 'unreadable'}`,
    );
  }
  if (participant && envelope.receiver.value !== participant) {
    throw new EhmiError(
      'EHMI_VALIDATION_FAILED',
      `the copy is addressed to ${envelope.receiver.value}, not to this archive (${participant})`,
    );
  }
  const xds = scopeValue(envelope, 'XDS-METADATA');
  if (!xds) {
    throw new EhmiError(
      'EHMI_VALIDATION_FAILED',
      'the envelope has no XDS-METADATA scope: the archive takes copies with a DocumentReference only',
    );
  }
  let docRef: Record<string, unknown>;
  try {
    docRef = JSON.parse(xds) as Record<string, unknown>;
  } catch {
    throw new EhmiError(
      'EHMI_VALIDATION_FAILED',
      'XDS-METADATA is not DocumentReference JSON (the archive reads the JSON form)',
    );
  }
  const facts = readDocumentReference(docRef);
  const document = payloadOf(envelope);
  const attachment = ((docRef.content as Record<string, unknown>[])[0]!.attachment ?? {}) as Record<
    string,
    unknown
  >;
  if (typeof attachment.size === 'number' && attachment.size !== document.byteLength) {
    throw new EhmiError(
      'EHMI_VALIDATION_FAILED',
      `the document is ${document.byteLength} octets, its DocumentReference says ${attachment.size}`,
      { expression: ['DocumentReference.content.attachment.size'] },
    );
  }
  if (typeof attachment.hash === 'string' && /^[A-Za-z0-9+/]{27}=$/.test(attachment.hash)) {
    const sha1 = createHash('sha1').update(document).digest('base64');
    if (sha1 !== attachment.hash) {
      throw new EhmiError(
        'EHMI_VALIDATION_FAILED',
        'the SHA-1 of the document is not the one its DocumentReference gives (attachment.hash)',
        { expression: ['DocumentReference.content.attachment.hash'] },
      );
    }
  }
  return { envelope, docRef, facts, document };
}

/**
 * The archive as its access point sees it (`MshBackend`): `deliver` checks a copy and archives the document with its
 * DocumentReference, in one transaction with the AP's record of the hand-over and the copy's EDS step 05.1.
 * Idempotent on the AS4 MessageId. A copy the archive cannot take is refused for good, never retried: it is logged
 * and reported to EDS as a failed 05.1, and the AP's job ends (the copy was receipted; the sender's message is not
 * concerned: ehmi-core §1.3, the copy is a delivery of its own). The archive sends nothing back, so `outcome` has
 * nothing to record.
 */
export function archiveBackend(o: ArchiveIngestOptions): MshBackend {
  const now = o.now ?? Date.now;
  const log = o.logger;
  const reportStep = async (
    trx: AnyDb,
    envelope: EhmiEnvelope | undefined,
    outcome: 'success' | 'failure',
  ): Promise<void> => {
    if (!o.eds?.enabled || !envelope) return;
    const facts = o.eds.factsOf(envelope);
    await o.eds.report(trx, {
      station: 'MSH',
      side: 'destination',
      subtype: 'msg-received',
      facts,
      outcome,
      at: now(),
    });
  };
  return {
    async deliver(inbound: InboundEnvelope, part?: Alongside): Promise<void> {
      if (await wasArchived(o.store.db, inbound.as4MessageId)) return;
      let copy: Copy;
      try {
        const bytes = await readEnvelope(inbound, o.maxEnvelopeBytes);
        copy = await checkCopy(bytes, o.participant);
      } catch (err) {
        if (!(err instanceof EhmiError) || err.transient || err.code === 'EHMI_INTERNAL') throw err;
        log.warn(
          { as4MessageId: inbound.as4MessageId, sender: inbound.sender, code: err.code, reason: err.message },
          'archive copy refused',
        );
        o.onRefused?.();
        // Read again for the EDS step's facts: one too large, or not valid, is reported without them.
        const envelope = await readEnvelope(inbound, o.maxEnvelopeBytes)
          .then(validate)
          .then((r) => r.envelope)
          .catch(() => undefined);
        await o.store.transaction(async (trx) => {
          await runAlongside(part, o.store.db, trx, undefined);
          await reportStep(trx, envelope, 'failure');
        });
        return;
      }
      const { envelope, docRef, facts, document } = copy;
      const blob = await o.store.blobs.put(document);
      const at = now();
      // The archive is the repository: the attachment is served here (Binary), whatever URL the sender put there.
      const content = (docRef.content as Record<string, unknown>[]).map((c, i) =>
        i === 0
          ? { ...c, attachment: { ...(c.attachment as Record<string, unknown>), url: o.binaryUrl(facts.id) } }
          : c,
      );
      const served = {
        ...docRef,
        meta: {
          ...((docRef.meta as Record<string, unknown>) ?? {}),
          versionId: '1',
          lastUpdated: new Date(at).toISOString(),
        },
        content,
      };
      let stored = false;
      await o.store.transaction(async (trx) => {
        await noteBlob(trx, o.store, blob, document, at);
        stored = await insertDocument(trx, {
          id: facts.id,
          as4_message_id: inbound.as4MessageId,
          envelope_id: envelope.documentIdentification.instanceIdentifier,
          message_id: scopeValue(envelope, 'MESSAGEIDENTIFIER') ?? '',
          sender: envelope.sender.value,
          patient_cpr: facts.patientCpr,
          type_token: `${facts.type.system}|${facts.type.code}`,
          type_code: facts.type.code,
          date: facts.date,
          author_sor: facts.authorSor,
          status: facts.status,
          content_type: facts.contentType,
          document_hash: blob.hash,
          document_size: blob.size,
          content: JSON.stringify(served),
          created_at: at,
        });
        await runAlongside(part, o.store.db, trx, undefined);
        if (stored) await reportStep(trx, envelope, 'success');
      });
      if (stored) {
        o.onArchived?.();
        log.info({ id: facts.id, messageId: scopeValue(envelope, 'MESSAGEIDENTIFIER') }, 'document archived');
      } else if (!(await wasArchived(o.store.db, inbound.as4MessageId))) {
        // Not this delivery's repeat: another copy holds the DocumentReference id.
        log.warn(
          { id: facts.id, as4MessageId: inbound.as4MessageId },
          'archive copy refused: DocumentReference id taken',
        );
      }
    },
    async outcome(): Promise<void> {},
    // The archive records no outcome: an AP's send ends in a commit of its own.
    sharesStore: () => false,
  };
}
