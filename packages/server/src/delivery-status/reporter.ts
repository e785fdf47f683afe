import { EhmiError } from '@ehmi/errors';
import {
  buildDeliveryStatus,
  type EdsMessageFacts,
  type EdsSide,
  type EdsStation,
  type EdsStationKind,
  type EdsSubtype,
  type EhmiEnvelope,
  edsFactsOf,
  edsFlowOf,
  edsStepFor,
} from '@ehmi/sbdh';
import type { Logger } from 'pino';
import type { NodeConfig } from '../config/index.ts';
import { QUEUES } from '../path.ts';
import { type AnyDb, beforeCommit, type JobQueue, onSavepointRollback } from '../store/index.ts';

/** One report: the finished AuditEvent of a step, POSTed as it is on every attempt. */
export interface Report {
  /** The step (`03.2`), for logs and metrics. */
  code: string;
  event: Record<string, unknown>;
}

/**
 * The job of the `eds.report` queue: the reports of the steps one transaction took (one job per transaction, not per
 * step), or one report as a job of an earlier version holds it.
 */
export type ReportPayload = { reports: Report[] } | Report;

/** The reports of a job, whichever shape it was written in. */
export function reportsOf(payload: ReportPayload): Report[] {
  return 'reports' in payload ? payload.reports : [payload];
}

/**
 * Which step a station took, by its place in the step table rather than its number: the number follows from the
 * flow of the message the facts describe (the AP's `msg-received` on the sending side is 03.1 for a message, 08.1
 * for its EnvelopeReceipt, 13.1 for an acknowledgement, 18.1 for the acknowledgement's receipt).
 */
export interface StepTaken {
  station: EdsStationKind;
  side: EdsSide;
  subtype: EdsSubtype;
  /** The message of the step's flow (for 10.1, the EnvelopeReceipt; for 15.1, the acknowledgement). */
  facts: EdsMessageFacts;
  outcome?: 'success' | 'failure';
  /** When the step was taken (epoch ms). */
  at: number;
}

/** Devices and organisation of the node's stations. */
export interface ReporterOptions {
  organisation: NonNullable<NodeConfig['organisation']> | undefined;
  devices: { eua?: string | undefined; msh?: string | undefined; ap?: string | undefined };
  /** Whether reports are made (`deliveryStatus.url` is set); otherwise `report` does nothing. */
  enabled: boolean;
  queue: JobQueue;
  logger?: Logger;
  /**
   * Reports fall due at the end of a window of this many ms (`deliveryStatus.batchWindowMs`): the steps of one
   * window go to EDS in one POST. 0: each report is due at once.
   */
  batchWindowMs?: number;
  /** Wake the reporting worker after a commit that enqueued a report. */
  wake?: () => void;
}

/** The retries of a report never end while EDS is away (the job's budget is far beyond any outage). */
export const REPORT_MAX_ATTEMPTS = 2_000_000_000;

/**
 * The enqueueing side of EDS reporting: a station calls `report` in the transaction of the step it reports, so the
 * AuditEvent exists exactly when the step does (a crash between the two loses nothing, a rolled-back step reports
 * nothing). The event is built here, complete, and the job's body never changes between attempts.
 */
export class DeliveryStatusReporter {
  readonly enabled: boolean;
  readonly #options: ReporterOptions;
  /** Where this node's windows start: random, so that the nodes of a network do not all POST at the same instant. */
  readonly #phase: number;
  /** The reports of each open transaction, queued as one job just before it commits. */
  readonly #gathered = new WeakMap<object, Report[]>();

  constructor(options: ReporterOptions) {
    this.#options = options;
    this.#phase = Math.floor(Math.random() * (options.batchWindowMs ?? 0));
    this.enabled = options.enabled && options.organisation !== undefined;
  }

  /** The station of a kind, as EDS names it: its EER Device, owned by this node's organisation. */
  station(kind: EdsStationKind): EdsStation {
    const org = this.#options.organisation;
    if (!org) throw new EhmiError('EHMI_INTERNAL', 'EDS reporting needs the node organisation');
    const d = this.#options.devices;
    const deviceId =
      kind === 'EUA'
        ? (d.eua ?? `${org.sor}-EUA`)
        : kind === 'MSH'
          ? (d.msh ?? `${org.sor}-MSH`)
          : (d.ap ?? `${org.sor}-AP`);
    return {
      deviceId,
      manufacturer: 'ehmi-node',
      // The MSH reports the steps its EUAs take through its API (ehmi-core §3: source type EUA-MSH).
      sourceType: kind === 'EUA' ? 'EUA-MSH' : kind,
      organisation: { sor: org.sor, gln: org.gln, name: org.name },
    };
  }

  /**
   * The facts of an envelope, with this organisation's name on its side (the other party's name is not known here
   * and is left out rather than guessed).
   */
  factsOf(
    envelope: Pick<EhmiEnvelope, 'sender' | 'receiver' | 'documentIdentification' | 'scopes'>,
  ): EdsMessageFacts {
    const org = this.#options.organisation;
    const isOurs = (party: string) => org !== undefined && party.endsWith(`:${org.gln}`);
    const facts = edsFactsOf(envelope, {
      sender: isOurs(envelope.sender.value) ? org?.name : undefined,
      receiver: isOurs(envelope.receiver.value) ? org?.name : undefined,
    });
    // An envelope without SENDERID/RECEIVERID (a payload's) still has our side's SOR code: ours.
    if (org && isOurs(envelope.sender.value) && !facts.sender.sor) facts.sender.sor = org.sor;
    if (org && isOurs(envelope.receiver.value) && !facts.receiver.sor) facts.receiver.sor = org.sor;
    return facts;
  }

  /** The AuditEvent of a step taken (exposed for tests and the CPU measurement). */
  event(step: StepTaken): { code: string; event: Record<string, unknown> } {
    const flow = edsFlowOf(step.facts.messageType, step.facts.original?.messageType);
    const found = edsStepFor(flow, step.station, step.side, step.subtype);
    if (!found) {
      throw new EhmiError(
        'EHMI_INTERNAL',
        `the EDS step table has no ${step.subtype} of the ${step.side} ${step.station} in the ${flow} flow`,
      );
    }
    const event = buildDeliveryStatus({
      code: found.code,
      facts: step.facts,
      station: this.station(step.station),
      outcome: step.outcome ?? 'success',
      recorded: new Date(step.at),
    });
    return { code: found.code, event };
  }

  /**
   * Queue the report of a step in the caller's transaction (nothing when reporting is off). The reports of one
   * transaction opened by the store are one job, written just before it commits (the steps of one commit go to EDS
   * together in any case: they fall due in the same window); on the plain handle the job is written at once.
   */
  async report(trx: AnyDb, step: StepTaken): Promise<void> {
    if (!this.enabled) return;
    const { code, event } = this.event(step);
    const { sender, receiver } = step.facts;
    if (!sender.sor || !receiver.sor) {
      // EDS names both parties by SOR code (agent.who.identifier is required): an event without one would only be
      // refused. A payload submitted without receiverSor has none for its receiver.
      this.#options.logger?.warn(
        { code, messageId: step.facts.messageId, sender: sender.gln, receiver: receiver.gln },
        'EDS step not reported: the SOR code of a party is not known (POST /payloads without receiverSor)',
      );
      return;
    }
    const gathered = this.#gathered.get(trx);
    if (gathered) {
      gathered.push({ code, event });
      onSavepointRollback(trx, () => gathered.pop());
      return;
    }
    const reports: Report[] = [{ code, event }];
    const written = () => {
      // A report after this point (another hook's) starts a job of its own.
      this.#gathered.delete(trx);
      return this.#enqueue(trx, reports);
    };
    if (beforeCommit(trx, written)) {
      this.#gathered.set(trx, reports);
      // A savepoint rolled back drops the hook: the next report starts the list again.
      onSavepointRollback(trx, () => this.#gathered.delete(trx));
    } else await this.#enqueue(trx, reports);
  }

  async #enqueue(trx: AnyDb, reports: Report[]): Promise<void> {
    await this.#options.queue.enqueue(trx, {
      queue: QUEUES.edsReport,
      payload: { reports } satisfies ReportPayload,
      maxAttempts: REPORT_MAX_ATTEMPTS,
      runAt: this.#dueAt(),
    });
  }

  /**
   * When a report queued now falls due: the end of the current window, the same instant for every report of the
   * window, so one claim takes them all and they go in one POST (up to `deliveryStatus.batchSize`). The queue wakes
   * the worker at that time once the step commits.
   */
  #dueAt(): number {
    const now = this.#options.queue.options.now();
    const w = this.#options.batchWindowMs ?? 0;
    // The end of the window `now` falls in, always after `now`: a step taken on a boundary opens the next window
    // instead of falling due at once on its own.
    return w > 0 ? (Math.floor((now - this.#phase) / w) + 1) * w + this.#phase : now;
  }

  /**
   * Look for reports now (after a commit that enqueued some). With a batch window the queue wakes the worker when
   * the window ends, and a look now would find nothing due.
   */
  wake(): void {
    if ((this.#options.batchWindowMs ?? 0) > 0) return;
    this.#options.wake?.();
  }
}

/** A reporter that reports nothing (a node without `deliveryStatus.url`, role tests). */
export function noReporter(queue: JobQueue): DeliveryStatusReporter {
  return new DeliveryStatusReporter({ organisation: undefined, devices: {}, enabled: false, queue });
}
