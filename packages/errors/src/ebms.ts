/**
 * ebMS 3.0 error codes (ebMS 3.0 Core §6.7.1 and §6.7.2, AS4 Profile §3.5 for 0301–0303).
 * Each code has a fixed short description, category and default severity.
 */
export type EbmsErrorCode =
  | 'EBMS:0001'
  | 'EBMS:0002'
  | 'EBMS:0003'
  | 'EBMS:0004'
  | 'EBMS:0005'
  | 'EBMS:0006'
  | 'EBMS:0007'
  | 'EBMS:0008'
  | 'EBMS:0009'
  | 'EBMS:0010'
  | 'EBMS:0011'
  | 'EBMS:0101'
  | 'EBMS:0102'
  | 'EBMS:0103'
  | 'EBMS:0201'
  | 'EBMS:0202'
  | 'EBMS:0301'
  | 'EBMS:0302'
  | 'EBMS:0303';

export type EbmsSeverity = 'failure' | 'warning';
export type EbmsCategory = 'Content' | 'Communication' | 'Unpackaging' | 'Processing';

export interface EbmsErrorInfo {
  readonly code: EbmsErrorCode;
  readonly shortDescription: string;
  readonly severity: EbmsSeverity;
  readonly category: EbmsCategory;
  /** `ebMS` for the core codes, `reliability` and `security` where the Core spec assigns those origins. */
  readonly origin: 'ebMS' | 'reliability' | 'security';
}

function info(
  code: EbmsErrorCode,
  shortDescription: string,
  severity: EbmsSeverity,
  category: EbmsCategory,
  origin: EbmsErrorInfo['origin'] = 'ebMS',
): EbmsErrorInfo {
  return { code, shortDescription, severity, category, origin };
}

/** The table of ebMS 3.0 Core §6.7 and AS4 Profile §3.5, keyed by error code. */
export const EBMS_ERRORS: Readonly<Record<EbmsErrorCode, EbmsErrorInfo>> = {
  'EBMS:0001': info('EBMS:0001', 'ValueNotRecognized', 'failure', 'Content'),
  'EBMS:0002': info('EBMS:0002', 'FeatureNotSupported', 'warning', 'Content'),
  'EBMS:0003': info('EBMS:0003', 'ValueInconsistent', 'failure', 'Content'),
  'EBMS:0004': info('EBMS:0004', 'Other', 'failure', 'Content'),
  'EBMS:0005': info('EBMS:0005', 'ConnectionFailure', 'failure', 'Communication'),
  'EBMS:0006': info('EBMS:0006', 'EmptyMessagePartitionChannel', 'warning', 'Communication'),
  'EBMS:0007': info('EBMS:0007', 'MimeInconsistency', 'failure', 'Unpackaging'),
  'EBMS:0008': info('EBMS:0008', 'FeatureNotSupported', 'failure', 'Unpackaging'),
  'EBMS:0009': info('EBMS:0009', 'InvalidHeader', 'failure', 'Unpackaging'),
  'EBMS:0010': info('EBMS:0010', 'ProcessingModeMismatch', 'failure', 'Processing'),
  'EBMS:0011': info('EBMS:0011', 'ExternalPayloadError', 'failure', 'Content'),
  'EBMS:0101': info('EBMS:0101', 'FailedAuthentication', 'failure', 'Processing', 'security'),
  'EBMS:0102': info('EBMS:0102', 'FailedDecryption', 'failure', 'Processing', 'security'),
  'EBMS:0103': info('EBMS:0103', 'PolicyNoncompliance', 'failure', 'Processing', 'security'),
  'EBMS:0201': info('EBMS:0201', 'DysfunctionalReliability', 'failure', 'Processing', 'reliability'),
  'EBMS:0202': info('EBMS:0202', 'DeliveryFailure', 'failure', 'Communication', 'reliability'),
  'EBMS:0301': info('EBMS:0301', 'MissingReceipt', 'failure', 'Communication'),
  'EBMS:0302': info('EBMS:0302', 'InvalidReceipt', 'failure', 'Communication'),
  'EBMS:0303': info('EBMS:0303', 'DecompressionFailure', 'failure', 'Communication'),
};

export function isEbmsErrorCode(value: string): value is EbmsErrorCode {
  return Object.hasOwn(EBMS_ERRORS, value);
}
