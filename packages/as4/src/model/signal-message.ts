import type { EbmsCategory, EbmsErrorCode, EbmsSeverity } from '@ehmi/errors';
import type { MessageInfo } from './user-message.ts';

/**
 * The ebMS3 SignalMessage (ebMS3 Core §5.2.3): a Receipt, one or more Errors, or a PullRequest.
 *
 * @example
 * ```ts
 * import type { SignalMessage } from '@ehmi/as4';
 * const signal: SignalMessage = {
 *   messageInfo: { timestamp: '2026-11-26T00:00:00Z', messageId: 's1@ehmi.dk', refToMessageId: 'a1@ehmi.dk' },
 *   errors: [{ errorCode: 'EBMS:0303', severity: 'failure', shortDescription: 'DecompressionFailure', refToMessageInError: 'a1@ehmi.dk' }],
 * };
 * ```
 */
export interface SignalMessage {
  messageInfo: MessageInfo;
  receipt?: Receipt;
  /** `eb:Error` elements (ebMS3 Core §6.2); empty when the signal is not an error signal. */
  errors: EbmsErrorElement[];
  pullRequest?: PullRequest;
}

/** `eb:Error` (ebMS3 Core §6.2). `errorCode` is kept as received, so an unknown code still parses. */
export interface EbmsErrorElement {
  errorCode: EbmsErrorCode | string;
  severity: EbmsSeverity | string;
  category?: EbmsCategory | string;
  origin?: string;
  shortDescription?: string;
  refToMessageInError?: string;
  description?: string;
  errorDetail?: string;
}

/** `eb:PullRequest` (ebMS3 Core §5.2.3.1). */
export interface PullRequest {
  mpc: string;
}

/**
 * `eb:Receipt` (ebMS3 Core §5.2.3.3, AS4 Profile §5.1.8). For non-repudiation it carries
 * `ebbp:NonRepudiationInformation` echoing every `ds:Reference` of the received signature; otherwise the
 * received eb:UserMessage (reception awareness only).
 */
export interface Receipt {
  nonRepudiationInformation?: MessagePartReference[];
  /** True when the receipt echoes an `eb:UserMessage` instead of NRI. */
  userMessageEcho: boolean;
}

/** One `ebbp:MessagePartNRInformation/ds:Reference` (ebBP signals 2.0; XML Signature §4.4.3). */
export interface MessagePartReference {
  uri: string;
  transforms: { algorithm: string; inclusivePrefixes?: string[] }[];
  digestMethod: string;
  /** Base64, whitespace removed. */
  digestValue: string;
}
