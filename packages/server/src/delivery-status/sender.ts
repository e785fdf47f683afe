import { EhmiError } from '@ehmi/errors';
import type { Logger } from 'pino';
import { type Dispatcher, fetch as undiciFetch } from 'undici';
import type { Job } from '../store/index.ts';
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
