import { EhmiError } from '@ehmi/errors';
import type { EdsSearch } from '@ehmi/sbdh';

/** The scope of reading and searching EDS (ehmi-core §3, SMART v2 `system/AuditEvent.rs`). */
export const EDS_READ_SCOPE = 'system/AuditEvent.rs';

/** Pages of one search followed at most: a message's journey is a few dozen events. */
const MAX_PAGES = 20;

export interface EdsReaderOptions {
  /** The EDS FHIR base URL, no trailing slash. */
  url: string;
  /** A fetch that authenticates: a TokenClient's (mTLS + certificate-bound token), or undici's under `insecure`. */
  fetch: typeof fetch;
  timeoutMs: number;
  /** Drop the cached access token (EDS answered 401): the next search asks for a new one. */
  forgetToken?: () => void;
}

/**
 * Search EDS (`GET [base]/AuditEvent?…`) as this node and follow the searchset's `next` links. EDS that cannot be
 * reached, or answers with anything but a searchset, is `EHMI_UNAVAILABLE` (503) naming what it said: a refusal of
 * the node's own token (401, after which the next search asks for a new one; 403) is no fault of the caller's
 * request, so it is not passed on as theirs.
 */
export function edsSearch(o: EdsReaderOptions): EdsSearch {
  return async (params) => {
    const events: Record<string, unknown>[] = [];
    let next: string | undefined =
      `${o.url}/AuditEvent?${new URLSearchParams([...params, ['_count', '200']])}`;
    for (let page = 0; next && page < MAX_PAGES; page++) {
      let res: Response;
      let body: Record<string, unknown> | undefined;
      try {
        res = await o.fetch(next, {
          headers: { accept: 'application/fhir+json' },
          signal: AbortSignal.timeout(o.timeoutMs),
        });
        const text = await res.text();
        try {
          body = JSON.parse(text) as Record<string, unknown>;
        } catch {
          body = undefined;
        }
      } catch (err) {
        throw new EhmiError('EHMI_UNAVAILABLE', `EDS ${o.url} cannot be reached: ${(err as Error).message}`, {
          cause: err,
        });
      }
      if (res.status === 401) o.forgetToken?.();
      if (res.status !== 200 || body?.resourceType !== 'Bundle') {
        throw new EhmiError(
          'EHMI_UNAVAILABLE',
          `EDS ${o.url} answered ${res.status} to a search${body ? `: ${diagnostics(body)}` : ''}`,
        );
      }
      for (const e of (body.entry as { resource?: Record<string, unknown> }[] | undefined) ?? []) {
        if (e.resource?.resourceType === 'AuditEvent') events.push(e.resource);
      }
      next = (body.link as { relation?: string; url?: string }[] | undefined)?.find(
        (l) => l.relation === 'next',
      )?.url;
    }
    return events;
  };
}

function diagnostics(body: Record<string, unknown> | undefined): string {
  const issues = (body?.issue as { diagnostics?: string; code?: string }[] | undefined) ?? [];
  return issues.map((i) => i.diagnostics ?? i.code).join('; ') || 'no OperationOutcome';
}
