/** audit-event-outcome (http://hl7.org/fhir/audit-event-outcome): success, minor failure, serious failure. */
export type AuditOutcome = '0' | '4' | '8';

/** The outcome of an HTTP status: 2xx/3xx success `0`, 4xx minor failure `4`, 5xx (and anything else) `8`. */
export function outcomeOf(status: number): AuditOutcome {
  if (status >= 200 && status < 400) return '0';
  if (status >= 400 && status < 500) return '4';
  return '8';
}

/** Who called, as the call's token and TLS connection say (the OAuth "minimal" pattern of IHE BALP). */
export interface AuditCaller {
  /** `client_id` of the verified access token. */
  clientId?: string;
  /** `iss` and `sub` of the token, `jti` (never the token itself). */
  issuer?: string;
  subject?: string;
  tokenId?: string;
  /** The subject of the TLS client certificate presented, or forwarded by a trusted proxy (`proxy`). */
  certificate?: string;
  /** The subject of the trusted proxy's certificate, when the client certificate came through one. */
  proxy?: string;
  /** The client's network address. */
  address?: string;
  /** The organisation of the token: `cvr`, `org_name`, the SOR/GLN contexts, the EER device id. */
  organisation?: {
    cvr?: string;
    name?: string;
    deviceId?: string;
    contexts?: { name?: string; sor: string; gln: string }[];
  };
}

/** One call to a server of the node, as the audit log keeps it (the AuditEvent is built from it: `event.ts`). */
export interface AuditRecord {
  id: string;
  /** When the call was answered, epoch ms. */
  recorded: number;
  /** The node (organisation name, or its GLN) and the server that answered. */
  node: string;
  service: string;
  /** The server's base URL, when known. */
  serverUrl?: string;
  requestId: string;
  method: string;
  /** The route pattern (`/messages/:id`), or the path when no route matched. */
  route: string;
  /** The query string, without the `?` and with secrets redacted (never bodies, never tokens). */
  query?: string;
  status: number;
  outcome: AuditOutcome;
  /** The subtype code: a FHIR interaction or `$operation`, or the HTTP method for the node's other APIs. */
  subtype: string;
  /** `true` when `subtype` is a FHIR interaction or operation, `false` for an HTTP method. */
  fhir: boolean;
  action: 'C' | 'R' | 'U' | 'D' | 'E';
  caller: AuditCaller;
  patient?: string;
  minlog?: boolean;
  /** `Type` or `Type/id`. */
  resource?: string;
  /** Why the call failed (an error code, a short reason; never personal data). */
  detail?: string;
}
