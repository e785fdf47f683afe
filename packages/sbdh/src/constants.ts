/**
 * Fixed values of the MedCom ehmiSBDH IG 2.0.1 (`sbdh:input/pagecontent/ehmiSBDH.md`, XSDs in `resources/xsd`).
 * Section names in comments refer to that page.
 */

export const NS = {
  sbdh: 'http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader',
  /** PEPPOL Business Message Envelope 1.2: where GS1/PEPPOL put `BinaryContent`. */
  peppol: 'http://peppol.eu/xsd/ticc/envelope/1.0',
  bpssignal: 'http://docs.oasis-open.org/ebxml-bp/ebbp-signals-2.0',
} as const;

/** "HeaderVersion: Always 1.0". */
export const HEADER_VERSION = '1.0';
/** Sender/Receiver Identifier@Authority (Policy for identifiers, POLICY 6). */
export const PARTY_AUTHORITY = 'iso6523-actorid-upis';
/** ISO 6523 ICD for GLN: `0088:` + GLN. */
export const GLN_PREFIX = '0088:';

/** `ehmiDocumentIdentification.xsd` DocumentInformationStandardType: the Standards the pilot XSD knows. */
export const IG_STANDARDS = [
  'homecareobservation-message',
  'acknowledgement-message',
  'ehmisbdh-acknowledgement',
] as const;
export const RECEIPT_STANDARD = 'ehmisbdh-acknowledgement';
export const FHIR_ACK_STANDARD = 'acknowledgement-message';
/** "TypeVersion … [bpssignal version]" for an EnvelopeReceipt. */
export const RECEIPT_TYPE_VERSION = 'ebbp-signals-2.0';
export const RECEIPT_TYPES = ['ReceiptAcknowledgement', 'ReceiptException'] as const;
export type ReceiptType = (typeof RECEIPT_TYPES)[number];

/** `ehmiBusinessScope.xsd` ehmiScopeType. */
export const SCOPE_TYPES = [
  'DOCUMENTID',
  'PROCESSID',
  'PATIENTID',
  'SENDERID',
  'RECEIVERID',
  'MESSAGEIDENTIFIER',
  'MESSAGEENVELOPEIDENTIFIER',
  'StatisticalInformation',
  'XDS-METADATA',
  'ORIGINALMESSAGEIDENTIFIER',
  'ORIGINALMESSAGEENVELOPEIDENTIFIER',
  'ORIGINALMESSAGESTANDARD',
  'ORIGINALMESSAGEVERSION',
  'ORIGINALENVELOPEIDENTIFIER',
  'EHMI-ReceiptAcknowledgement',
] as const;
export type ScopeType = (typeof SCOPE_TYPES)[number];

export const ORIGINAL_SCOPES = [
  'ORIGINALMESSAGEIDENTIFIER',
  'ORIGINALMESSAGEENVELOPEIDENTIFIER',
  'ORIGINALMESSAGESTANDARD',
  'ORIGINALMESSAGEVERSION',
  'ORIGINALENVELOPEIDENTIFIER',
] as const satisfies readonly ScopeType[];

/** `ehmiScopeIdentifierType`; "Identifier in the EHMI context is always the same: dk-medcom-messaging". */
export const SCOPE_IDENTIFIER = 'dk-medcom-messaging';
/** "XDS-Metadata": `<Identifier>dk-medcom-DocumentReference</Identifier>`. */
export const XDS_SCOPE_IDENTIFIER = 'dk-medcom-DocumentReference';
export const SCOPE_IDENTIFIERS = [SCOPE_IDENTIFIER, XDS_SCOPE_IDENTIFIER] as const;

/** "PROCESSID … Always urn:ehmi:sdn-emergence". */
export const PROCESS_ID = 'urn:ehmi:sdn-emergence';

/** "Reliable messaging": the EHMI-ReceiptAcknowledgement scope values. */
export const RECEIPT_SCOPE = 'EHMI-ReceiptAcknowledgement';
export const BUSINESS_SERVICE_REQUEST = 'EHMI-ReceiptAcknowledgement-Request';
export const BUSINESS_SERVICE_RESPONSE = 'EHMI-ReceiptAcknowledgement-Response';
/** "In the Production Pilot this is a 10 min response time". */
export const RESPONSE_TIME_MINUTES = 10;
/**
 * ServiceTransaction attributes. The XSD fixes TimeToAcknowledgeReceipt to 600000 on Request and Response alike;
 * the prose wants 0 on a Response. We emit the XSD-valid value and accept 0 on input (docs/specs/ehmi-core.md
 * §2.4).
 */
export const SERVICE_TRANSACTION_FIXED = {
  IsNonRepudiationRequired: 'false',
  IsAuthenticationRequired: 'false',
  IsNonRepudiationOfReceiptRequired: 'false',
  IsIntelligibleCheckRequired: 'false',
  IsApplicationErrorResponseRequested: 'false',
  TimeToAcknowledgeReceipt: '600000',
  TimeToAcknowledgeAcceptance: '0',
  TimeToPerform: '0',
  Recurrence: '0',
} as const;

/** `ehmiEDN-Business-Message-Envelope-1.2.xsd` BinaryContentType enumerations. */
export const IG_MIME_TYPES = ['application/xml', 'application/fhir+json', 'application/fhir+xml'] as const;
export const IG_ENCODINGS = ['UTF-8', 'ISO-8859-1'] as const;

/** FHIR identifier systems (docs/architecture.md "Identifiers"; dk-core). */
export const SYSTEM = {
  gln: 'https://www.gs1.org/gln',
  sor: 'urn:oid:1.2.208.176.1.1',
  cpr: 'urn:oid:1.2.208.176.1.2',
  /** Replacement CPR (eCPR) issued by a region or municipality (MedComCorePatient). */
  ecpr: 'urn:oid:1.2.208.176.1.6.1.1',
} as const;

/** The schema applied to an envelope, as named in validation results. */
export const SCHEMA_NAMES = {
  ehmi: 'ehmiSBDH 2.0.1 (ehmiStandardBusinessDocumentHeader.xsd)',
  gs1: 'GS1 SBDH 1.3 + PEPPOL Business Message Envelope 1.2 (StandardBusinessDocumentHeader.xsd)',
} as const;
export type EnvelopeProfile = keyof typeof SCHEMA_NAMES;
