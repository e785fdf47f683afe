import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { registerAck } from './ack.ts';
import { registerArchive } from './archive.ts';
import { registerAs4 } from './as4.ts';
import { registerAudit } from './audit.ts';
import { registerEvidence } from './evidence.ts';
import { registerInbox } from './inbox.ts';
import { registerMetrics } from './metrics.ts';
import { registerPing } from './ping.ts';
import { registerPki } from './pki.ts';
import { registerRegisters } from './registers.ts';
import { registerResend } from './resend.ts';
import { registerSbdh } from './sbdh.ts';
import { registerSend } from './send.ts';
import { registerTrack } from './track.ts';
import { registerUp } from './up.ts';
import { registerValidate } from './validate.ts';
import { registerWebhooks } from './webhooks.ts';

/** Every `ehmi` subcommand. A command lives in its own file and registers itself on the program. */
export const COMMANDS: readonly ((program: Command, ctx: CliContext) => void)[] = [
  registerUp,
  registerSbdh,
  registerValidate,
  registerSend,
  registerInbox,
  registerWebhooks,
  registerAck,
  registerTrack,
  registerArchive,
  registerResend,
  registerAs4,
  registerEvidence,
  registerPing,
  registerMetrics,
  registerAudit,
  registerPki,
  registerRegisters,
];
