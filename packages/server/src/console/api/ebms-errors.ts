/**
 * The ebMS 3.0 error codes in words (ebMS 3.0 Core §6.7.1, and AS4 §3.4 for EBMS:0301–0303), for the console's
 * journey page: an operator reads "the receiver's AP could not decrypt the message", not "EBMS:0102".
 */
const EBMS_ERRORS: Record<string, string> = {
  'EBMS:0001': 'ValueNotRecognized: the receiving AP did not recognise a value of the message header',
  'EBMS:0002': 'FeatureNotSupported: the receiving AP does not support a feature the message asked for',
  'EBMS:0003': 'ValueInconsistent: values of the message header contradict each other',
  'EBMS:0004': 'Other: the receiving AP refused the message for a reason it names in the details',
  'EBMS:0005': 'ConnectionFailure: the AP could not connect to the receiving AP',
  'EBMS:0006': 'EmptyMessagePartitionChannel: nothing waited to be pulled',
  'EBMS:0007': 'MimeInconsistency: the MIME envelope does not match the SOAP message',
  'EBMS:0008': 'FeatureNotSupported: a header feature is not supported',
  'EBMS:0009': 'InvalidHeader: the ebMS header is not valid',
  'EBMS:0010': 'ProcessingModeMismatch: the message does not match the agreed P-Mode',
  'EBMS:0011': 'ExternalPayloadError: an external payload could not be read',
  'EBMS:0101': 'FailedAuthentication: the signature or the sender’s certificate was not accepted',
  'EBMS:0102': 'FailedDecryption: the receiving AP could not decrypt the message',
  'EBMS:0103': 'PolicyNoncompliance: the message does not follow the security policy',
  'EBMS:0201': 'DysfunctionalReliability: the reliable messaging layer failed',
  'EBMS:0202': 'DeliveryFailure: the message could not be delivered',
  'EBMS:0301': 'MissingReceipt: no receipt came back in time; the sender gave up',
  'EBMS:0302': 'InvalidReceipt: the receipt that came back was not valid',
  'EBMS:0303': 'DecompressionFailure: the receiving AP could not decompress the payload',
};

/** What an ebMS error code means, in words; undefined for a code the table does not have. */
export function ebmsMeaning(code: string | undefined | null): string | undefined {
  return code ? EBMS_ERRORS[code] : undefined;
}
