import type { SignalMessage } from './signal-message.ts';
import type { UserMessage } from './user-message.ts';

/**
 * The content of one `eb:Messaging` header (ebMS3 Core §5.2.1). AS4 (AS4 Profile §2.1.1, eDelivery AS4 1.15
 * §2.2.2) allows a single UserMessage per message; signals may be bundled with it only in pull mode, which we
 * do not support, so a parsed message is exactly one of the two kinds.
 *
 * @example
 * if (messaging.kind === 'user') console.log(messaging.userMessage.messageInfo.messageId);
 */
export type Messaging =
  | { kind: 'user'; userMessage: UserMessage; signalMessages: []; id?: string }
  | { kind: 'signal'; signalMessages: SignalMessage[]; id?: string };
