import { EhmiError } from '@ehmi/errors';
import { RECEIPT_SCOPE, RECEIPT_STANDARD } from '../constants.ts';
import type { EhmiEnvelope } from '../model.ts';
import { findScope, scopeValue } from '../model.ts';
import { type ParsedEnvelope, parse, payloadOf } from '../parse.ts';
import { readSignal, type Signal } from './signal.ts';

/** What a receipt says about the envelope it answers: the ORIGINAL* scopes and the Response correlation. */
export interface ReceiptReference {
  envelopeIdentifier?: string;
  messageIdentifier?: string;
  messageEnvelopeIdentifier?: string;
  standard?: string;
  version?: string;
  /** `CorrelationInformation/RequestingDocumentInstanceIdentifier` of the Response scope. */
  requestingDocumentInstanceIdentifier?: string;
}

export interface ParsedReceipt {
  envelope: ParsedEnvelope;
  kind: 'ReceiptAcknowledgement' | 'ReceiptException';
  /** The embedded ebBP signal, when it could be read. */
  signal?: Signal;
  exception?: { category: string; reason: string; message?: string };
  original: ReceiptReference;
}

export interface Correlation {
  matches: boolean;
  /** The keys that differ (`ORIGINALENVELOPEIDENTIFIER: 'a' ≠ 'b'`). */
  mismatches: string[];
}

/**
 * Parse an EnvelopeReceipt (an ehmiSBDH with Standard `ehmisbdh-acknowledgement`). With `original`, the receipt is
 * correlated to it by the ORIGINAL* scopes and the Response CorrelationInformation.
 *
 * @example
 * const r = parseReceipt(receiptXml, wrapped.envelope);
 * r.kind;                 // 'ReceiptAcknowledgement'
 * r.correlation?.matches; // true
 */
export function parseReceipt(
  xml: string | Uint8Array,
  original?: EhmiEnvelope,
): ParsedReceipt & { correlation?: Correlation } {
  return readReceipt(parse(xml, 'the receipt'), original);
}

/**
 * {@link parseReceipt} of an envelope already parsed (the MSH reads each received envelope once).
 *
 * @example
 * const r = readReceipt(parse(bytes));
 */
export function readReceipt(
  envelope: ParsedEnvelope,
  original?: EhmiEnvelope,
): ParsedReceipt & { correlation?: Correlation } {
  const di = envelope.documentIdentification;
  if (di.standard !== RECEIPT_STANDARD) {
    throw new EhmiError(
      'EHMI_VALIDATION_FAILED',
      `Standard is '${di.standard}', not ${RECEIPT_STANDARD}: not an EnvelopeReceipt`,
      {
        expression: ['StandardBusinessDocumentHeader/DocumentIdentification/Standard'],
      },
    );
  }
  const { signal } = readSignal(payloadOf(envelope));
  const kind =
    di.type === 'ReceiptException' || signal?.kind === 'Exception'
      ? 'ReceiptException'
      : 'ReceiptAcknowledgement';
  const ref: ReceiptReference = {};
  const set = (key: keyof ReceiptReference, value: string | undefined): void => {
    if (value !== undefined && value !== '') ref[key] = value;
  };
  set('envelopeIdentifier', scopeValue(envelope, 'ORIGINALENVELOPEIDENTIFIER'));
  set('messageIdentifier', scopeValue(envelope, 'ORIGINALMESSAGEIDENTIFIER'));
  set('messageEnvelopeIdentifier', scopeValue(envelope, 'ORIGINALMESSAGEENVELOPEIDENTIFIER'));
  set('standard', scopeValue(envelope, 'ORIGINALMESSAGESTANDARD'));
  set('version', scopeValue(envelope, 'ORIGINALMESSAGEVERSION'));
  set(
    'requestingDocumentInstanceIdentifier',
    findScope(envelope, RECEIPT_SCOPE)?.correlationInformation?.requestingDocumentInstanceIdentifier,
  );
  const result: ParsedReceipt & { correlation?: Correlation } = { envelope, kind, original: ref };
  if (signal) result.signal = signal;
  if (signal?.exception) result.exception = signal.exception;
  if (original) result.correlation = correlateReceipt(result, original);
  return result;
}

/**
 * What {@link correlateReceipt} compares of the envelope a receipt answers: its InstanceIdentifier, Standard,
 * TypeVersion, MESSAGEIDENTIFIER and MESSAGEENVELOPEIDENTIFIER scopes and its parties' identifiers. Small enough to
 * be kept with an envelope when it is sent, so that its receipt is checked without reading the envelope again.
 */
export interface ReceiptKeys {
  envelopeIdentifier: string;
  standard: string;
  version: string;
  messageIdentifier?: string;
  messageEnvelopeIdentifier?: string;
  sender: string;
  receiver: string;
}

/**
 * The {@link ReceiptKeys} of an envelope.
 *
 * @example
 * receiptKeysOf(wrapped.envelope).envelopeIdentifier; // its DocumentIdentification/InstanceIdentifier
 */
export function receiptKeysOf(
  envelope: Pick<EhmiEnvelope, 'sender' | 'receiver' | 'documentIdentification' | 'scopes'>,
): ReceiptKeys {
  const od = envelope.documentIdentification;
  const keys: ReceiptKeys = {
    envelopeIdentifier: od.instanceIdentifier,
    standard: od.standard,
    version: od.typeVersion,
    sender: envelope.sender.value,
    receiver: envelope.receiver.value,
  };
  const messageIdentifier = scopeValue(envelope, 'MESSAGEIDENTIFIER');
  const messageEnvelopeIdentifier = scopeValue(envelope, 'MESSAGEENVELOPEIDENTIFIER');
  if (messageIdentifier !== undefined) keys.messageIdentifier = messageIdentifier;
  if (messageEnvelopeIdentifier !== undefined) keys.messageEnvelopeIdentifier = messageEnvelopeIdentifier;
  return keys;
}

/**
 * Does a receipt answer this envelope (or the {@link ReceiptKeys} kept of it)? Every ORIGINAL* value present must
 * equal the original's; at least one of ORIGINALENVELOPEIDENTIFIER and ORIGINALMESSAGEIDENTIFIER must be present; the
 * parties must be swapped.
 *
 * @example
 * correlateReceipt(parseReceipt(receiptXml), sentEnvelope).matches; // true when it answers sentEnvelope
 */
export function correlateReceipt(
  receipt: Pick<ParsedReceipt, 'original' | 'envelope'>,
  original: EhmiEnvelope | ReceiptKeys,
): Correlation {
  const o = 'documentIdentification' in original ? receiptKeysOf(original) : original;
  const mismatches: string[] = [];
  const check = (name: string, got: string | undefined, want: string | undefined): void => {
    if (got !== undefined && got !== want) mismatches.push(`${name}: '${got}' ≠ '${want ?? ''}'`);
  };
  const r = receipt.original;
  check('ORIGINALENVELOPEIDENTIFIER', r.envelopeIdentifier, o.envelopeIdentifier);
  check('ORIGINALMESSAGEIDENTIFIER', r.messageIdentifier, o.messageIdentifier);
  check('ORIGINALMESSAGEENVELOPEIDENTIFIER', r.messageEnvelopeIdentifier, o.messageEnvelopeIdentifier);
  check('ORIGINALMESSAGESTANDARD', r.standard, o.standard);
  check('ORIGINALMESSAGEVERSION', r.version, o.version);
  check('RequestingDocumentInstanceIdentifier', r.requestingDocumentInstanceIdentifier, o.envelopeIdentifier);
  if (r.envelopeIdentifier === undefined && r.messageIdentifier === undefined) {
    mismatches.push('the receipt has neither ORIGINALENVELOPEIDENTIFIER nor ORIGINALMESSAGEIDENTIFIER');
  }
  check('Sender', receipt.envelope.sender.value, o.receiver);
  check('Receiver', receipt.envelope.receiver.value, o.sender);
  return { matches: mismatches.length === 0, mismatches };
}
