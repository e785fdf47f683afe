import type { AgreementRef, PartyId, Service } from '../model/user-message.ts';

/**
 * The AS4 profiles we implement. EHMI uses eDelivery AS4 1.15 (docs/specs/as4-smp.md §0); 2.0 is not
 * wire-compatible.
 */
export type As4ProfileId = 'edelivery-as4-1.15' | 'edelivery-as4-2.0';

/**
 * A Processing Mode (ebMS3 Core Appendix D) for a One-Way/Push exchange, restricted to the parameters the
 * eDelivery AS4 profiles fix or leave configurable (eDelivery AS4 1.15 §2.2 P-Mode table; AS4 2.0 §2).
 * Build one with {@link createPMode}; parameters the profile fixes are filled in and checked there.
 *
 * @example
 * const pmode = createPMode({
 *   id: 'ehmi-homecare',
 *   initiator: { partyIds: [{ value: '5790000000001', type: 'urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088' }] },
 *   responder: { partyIds: [{ value: '5790000000002', type: 'urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088' }] },
 *   service: { value: 'urn:ehmi:service' },
 *   action: 'urn:ehmi:action',
 * });
 */
export interface PMode {
  id: string;
  profile: As4ProfileId;
  /** `PMode.Agreement`: sent as eb:AgreementRef and usable to select the P-Mode (eDelivery AS4 1.15 §2.2.2). */
  agreement?: AgreementRef;
  /** ebMS3 Core §2.2.3; AS4 eDelivery: One-Way (Two-Way optional). */
  mep: 'http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/oneWay';
  /** Push only (Pull is an optional enhancement we do not implement). */
  mepBinding: 'http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/push';
  /** `PMode.Initiator`; party ids may be left empty in a Dynamic Sender template (eDelivery AS4 1.15 §2.5.4). */
  initiator: PModeParty;
  /** `PMode.Responder`; filled by discovery (SMP) for a Dynamic Receiver. */
  responder: PModeParty;
  leg: PModeLeg;
}

export interface PModeParty {
  partyIds: PartyId[];
  role: string;
}

/** `PMode[1]` — the single leg of One-Way. */
export interface PModeLeg {
  protocol: {
    /** Responder URL; absent in a Dynamic Sender template. */
    address?: string;
    soapVersion: '1.2';
  };
  businessInfo: {
    service: Service;
    action: string;
    /** Message properties that MUST be present: `originalSender`, `finalRecipient` (Four Corner, §2.6.1). */
    requiredProperties: string[];
    /** `PMode[1].BusinessInfo.MPC`; absent = default MPC. */
    mpc?: string;
  };
  errorHandling: {
    /** eDelivery AS4 1.15: Report.AsResponse=true (errors synchronously in the HTTP response). */
    reportAsResponse: true;
    processErrorNotifyConsumer: boolean;
    processErrorNotifyProducer: boolean;
  };
  security: PModeSecurity;
  payloadService: {
    /** eDelivery AS4 1.15 §2.2.3.3: application/gzip REQUIRED. */
    compressionType: 'application/gzip';
  };
  receptionAwareness: {
    enabled: true;
    retry: { maxRetries: number; retryIntervalMs: number };
    duplicateDetection: { enabled: true; windowMs: number };
    /** MissingReceiptNotifyProducer=true → EBMS:0301 to the Producer. */
    missingReceiptNotifyProducer: true;
  };
}

/** `PMode[1].Security` — algorithms by URI; the wss module interprets them. */
export interface PModeSecurity {
  wssVersion: '1.1.1';
  x509: {
    sign: {
      required: boolean;
      algorithm: string;
      hashFunction: string;
    };
    encryption: {
      required: boolean;
      algorithm: string;
      minimumStrength: 128;
      /** 1.15: RSA-OAEP key transport; 2.0: key agreement + KDF + key wrap. */
      keyTransport?: { algorithm: string; mgf: string; digest: string };
      keyAgreement?: { algorithm: string; keyDerivation: string; keyWrap: string };
    };
  };
  sendReceipt: { required: true; nonRepudiation: true; replyPattern: 'response' };
}

/** The options of {@link createPMode}. */
export interface PModeInput {
  id: string;
  profile?: As4ProfileId;
  agreement?: AgreementRef;
  initiator?: Partial<PModeParty>;
  responder?: Partial<PModeParty>;
  service: Service;
  action: string;
  address?: string;
  /** eDelivery 2.0 offers ECDSA/ECDH-ES as the alternative EC profile; Ed25519/X25519 is the default. */
  curve?: 'edwards' | 'nist';
  fourCorner?: boolean;
  retry?: { maxRetries: number; retryIntervalMs: number };
  duplicateWindowMs?: number;
}
