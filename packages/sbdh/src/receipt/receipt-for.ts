import { EhmiError } from '@ehmi/errors';
import { type EnvelopeStamp, stampOf } from '../build/envelope.ts';
import { serializeEnvelope } from '../build/serialize.ts';
import {
  BUSINESS_SERVICE_RESPONSE,
  HEADER_VERSION,
  NS,
  PROCESS_ID,
  RECEIPT_SCOPE,
  RECEIPT_STANDARD,
  RECEIPT_TYPE_VERSION,
  RESPONSE_TIME_MINUTES,
  SCOPE_IDENTIFIER,
  SERVICE_TRANSACTION_FIXED,
} from '../constants.ts';
import { RECEIPT_DOCUMENT_ID } from '../document-id.ts';
import type { EhmiEnvelope, Scope } from '../model.ts';
import { findScope, scopeValue } from '../model.ts';
import { parse } from '../parse.ts';
import { addMinutes, hasOffset, isXsdDateTime } from '../time.ts';
import { RECEIPT_EXCEPTION_CATEGORIES, type ReceiptExceptionCategory, signalXml } from './signal.ts';

/** What the receiving MSH concluded about the envelope. */
export type ReceiptOutcome =
  | { kind: 'acknowledgement' }
  | { kind: 'exception'; category?: ReceiptExceptionCategory; reason: string; message?: string };

export interface ReceiptOptions extends EnvelopeStamp {
  /** MESSAGEIDENTIFIER of the receipt; keep it when re-sending a lost receipt ("resend original receipt content"). */
  messageIdentifier?: string;
}

/**
 * Build the ehmiSBDH EnvelopeReceipt for a received envelope (ehmiSBDH IG "ehmiSBDH EnvelopeReceipt"): Sender and
 * Receiver swapped, Standard `ehmisbdh-acknowledgement`, the ORIGINAL* scopes, the `EHMI-ReceiptAcknowledgement`
 * Response, and as BinaryContent a `bpssignal:ReceiptAcknowledgement` or a `bpssignal:Exception`.
 *
 * @example
 * const ok = receiptFor(envelopeXml, { kind: 'acknowledgement' });
 * const ko = receiptFor(envelopeXml, { kind: 'exception', category: 'Syntax', reason: 'XSD validation failed' });
 */
export function receiptFor(
  original: EhmiEnvelope | string | Uint8Array,
  outcome: ReceiptOutcome,
  options: ReceiptOptions = {},
): string {
  return serializeEnvelope(receiptEnvelope(original, outcome, options));
}

/** {@link receiptFor}, returning the typed envelope. */
export function receiptEnvelope(
  original: EhmiEnvelope | string | Uint8Array,
  outcome: ReceiptOutcome,
  options: ReceiptOptions = {},
): EhmiEnvelope {
  const env = typeof original === 'string' || original instanceof Uint8Array ? parse(original) : original;
  const di = env.documentIdentification;
  // "An ehmiSBDH EnvelopeReceipt is never acknowledged."
  if (di.standard === RECEIPT_STANDARD) {
    throw new EhmiError('EHMI_NOT_SUPPORTED', 'an ehmiSBDH EnvelopeReceipt is never acknowledged', {
      expression: ['StandardBusinessDocumentHeader/DocumentIdentification/Standard'],
    });
  }
  const category = outcome.kind === 'exception' ? (outcome.category ?? 'Syntax') : undefined;
  if (category && !(RECEIPT_EXCEPTION_CATEGORIES as readonly string[]).includes(category)) {
    throw new EhmiError(
      'EHMI_USAGE',
      `ReceiptException category '${category}' is not one of ${RECEIPT_EXCEPTION_CATEGORIES.join(', ')}`,
    );
  }
  const { instanceIdentifier, creationDateAndTime } = stampOf(options);
  const scope = (type: string, value: string): Scope => ({
    type,
    instanceIdentifier: value,
    identifier: SCOPE_IDENTIFIER,
  });
  const opt = (type: string, value: string | undefined): Scope[] =>
    value === undefined ? [] : [scope(type, value)];

  const requestScope = findScope(env, RECEIPT_SCOPE);
  const request =
    requestScope?.instanceIdentifier === 'Request' ? requestScope.correlationInformation : undefined;
  // Copy the original's times when they are xs:dateTime values (lenient input may carry the prose's `16-19-00`).
  const dateTime = (...values: (string | undefined)[]): string =>
    values.find((v): v is string => v !== undefined && isXsdDateTime(v)) ?? creationDateAndTime;
  const requestedAt = dateTime(request?.requestingDocumentCreationDateTime, di.creationDateAndTime);
  const expected = dateTime(
    request?.expectedResponseDateTime,
    hasOffset(requestedAt) ? addMinutes(requestedAt, RESPONSE_TIME_MINUTES) : requestedAt,
  );
  const originalAt = dateTime(di.creationDateAndTime);
  const messageIdentifier = options.messageIdentifier ?? instanceIdentifier;

  const scopes: Scope[] = [
    scope('DOCUMENTID', RECEIPT_DOCUMENT_ID),
    scope('PROCESSID', PROCESS_ID),
    // "SENDERID … in receipt: yes (swapped)".
    ...opt('SENDERID', scopeValue(env, 'RECEIVERID')),
    ...opt('RECEIVERID', scopeValue(env, 'SENDERID')),
    scope('MESSAGEIDENTIFIER', messageIdentifier),
    scope('MESSAGEENVELOPEIDENTIFIER', instanceIdentifier),
    ...opt('ORIGINALMESSAGEIDENTIFIER', scopeValue(env, 'MESSAGEIDENTIFIER')),
    ...opt('ORIGINALMESSAGEENVELOPEIDENTIFIER', scopeValue(env, 'MESSAGEENVELOPEIDENTIFIER')),
    scope('ORIGINALMESSAGESTANDARD', di.standard),
    scope('ORIGINALMESSAGEVERSION', di.typeVersion),
    scope('ORIGINALENVELOPEIDENTIFIER', di.instanceIdentifier),
    // As in the IG's XSD-valid receipt example: the original's statistics key.
    scope('StatisticalInformation', scopeValue(env, 'StatisticalInformation') ?? `MCM:${di.standard}`),
    {
      ...scope(RECEIPT_SCOPE, 'Response'),
      // Response: "CorrelationInformation copies the original's RequestingDocumentCreationDateTime and
      // RequestingDocumentInstanceIdentifier"; ExpectedResponseDateTime and TimeToAcknowledgeReceipt=600000 are kept
      // because the XSD requires them (docs/specs/ehmi-core.md §2.4: emit the XSD-valid form).
      correlationInformation: {
        requestingDocumentCreationDateTime: requestedAt,
        requestingDocumentInstanceIdentifier: di.instanceIdentifier,
        expectedResponseDateTime: expected,
      },
      businessService: {
        businessServiceName: BUSINESS_SERVICE_RESPONSE,
        serviceTransaction: {
          TypeOfServiceTransaction: 'RespondingServiceTransaction',
          ...SERVICE_TRANSACTION_FIXED,
        },
      },
    },
  ];

  const signal = signalXml({
    kind: outcome.kind === 'exception' ? 'Exception' : 'ReceiptAcknowledgement',
    originalMessageIdentifier: di.instanceIdentifier,
    ...(scopeValue(env, 'DOCUMENTID') ? { originalDocumentIdentifier: scopeValue(env, 'DOCUMENTID')! } : {}),
    originalMessageDateTime: originalAt,
    thisMessageDateTime: creationDateAndTime,
    fromPartyInfo: { type: env.receiver.authority, value: env.receiver.value },
    toPartyInfo: { type: env.sender.authority, value: env.sender.value },
    collaborationIdentifier: scopeValue(env, 'MESSAGEIDENTIFIER') ?? di.instanceIdentifier,
    ...(outcome.kind === 'exception'
      ? {
          exception: outcome.message
            ? { category: category!, reason: outcome.reason, message: outcome.message }
            : { category: category!, reason: outcome.reason },
        }
      : {}),
  });

  return {
    profile: 'ehmi',
    headerVersion: HEADER_VERSION,
    sender: { ...env.receiver },
    receiver: { ...env.sender },
    documentIdentification: {
      standard: RECEIPT_STANDARD,
      typeVersion: RECEIPT_TYPE_VERSION,
      instanceIdentifier,
      type: outcome.kind === 'exception' ? 'ReceiptException' : 'ReceiptAcknowledgement',
      multipleType: false,
      creationDateAndTime,
    },
    scopes,
    binaryContent: {
      mimeType: 'application/xml',
      encoding: 'UTF-8',
      base64: Buffer.from(signal, 'utf8').toString('base64'),
      namespace: NS.sbdh,
    },
  };
}
