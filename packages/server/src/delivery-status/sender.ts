import { EhmiError } from '@ehmi/errors';
import type { Logger } from 'pino';
import { type Dispatcher, fetch as undiciFetch } from 'undici';
import type { BatchJobHandler, Job } from '../store/index.ts';
import { type Report, type ReportPayload, reportsOf } from './reporter.ts';

/** The scope of a registration at EDS (ehmi-core §3, SMART v2 `system/AuditEvent.c`). */
export const EDS_REPORT_SCOPE = 'system/AuditEvent.c';

/** How a POST of a report ended, for the metrics: `reported`, `retried`, `dead`. */
export type ReportResult = 'reported' | 'retried' | 'dead';

/**
 * EDS refused the event for good (400, 403, 422): a fault of ours (an event off its profile) or of the configuration
 * (a station not registered to our organisation). Retrying does not help; the job is dead-lettered.
 */
export class ReportRefused extends EhmiError {
  constructor(message: string, details: Record<string, unknown>) {
    super('EHMI_VALIDATION_FAILED', message, { details });
  }
}

export interface SenderOptions {
  /** The EDS FHIR base URL, no trailing slash. */
  url: string;
  /** A fetch that authenticates: a TokenClient's (mTLS + certificate-bound token), or undici's under `insecure`. */
  fetch: typeof fetch;
  timeoutMs: number;
  logger: Logger;
  count: (result: ReportResult) => void;
  /** Drop the cached access token (EDS answered 401 even to a renewed one): the next try asks for a new one. */
  forgetToken?: () => void;
}

/** The fetch of the insecure development switch: no token, the node's TLS (if any) through `dispatcher`. */
export function plainFetch(dispatcher: Dispatcher | undefined): typeof fetch {
  return ((url: string, init: RequestInit = {}) =>
    undiciFetch(url, {
      ...(init as object),
      ...(dispatcher ? { dispatcher } : {}),
    })) as unknown as typeof fetch;
}

/** How one report ended: done (undefined), refused for good ({@link ReportRefused}), or to be tried again. */
type Outcome = undefined | Error;

/** A job's outcome from its reports': done when all are; else tried again when any may be; else dead-lettered. */
function jobOutcome(outcomes: Outcome[]): Outcome {
  const failures = outcomes.filter((o): o is Error => o !== undefined);
  return failures.find((f) => !(f instanceof ReportRefused)) ?? failures[0];
}

/**
 * POST one report to `[base]/AuditEvent`. 201 (stored) or 200 (EDS holds identical content already: a repeat after a
 * crash or a lost answer) is done. 400/403/422 refuse it for good, with EDS's OperationOutcome in the log. Anything
 * else (unreachable, a timeout, 5xx, 401 after the token client renewed its token, 429) is to be tried again.
 */
async function postOne(
  o: SenderOptions,
  jobId: string,
  report: Report,
  signal: AbortSignal,
): Promise<Outcome> {
  const { code, event } = report;
  let res: Response;
  let text: string;
  try {
    res = await o.fetch(`${o.url}/AuditEvent`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', accept: 'application/fhir+json' },
      body: JSON.stringify(event),
      signal: AbortSignal.any([signal, AbortSignal.timeout(o.timeoutMs)]),
    });
    text = await res.text();
  } catch (err) {
    o.count('retried');
    return new EhmiError('EHMI_UNAVAILABLE', `EDS ${o.url}: ${(err as Error).message}`, { cause: err });
  }
  if (res.status === 201 || res.status === 200) {
    o.count('reported');
    return undefined;
  }
  if (res.status === 400 || res.status === 403 || res.status === 422) {
    o.count('dead');
    let outcome: unknown = text.slice(0, 8000);
    try {
      outcome = JSON.parse(text);
    } catch {}
    o.logger.error(
      { jobId, code, status: res.status, operationOutcome: outcome },
      'EDS refused a delivery status event; it is dead-lettered (a fault of ours or of the configuration)',
    );
    return new ReportRefused(`EDS answered ${res.status} to step ${code}`, { status: res.status });
  }
  if (res.status === 401) o.forgetToken?.();
  o.count('retried');
  return new EhmiError(
    'EHMI_UNAVAILABLE',
    `EDS answered ${res.status} to step ${code}: ${text.slice(0, 500)}`,
  );
}

/**
 * The `eds.report` job, each of its reports on its own POST to `[base]/AuditEvent` (see `postOne`). The job is done
 * when every report is; a report that may be tried again retries the job (EDS answers 200 to the ones it holds); one
 * EDS refused dead-letters it. The station never waits for EDS: retries have no end.
 */
export function reportHandler(o: SenderOptions) {
  return async (job: Job<ReportPayload>, { signal }: { signal: AbortSignal }): Promise<void> => {
    const outcomes: Outcome[] = [];
    for (const report of reportsOf(job.payload)) outcomes.push(await postOne(o, job.id, report, signal));
    const failure = jobOutcome(outcomes);
    if (failure) throw failure;
  };
}

/** An EDS answer to one entry (or one POST) that refuses the event for good: the job is dead-lettered. */
const REFUSED = new Set([400, 403, 412, 422]);

/** One report of a claimed job, in the order of the batch. */
interface Entry {
  jobId: string;
  report: Report;
}

/**
 * The `eds.report` jobs in batches: the reports of the due jobs (up to `size` jobs, each with the reports of one
 * transaction) go as FHIR `batch` Bundles of at most `size` entries to `POST [base]`, and each report ends by its own
 * entry's answer (201/200 done; 400/403/412/422 refused, its OperationOutcome logged; anything else tried again); a
 * job ends as its reports do (see `reportHandler`). A single report is POSTed alone to `[base]/AuditEvent`, so a
 * quiet station reports as before. A 5xx, 401, 429 or no answer retries the whole Bundle; an EDS that refuses the
 * Bundle itself (it takes no batches, or not this many) gets each report on its own.
 */
export function reportBatchHandler(o: SenderOptions & { size: number }): BatchJobHandler<ReportPayload> {
  const each = async (entries: Entry[], signal: AbortSignal): Promise<Outcome[]> => {
    const outcomes: Outcome[] = [];
    for (const e of entries) outcomes.push(await postOne(o, e.jobId, e.report, signal));
    return outcomes;
  };
  const bundle = async (entries: Entry[], signal: AbortSignal): Promise<Outcome[]> => {
    if (entries.length === 1) return each(entries, signal);
    const body = {
      resourceType: 'Bundle',
      type: 'batch',
      entry: entries.map((e) => ({
        resource: e.report.event,
        request: { method: 'POST', url: 'AuditEvent' },
      })),
    };
    let res: Response;
    let text: string;
    try {
      res = await o.fetch(o.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/fhir+json',
          accept: 'application/fhir+json',
          prefer: 'return=minimal',
        },
        body: JSON.stringify(body),
        signal: AbortSignal.any([signal, AbortSignal.timeout(o.timeoutMs)]),
      });
      text = await res.text();
    } catch (err) {
      const failure = new EhmiError('EHMI_UNAVAILABLE', `EDS ${o.url}: ${(err as Error).message}`, {
        cause: err,
      });
      for (const _ of entries) o.count('retried');
      return entries.map(() => failure);
    }
    const answers = res.status === 200 ? batchEntries(text) : undefined;
    if (answers?.length === entries.length) {
      return entries.map((e, i) => {
        const response = answers[i]?.response;
        const status = Number.parseInt(String(response?.status ?? ''), 10);
        if (status === 201 || status === 200) {
          o.count('reported');
          return undefined;
        }
        if (REFUSED.has(status)) {
          o.count('dead');
          o.logger.error(
            { jobId: e.jobId, code: e.report.code, status, operationOutcome: response?.outcome },
            'EDS refused a delivery status event; it is dead-lettered (a fault of ours or of the configuration)',
          );
          return new ReportRefused(`EDS answered ${status} to step ${e.report.code}`, { status });
        }
        o.count('retried');
        return new EhmiError(
          'EHMI_UNAVAILABLE',
          `EDS answered ${status} to step ${e.report.code} in a batch`,
        );
      });
    }
    if (
      res.status === 200 ||
      (res.status >= 400 && res.status < 500 && res.status !== 401 && res.status !== 429)
    ) {
      // EDS refused the batch as a whole (or answered it unreadably): each event on its own finds its own answer.
      o.logger.warn(
        { status: res.status, events: entries.length, answer: text.slice(0, 500) },
        'EDS did not take a batch Bundle; the events are POSTed one by one',
      );
      return each(entries, signal);
    }
    if (res.status === 401) o.forgetToken?.();
    const failure = new EhmiError(
      'EHMI_UNAVAILABLE',
      `EDS answered ${res.status} to a batch of ${entries.length}: ${text.slice(0, 500)}`,
    );
    for (const _ of entries) o.count('retried');
    return entries.map(() => failure);
  };
  return {
    size: o.size,
    async run(jobs, { signal }) {
      const entries: Entry[] = jobs.flatMap((job) =>
        reportsOf(job.payload).map((report) => ({ jobId: job.id, report })),
      );
      const outcomes: Outcome[] = [];
      for (let i = 0; i < entries.length; i += o.size) {
        outcomes.push(...(await bundle(entries.slice(i, i + o.size), signal)));
      }
      const byJob = new Map<string, Outcome[]>();
      entries.forEach((e, i) => {
        const list = byJob.get(e.jobId) ?? [];
        list.push(outcomes[i]);
        byJob.set(e.jobId, list);
      });
      return jobs.map((job) => jobOutcome(byJob.get(job.id) ?? []));
    },
  };
}

type BatchEntry = { response?: { status?: unknown; outcome?: unknown } };

/** The entries of a batch-response Bundle, or undefined when the text is none. */
function batchEntries(text: string): BatchEntry[] | undefined {
  try {
    const bundle = JSON.parse(text) as { resourceType?: unknown; type?: unknown; entry?: unknown };
    if (bundle.resourceType !== 'Bundle' || bundle.type !== 'batch-response') return undefined;
    return Array.isArray(bundle.entry) ? (bundle.entry as BatchEntry[]) : [];
  } catch {
    return undefined;
  }
}
