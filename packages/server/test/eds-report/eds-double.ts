import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { shippedValidator } from '@ehmi/fhir';

/**
 * A stand-in for the EDS service (a test double of a remote service, not of the code under test), over real HTTPS:
 * `POST <url>/AuditEvent` validates the event against the EDS profiles with the shipped validator (422 with an
 * OperationOutcome otherwise), stores it (201), and answers 200 to identical content it holds already, storing
 * nothing new. `mode` makes it fail: `down` answers 503, `unauthorized` 401 `invalid_token`, `refuse` 422
 * with an OperationOutcome (as EDS refuses an event off its profile, or a station not registered to the organisation).
 */
export interface EdsDouble {
  url: string;
  mode: 'up' | 'down' | 'unauthorized' | 'refuse';
  /** The events stored, in order. */
  stored: Record<string, unknown>[];
  /** Every POST by the status it was answered with. */
  answered: Record<number, number>;
  /** Resolves once `check` holds (checked after every answer). */
  until(check: (double: EdsDouble) => boolean): Promise<void>;
  close(): Promise<void>;
}

export async function startEdsDouble(tls: { key: string; cert: string }): Promise<EdsDouble> {
  const validator = shippedValidator();
  const byContent = new Set<string>();
  const waiters: { check: (d: EdsDouble) => boolean; resolve: () => void }[] = [];
  const double: EdsDouble = {
    url: '',
    mode: 'up',
    stored: [],
    answered: {},
    until(check) {
      if (check(double)) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ check, resolve }));
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const answer = (res: import('node:http').ServerResponse, status: number, body?: unknown, headers = {}) => {
    double.answered[status] = (double.answered[status] ?? 0) + 1;
    res.writeHead(status, { 'content-type': 'application/fhir+json', ...headers });
    res.end(body === undefined ? '' : JSON.stringify(body));
    for (const w of [...waiters]) {
      if (w.check(double)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  const server: Server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || !req.url?.endsWith('/eds/AuditEvent')) return answer(res, 404);
      if (double.mode === 'down') return answer(res, 503);
      if (double.mode === 'unauthorized') {
        return answer(res, 401, undefined, { 'www-authenticate': 'Bearer error="invalid_token"' });
      }
      if (double.mode === 'refuse')
        return answer(res, 422, outcome('refused: the station is not registered'));
      const text = Buffer.concat(chunks).toString('utf8');
      let event: Record<string, unknown>;
      try {
        event = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return answer(res, 400, outcome('the body is not JSON'));
      }
      const errors = validator.issues(event).filter((i) => i.severity === 'error');
      if (event.resourceType !== 'AuditEvent' || errors.length > 0) {
        return answer(res, 422, outcome(errors.map((e) => e.message).join('; ') || 'not an AuditEvent'));
      }
      if (byContent.has(text)) return answer(res, 200, event);
      byContent.add(text);
      double.stored.push(event);
      return answer(res, 201, { ...event, id: String(double.stored.length) });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  double.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/eds`;
  return double;
}

function outcome(text: string) {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code: 'processing', diagnostics: text }],
  };
}
