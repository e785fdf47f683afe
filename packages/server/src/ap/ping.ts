import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { EBMS_URI } from '@ehmi/as4';
import { EhmiError, isEhmiError } from '@ehmi/errors';
import { request } from 'undici';
import type { DiscoveredEndpoint, PingRecord, PingResult } from '../contract.ts';
import { readLimited } from '../http/read-limited.ts';
import { endpointCertificate } from './discovery.ts';
import { recordEvidence } from './evidence.ts';
import { buildOutboundMessage } from './message.ts';
import { AttemptFailed, checkEndpoint, interpret, MAX_RESPONSE_BYTES, type SendContext } from './send.ts';

/** The test message's one payload: a few octets of XML (the test service's content is not looked at). */
const PING_PAYLOAD = Buffer.from('<?xml version="1.0" encoding="UTF-8"?><ping xmlns="urn:ehmi:ap:ping"/>\n');

export interface PingContext extends SendContext {
  /** Our participant, `0088:<GLN>`: the test message's originalSender (the receiver checks its signer by it). */
  participant: string;
}

/** Where the test service of `receiver` goes: its AP as the register publishes it (`accessPointEndpoint`). */
async function testEndpoint(pc: PingContext, receiver: string): Promise<DiscoveredEndpoint> {
  const d = pc.discovery;
  return d.accessPointEndpoint
    ? d.accessPointEndpoint(receiver)
    : d.lookup(receiver, EBMS_URI.testAction, EBMS_URI.testService);
}

/**
 * One ebMS 3.0 test-service exchange (eDelivery AS4 1.15 §2.2.3.2: Service `…/200704/service`, Action
 * `…/200704/test`), as Domibus' connection monitoring sends it: discovery of the partner's AP, a signed, encrypted
 * UserMessage, its signed receipt verified as any receipt (the certificate published for the partner, our references
 * in its NonRepudiationInformation). Sent at once, not queued: the round trip is the answer, and a test message is
 * never retried (the receiver delivers it to no one). The partner's row of `ap_pings` records the outcome, and a
 * success keeps the receipt as evidence, like a message's.
 */
export async function ping(pc: PingContext, receiver: string): Promise<PingResult> {
  const as4MessageId = `${randomUUID()}@${pc.participant.replace(/^0088:/, '')}.ehmi`;
  const attemptAt = pc.now();
  try {
    const endpoint = await testEndpoint(pc, receiver);
    const recipient = endpointCertificate(endpoint);
    await checkEndpoint(pc, receiver, endpoint.endpointUrl, recipient);
    const message = await buildOutboundMessage({
      messageId: as4MessageId,
      timestamp: new Date(attemptAt),
      sender: pc.participant,
      receiver,
      process: EBMS_URI.testService,
      documentType: EBMS_URI.testAction,
      payload: { size: PING_PAYLOAD.length, open: () => Readable.from([PING_PAYLOAD]) },
      signing: pc.signing,
      recipientCertificate: recipient,
      profile: pc.profile,
    });
    const sentAt = pc.now();
    const started = performance.now();
    let response: { status: number; contentType: string; body: Buffer };
    try {
      const res = await request(endpoint.endpointUrl, {
        method: 'POST',
        dispatcher: pc.dispatcher,
        headers: { 'content-type': message.contentType },
        body: message.body,
        signal: AbortSignal.timeout(pc.timeoutMs),
        headersTimeout: pc.timeoutMs,
        bodyTimeout: pc.timeoutMs,
      });
      response = {
        status: res.statusCode,
        contentType: String(res.headers['content-type'] ?? ''),
        body: await readLimited(res.body, MAX_RESPONSE_BYTES, { declared: res.headers['content-length'] }),
      };
    } catch (err) {
      message.body.destroy();
      throw new AttemptFailed(
        `POST ${endpoint.endpointUrl}: ${(err as Error).message}`,
        true,
        'EBMS:0005',
        err,
      );
    }
    const receipt = await interpret(pc, as4MessageId, [message.references], recipient, response);
    const roundTripMs = Math.max(0, Math.round(performance.now() - started));
    const receiptAt = Date.parse(receipt.timestamp);
    const now = pc.now();
    await pc.store.transaction(async (trx) => {
      await recordEvidence(trx, {
        messageId: as4MessageId,
        kind: 'receipt',
        direction: 'outbound',
        counterpart: receiver,
        chain: receipt.chain,
        bytes: response.body,
        at: now,
      });
      const row = {
        last_ok_at: now,
        round_trip_ms: roundTripMs,
        receipt_at: Number.isFinite(receiptAt) ? receiptAt : null,
        as4_message_id: as4MessageId,
        endpoint_url: endpoint.endpointUrl,
        last_attempt_at: attemptAt,
        last_error: null,
      };
      await trx
        .insertInto('ap_pings')
        .values({ receiver, ...row })
        .onConflict((oc) => oc.column('receiver').doUpdateSet(row))
        .execute();
    });
    pc.logger.info({ receiver, as4MessageId, roundTripMs }, 'AS4 test service: receipt verified');
    return {
      receiver,
      as4MessageId,
      endpointUrl: endpoint.endpointUrl,
      sentAt,
      roundTripMs,
      receiptTime: receipt.timestamp,
    };
  } catch (err) {
    const failure = pingError(receiver, err);
    const row = { last_attempt_at: attemptAt, last_error: failure.message.slice(0, 4000) };
    await pc.store.db
      .insertInto('ap_pings')
      .values({
        receiver,
        last_ok_at: null,
        round_trip_ms: null,
        receipt_at: null,
        as4_message_id: null,
        endpoint_url: null,
        ...row,
      })
      .onConflict((oc) => oc.column('receiver').doUpdateSet(row))
      .execute()
      .catch((e) => pc.logger.warn({ err: e, receiver }, 'the failed ping could not be recorded'));
    pc.logger.warn({ receiver, as4MessageId, err: failure.message }, 'AS4 test service: no receipt');
    throw failure;
  }
}

/** Why a ping failed, as the error its caller sees: discovery's own, or what became of the exchange. */
function pingError(receiver: string, err: unknown): EhmiError {
  if (isEhmiError(err)) return err;
  if (err instanceof AttemptFailed) {
    const message = `ping of ${receiver}: ${err.message}`;
    if (err.ebmsCode === 'EBMS:0005')
      return new EhmiError('EHMI_AS4_CONNECTION_FAILURE', message, { cause: err });
    if (err.message.startsWith('invalid receipt'))
      return new EhmiError('EHMI_AS4_INVALID_RECEIPT', message, { cause: err });
    return new EhmiError('EHMI_AS4_MISSING_RECEIPT', message, {
      cause: err,
      ...(err.ebmsCode ? { details: { ebmsCode: err.ebmsCode } } : {}),
    });
  }
  return new EhmiError('EHMI_INTERNAL', `ping of ${receiver}: ${(err as Error).message}`, { cause: err });
}

/** The recorded pings, one per partner, in the order of their participants. */
export async function pings(pc: Pick<PingContext, 'store'>): Promise<PingRecord[]> {
  const rows = await pc.store.db.selectFrom('ap_pings').selectAll().orderBy('receiver').execute();
  return rows.map((r) => ({
    receiver: r.receiver,
    ...(r.last_ok_at !== null && r.round_trip_ms !== null
      ? {
          lastOk: {
            at: Number(r.last_ok_at),
            roundTripMs: Number(r.round_trip_ms),
            receiptAt: Number(r.receipt_at ?? r.last_ok_at),
            as4MessageId: r.as4_message_id ?? '',
            endpointUrl: r.endpoint_url ?? '',
          },
        }
      : {}),
    lastAttemptAt: Number(r.last_attempt_at),
    ...(r.last_error ? { lastError: r.last_error } : {}),
  }));
}
