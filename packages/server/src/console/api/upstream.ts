import { EhmiError } from '@ehmi/errors';
import type { FastifyRequest } from 'fastify';

/**
 * Calls a public API as the signed-in user and reads its JSON answer. A refusal or failure of the service becomes an
 * EhmiError with the service's status and the words of its OperationOutcome, so the console shows what the service
 * said (a 403 stays a 403).
 */
export async function fhirJson(
  request: FastifyRequest,
  service: string,
  path: string,
  init?: RequestInit,
): Promise<Record<string, unknown>> {
  const res = await request.callApi(service, path, {
    ...init,
    headers: {
      accept: 'application/fhir+json, application/json',
      ...(init?.headers as Record<string, string>),
    },
  });
  if (!res.ok) throw await upstreamError(service, res);
  return (await res.json()) as Record<string, unknown>;
}

/** The same for an answer that is a JSON array (the MSH's lists). */
export async function jsonList(
  request: FastifyRequest,
  service: string,
  path: string,
): Promise<Record<string, unknown>[]> {
  const res = await request.callApi(service, path, { headers: { accept: 'application/json' } });
  if (!res.ok) throw await upstreamError(service, res);
  const body = (await res.json()) as unknown;
  return Array.isArray(body) ? (body as Record<string, unknown>[]) : [];
}

const CODE_OF_STATUS: Record<number, ConstructorParameters<typeof EhmiError>[0]> = {
  400: 'EHMI_INPUT_UNREADABLE',
  401: 'EHMI_UNAUTHORIZED',
  403: 'EHMI_FORBIDDEN',
  404: 'EHMI_NOT_FOUND',
  409: 'EHMI_CONFLICT',
  422: 'EHMI_VALIDATION_FAILED',
};

export async function upstreamError(service: string, res: Response): Promise<EhmiError> {
  let words = res.statusText || `status ${res.status}`;
  try {
    const body = (await res.json()) as { issue?: { diagnostics?: string; details?: { text?: string } }[] };
    const text = body.issue
      ?.map((i) => i.diagnostics ?? i.details?.text)
      .filter(Boolean)
      .join('; ');
    if (text) words = text;
  } catch {
    // no OperationOutcome: the status says it
  }
  // A 401 of the service is no sign-out of the console (that is callApi's EHMI_UNAUTHORIZED): the user may not.
  const code = res.status === 401 ? 'EHMI_FORBIDDEN' : (CODE_OF_STATUS[res.status] ?? 'EHMI_UNAVAILABLE');
  return new EhmiError(code, `${service}: ${words}`);
}

/** The resources of a FHIR searchset Bundle. */
export function resourcesOf(bundle: Record<string, unknown>): Record<string, unknown>[] {
  const entries = (bundle.entry as { resource?: Record<string, unknown> }[] | undefined) ?? [];
  return entries.map((e) => e.resource).filter((r): r is Record<string, unknown> => r !== undefined);
}
