import { EhmiError } from '@ehmi/errors';
import type { Selectable } from 'kysely';
import type { JobsTable } from '../store/index.ts';
import type { Db, MshCore } from './core.ts';
import type { MshMessagesTable } from './tables.ts';

/**
 * A sent message's dead-lettered jobs on this node, and their retry (docs/architecture.md "The path of a message").
 * A job of a message names it in its payload: the hand-over to the AP (`msh.dispatch`), the AS4 send (`ap.send`)
 * and its outcome (`ap.outcome`) by the envelope's submission id, the reports to EDS (`eds.report`) by the
 * MessageHeader.id in their events. The queue keeps a dead job until it is purged with the done ones; an operator
 * mends the cause (EDS refused a report, a worker died on its last try) and puts it back.
 */
export interface DeadLetter {
  id: string;
  queue: string;
  attempts: number;
  error: string | null;
  /** When it was dead-lettered (ISO 8601). */
  at: string | null;
}

/** How many dead jobs of one message are listed or retried at once. */
const LIMIT = 50;

/** What a message's jobs name it by: its tracking id, MessageHeader.id and every envelope's submission id. */
async function namesOf(core: MshCore, row: Selectable<MshMessagesTable>): Promise<string[]> {
  const submissions = await (core.store.db as Db)
    .selectFrom('msh_submissions')
    .select('id')
    .where('message_id', '=', row.id)
    .execute();
  return [row.id, ...(row.message_header_id ? [row.message_header_id] : []), ...submissions.map((s) => s.id)];
}

function view(job: Selectable<JobsTable>): DeadLetter {
  return {
    id: job.id,
    queue: job.queue,
    attempts: job.attempts,
    error: job.last_error,
    at: job.finished_at === null ? null : new Date(job.finished_at).toISOString(),
  };
}

/** The message's dead-lettered jobs, newest first. */
export async function deadLettersOf(core: MshCore, row: Selectable<MshMessagesTable>): Promise<DeadLetter[]> {
  return (await core.queue.deadNaming(await namesOf(core, row), LIMIT)).map(view);
}

/**
 * Put the message's dead-lettered jobs back in their queues (one, with `jobId`), each to run now with its tries
 * counted afresh. EHMI_NOT_FOUND when `jobId` is no dead job of this message; EHMI_CONFLICT when the message has
 * none (a retry repeated finds them running or done).
 */
export async function retryDeadLetters(
  core: MshCore,
  row: Selectable<MshMessagesTable>,
  jobId?: string,
): Promise<DeadLetter[]> {
  const dead = await core.queue.deadNaming(await namesOf(core, row), LIMIT);
  const chosen = jobId === undefined ? dead : dead.filter((j) => j.id === jobId);
  if (jobId !== undefined && chosen.length === 0) {
    throw new EhmiError('EHMI_NOT_FOUND', `no dead-lettered job ${jobId} of message ${row.id}`);
  }
  if (chosen.length === 0) {
    throw new EhmiError('EHMI_CONFLICT', `message ${row.id} has no dead-lettered job to retry`);
  }
  const retried: DeadLetter[] = [];
  for (const job of chosen) {
    if (await core.queue.retryDead(job.id)) retried.push(view(job));
  }
  if (retried.length === 0) {
    throw new EhmiError('EHMI_CONFLICT', `the dead-lettered jobs of message ${row.id} were retried already`);
  }
  core.logger.info({ messageId: row.id, jobs: retried.map((j) => j.id) }, 'dead-lettered jobs retried');
  return retried;
}
