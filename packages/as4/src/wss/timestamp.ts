import { EhmiError } from '@ehmi/errors';
import { childElement, childElements, type Document, type Element, textOf } from '@ehmi/xml';
import { append, ensureSecurityHeader, envelopeParts, findSecurityHeader } from './envelope.ts';
import { newId } from './ids.ts';
import { NS } from './ns.ts';

/** Default clock skew tolerated between peers, in seconds (AS4 peers in different organisations drift; configurable). */
export const DEFAULT_SKEW_SECONDS = 300;
/** Default lifetime of a timestamp we create (WSS4J default `timeToLive`). */
export const DEFAULT_TIMESTAMP_TTL_SECONDS = 300;

export interface AddTimestampOptions {
  /** Seconds between Created and Expires. Default {@link DEFAULT_TIMESTAMP_TTL_SECONDS}. */
  ttlSeconds?: number;
  clock?: () => Date;
}

/**
 * Adds a wsu:Timestamp (WSS 1.1.1 SOAP Message Security §10) first in the Security header, with a wsu:Id so that
 * {@link signEnvelope} run afterwards signs it too.
 *
 * @example
 * addTimestamp(doc, { ttlSeconds: 300 });
 * await signEnvelope(doc, attachments, { privateKey, certificate });
 */
export function addTimestamp(doc: Document, options: AddTimestampOptions = {}): Element {
  const parts = envelopeParts(doc);
  const security = ensureSecurityHeader(doc, parts);
  if (childElement(security, NS.wsu, 'Timestamp')) {
    throw new EhmiError('EHMI_USAGE', 'the Security header already has a wsu:Timestamp');
  }
  const now = (options.clock ?? (() => new Date()))();
  const ttl = options.ttlSeconds ?? DEFAULT_TIMESTAMP_TTL_SECONDS;
  const ts = doc.createElementNS(NS.wsu, 'wsu:Timestamp');
  ts.setAttributeNS(NS.wsu, 'wsu:Id', newId('TS'));
  append(ts, NS.wsu, 'wsu:Created', xsdDateTime(now));
  append(ts, NS.wsu, 'wsu:Expires', xsdDateTime(new Date(now.getTime() + ttl * 1000)));
  security.insertBefore(ts, security.firstChild);
  return ts;
}

function xsdDateTime(d: Date): string {
  return d.toISOString();
}

export interface CheckTimestampOptions {
  clock?: () => Date;
  /** Tolerated clock difference in seconds, both ways. Default {@link DEFAULT_SKEW_SECONDS}. */
  skewSeconds?: number;
  /** Fail when the Security header has no wsu:Timestamp. Default false. */
  required?: boolean;
  /**
   * Compare Created and Expires with the clock. Default true; false checks the Timestamp's form only (one Timestamp,
   * Created present, both xsd:dateTime, Expires not before Created), e.g. to verify a message saved long ago.
   */
  window?: boolean;
}

// xsd:dateTime in UTC or with an offset; WSS 1.1.1 §10 says SHOULD be UTC ("Z").
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function parseTime(el: Element | undefined, name: string): number | undefined {
  if (!el) return undefined;
  const text = textOf(el) ?? '';
  const t = DATE_TIME.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(t)) {
    throw new EhmiError('EHMI_AS4_FAILED_AUTHENTICATION', `wsu:${name} "${text}" is not an xsd:dateTime`, {
      details: { reason: 'timestamp-invalid' },
    });
  }
  return t;
}

/**
 * Checks the wsu:Timestamp of the Security header against the clock (WSS 1.1.1 SOAP Message Security §10):
 * Created may not lie more than `skewSeconds` in the future, Expires not more than `skewSeconds` in the past.
 * A stale or future message is EBMS:0101 FailedAuthentication (the WSS fault wsse:MessageExpired).
 * Returns the Timestamp element, or undefined when there is none and none is required.
 *
 * @example
 * checkTimestamp(doc, { skewSeconds: 60, required: true });
 */
export function checkTimestamp(doc: Document, options: CheckTimestampOptions = {}): Element | undefined {
  const parts = envelopeParts(doc);
  const security = findSecurityHeader(parts);
  const stamps = security ? childElements(security, NS.wsu, 'Timestamp') : [];
  if (stamps.length > 1) {
    throw new EhmiError('EHMI_AS4_FAILED_AUTHENTICATION', 'more than one wsu:Timestamp', {
      details: { reason: 'timestamp-duplicate' },
    });
  }
  const ts = stamps[0];
  if (!ts) {
    if (options.required) {
      throw new EhmiError('EHMI_AS4_POLICY_NONCOMPLIANCE', 'the Security header has no wsu:Timestamp', {
        details: { reason: 'timestamp-missing' },
      });
    }
    return undefined;
  }
  const now = (options.clock ?? (() => new Date()))().getTime();
  const skew = (options.skewSeconds ?? DEFAULT_SKEW_SECONDS) * 1000;
  const created = parseTime(childElement(ts, NS.wsu, 'Created'), 'Created');
  const expires = parseTime(childElement(ts, NS.wsu, 'Expires'), 'Expires');
  if (created === undefined) {
    throw new EhmiError('EHMI_AS4_FAILED_AUTHENTICATION', 'wsu:Timestamp has no wsu:Created', {
      details: { reason: 'timestamp-invalid' },
    });
  }
  if (options.window !== false && created > now + skew) {
    throw new EhmiError('EHMI_AS4_FAILED_AUTHENTICATION', 'wsu:Timestamp was created in the future', {
      details: { reason: 'timestamp-future', created: new Date(created).toISOString() },
    });
  }
  if (options.window !== false && expires !== undefined && expires <= now - skew) {
    throw new EhmiError('EHMI_AS4_FAILED_AUTHENTICATION', 'wsu:Timestamp has expired', {
      details: { reason: 'timestamp-expired', expires: new Date(expires).toISOString() },
    });
  }
  if (expires !== undefined && expires < created) {
    throw new EhmiError('EHMI_AS4_FAILED_AUTHENTICATION', 'wsu:Timestamp expires before it was created', {
      details: { reason: 'timestamp-invalid' },
    });
  }
  return ts;
}
