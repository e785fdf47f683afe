import { EhmiError } from '@ehmi/errors';
import type { Logger } from 'pino';
import { type Dispatcher, fetch as undiciFetch } from 'undici';
import type { BatchJobHandler, Job } from '../store/index.ts';
import type { ReportPayload } from './reporter.ts';

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

/**
 * The `eds.report` job: POST the AuditEvent to `[base]/AuditEvent`. 201 (stored) or 200 (EDS holds identical
 * content already: a repeat after a crash or a lost answer) is done. 400/403/422 dead-letter the job with EDS's
 * OperationOutcome in the log. Anything else (unreachable, a timeout, 5xx, 401 after the token client renewed its
 * token, 429) is thrown and retried with back-off, without end: the station never waits for EDS.
 */
export function reportHandler(o: SenderOptions) {
  return async (job: Job<ReportPayload>, { signal }: { signal: AbortSignal }): Promise<void> => {
    const { code, event } = job.payload;
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
      throw new EhmiError('EHMI_UNAVAILABLE', `EDS ${o.url}: ${(err as Error).message}`, { cause: err });
    }
    if (res.status === 201 || res.status === 200) {
      o.count('reported');
      return;
    }
    if (res.status === 400 || res.status === 403 || res.status === 422) {
      o.count('dead');
      let outcome: unknown = text.slice(0, 8000);
      try {
        outcome = JSON.parse(text);
      } catch {}
      o.logger.error(
        { jobId: job.id, code, status: res.status, operationOutcome: outcome },
        'EDS refused a delivery status event; it is dead-lettered (a fault of ours or of the configuration)',
      );
      throw new ReportRefused(`EDS answered ${res.status} to step ${code}`, { status: res.status });
    }
    if (res.status === 401) o.forgetToken?.();
    o.count('retried');
    throw new EhmiError(
      'EHMI_UNAVAILABLE',
      `EDS answered ${res.status} to step ${code}: ${text.slice(0, 500)}`,
    );
  };
}

/** An EDS answer to one entry (or one POST) that refuses the event for good: the job is dead-lettered. */
const REFUSED = new Set([400, 403, 412, 422]);

/**
 * The `eds.report` jobs in batches: the due jobs (up to `size`) go as one FHIR `batch` Bundle to `POST [base]`, and
 * each job ends by its own entry's answer (201/200 done; 400/403/422 dead-lettered with its OperationOutcome logged;
 * anything else retried). One due job is POSTed alone to `[base]/AuditEvent` as {@link reportHandler} does, so a
 * quiet station reports as before. A 5xx, 401, 429 or no answer retries the whole batch; an EDS that refuses the
 * batch itself (it takes no batches, or not this many) gets each job on its own.
 */
export function reportBatchHandler(o: SenderOptions & { size: number }): BatchJobHandler<ReportPayload> {
  const one = reportHandler(o);
  const each = async (jobs: Job<ReportPayload>[], signal: AbortSignal) => {
    const outcomes: unknown[] = [];
    for (const job of jobs)
      outcomes.push(
        await one(job, { signal }).then(
          () => undefined,
          (err: unknown) => err,
        ),
      );
    return outcomes;
  };
  return {
    size: o.size,
    async run(jobs, { signal }) {
      if (jobs.length === 1) return each(jobs, signal);
      const bundle = {
        resourceType: 'Bundle',
        type: 'batch',
        entry: jobs.map((job) => ({
          resource: job.payload.event,
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
          body: JSON.stringify(bundle),
          signal: AbortSignal.any([signal, AbortSignal.timeout(o.timeoutMs)]),
        });
        text = await res.text();
      } catch (err) {
        const failure = new EhmiError('EHMI_UNAVAILABLE', `EDS ${o.url}: ${(err as Error).message}`, {
          cause: err,
        });
        for (const _ of jobs) o.count('retried');
        return jobs.map(() => failure);
      }
      const entries = res.status === 200 ? batchEntries(text) : undefined;
      if (entries?.length === jobs.length) {
        return jobs.map((job, i) => {
          const response = entries[i]?.response;
          const status = Number.parseInt(String(response?.status ?? ''), 10);
          if (status === 201 || status === 200) {
            o.count('reported');
            return undefined;
          }
          if (REFUSED.has(status)) {
            o.count('dead');
            o.logger.error(
              { jobId: job.id, code: job.payload.code, status, operationOutcome: response?.outcome },
              'EDS refused a delivery status event; it is dead-lettered (a fault of ours or of the configuration)',
            );
            return new ReportRefused(`EDS answered ${status} to step ${job.payload.code}`, { status });
          }
          o.count('retried');
          return new EhmiError(
            'EHMI_UNAVAILABLE',
            `EDS answered ${status} to step ${job.payload.code} in a batch`,
          );
        });
      }
      if (
        res.status === 200 ||
        (res.status >= 400 && res.status < 500 && res.status !== 401 && res.status !== 429)
      ) {
        // EDS refused the batch as a whole (or answered it unreadably): each event on its own finds its own answer.
        o.logger.warn(
          { status: res.status, events: jobs.length, answer: text.slice(0, 500) },
          'EDS did not take a batch Bundle; the events are POSTed one by one',
        );
        return each(jobs, signal);
      }
      if (res.status === 401) o.forgetToken?.();
      const failure = new EhmiError(
        'EHMI_UNAVAILABLE',
        `EDS answered ${res.status} to a batch of ${jobs.length}: ${text.slice(0, 500)}`,
      );
      for (const _ of jobs) o.count('retried');
      return jobs.map(() => failure);
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
