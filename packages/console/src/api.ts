// The console's only way to its data: the node's `/api/*` routes (the backend-for-frontend), with the session
// cookie the browser sends by itself. No token ever reaches this code, and nothing is kept in the browser's storage.

/** The request header every state-changing call carries (the server's CSRF check beside the Origin). */
export const CSRF_HEADER = 'x-ehmi-console';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Called when the server says the session is gone (401): the app shows the sign-in page. */
let onUnauthenticated: () => void = () => {};
export function whenUnauthenticated(handler: () => void): void {
  onUnauthenticated = handler;
}

async function errorOf(res: Response): Promise<ApiError> {
  let text = res.statusText;
  try {
    const body = (await res.json()) as {
      message?: string;
      error?: string;
      issue?: { diagnostics?: string; details?: { text?: string } }[];
    };
    text =
      body.issue
        ?.map((i) => i.diagnostics ?? i.details?.text)
        .filter(Boolean)
        .join('; ') ||
      body.message ||
      body.error ||
      text;
  } catch {
    // not JSON: the status text says enough
  }
  return new ApiError(res.status, text);
}

export async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const method = (init.method ?? 'GET').toUpperCase();
  const headers = new Headers(init.headers);
  headers.set('accept', 'application/json');
  if (method !== 'GET' && method !== 'HEAD') headers.set(CSRF_HEADER, '1');
  const res = await fetch(`/api${path}`, { ...init, headers, credentials: 'same-origin', cache: 'no-store' });
  if (res.status === 401) {
    onUnauthenticated();
    throw new ApiError(401, 'signed out');
  }
  if (!res.ok) throw await errorOf(res);
  if (res.status === 204) return undefined as T;
  const type = res.headers.get('content-type') ?? '';
  return (type.includes('json') ? await res.json() : await res.text()) as T;
}

export async function apiText(path: string): Promise<string> {
  const res = await fetch(`/api${path}`, { credentials: 'same-origin', cache: 'no-store' });
  if (res.status === 401) {
    onUnauthenticated();
    throw new ApiError(401, 'signed out');
  }
  if (!res.ok) throw await errorOf(res);
  return res.text();
}

export function post<T>(path: string, body?: unknown): Promise<T> {
  return api<T>(path, {
    method: 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

// ----- what the routes answer (packages/server/src/console/api/) -----

export interface SessionUser {
  name: string;
  subject?: string;
  roles: string[];
  patientData?: boolean;
  organisation?: { gln: string; sor: string; name?: string };
}

export interface Organisation {
  key: string;
  name: string;
  gln?: string;
  services: string[];
}

export interface MessageRow {
  organisation: string;
  id: string;
  status: string;
  messageHeaderId: string | null;
  envelopeId: string;
  type: string;
  sender: string;
  receiver: string;
  createdAt: string;
  needsAction: string | null;
  resends: number;
  acknowledgement: { code: string; at: string } | null;
  failure: { reason: string; ebmsCode?: string } | null;
}

export interface MessagePage {
  limit: number;
  items: MessageRow[];
  /** The cursor of the next page (older messages), null at the end. */
  next: string | null;
  facets: { senders: string[]; receivers: string[]; types: string[] };
  unavailable: { organisation: string; reason: string }[];
}

export interface JourneyEvent {
  code: string | null;
  flow: string;
  station: string;
  time: string;
  outcome: 'success' | 'failure';
  meaning: string;
  subtype: string;
  messageId: string;
}

export interface JourneyGap {
  code: string;
  station: string;
  meaning: string;
  dueBy?: string;
}

export interface Journey {
  id: string;
  messageId: string;
  status: string;
  events: JourneyEvent[];
  missing: JourneyGap[];
  pending: JourneyGap[];
}

export interface DeadLetter {
  id: string;
  queue: string;
  attempts: number;
  error: string | null;
  at: string | null;
}

export interface MessageDetail {
  message: MessageRow & { events: { code: string; time: string; outcome?: string; detail?: string }[] };
  deadLetters: DeadLetter[];
  journey: Journey | null;
  journeyError?: string;
  ebmsMeaning?: string;
}

export interface InboxList {
  items: InboxRow[];
  next: string | null;
}

export interface InboxRow {
  id: string;
  bundleId: string | null;
  messageHeaderId: string | null;
  type: string;
  sender: string;
  receivedAt: string;
  acknowledgement?: { code: string; at: string; by: string | null } | null;
}

/** Ends the session at the server (the console role's `POST /auth/logout`). */
export async function signOut(): Promise<void> {
  await fetch('/auth/logout', {
    method: 'POST',
    headers: { [CSRF_HEADER]: '1' },
    credentials: 'same-origin',
  });
}
