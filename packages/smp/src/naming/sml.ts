import { createHash } from 'node:crypto';
import type { SmpIdentifier } from '../identifiers/identifier.ts';

/**
 * Drops a trailing dot and lower-cases a DNS zone.
 *
 * @example
 * normalizeZone('Edelivery.Tech.EC.Europa.EU.'); // 'edelivery.tech.ec.europa.eu'
 */
export function normalizeZone(zone: string): string {
  return zone.trim().replace(/\.+$/, '').toLowerCase();
}

/**
 * The Peppol SML host name of a participant (Peppol SML 1.x; Peppol Policy for use of Identifiers 3.x, before
 * POLICY 7 moved to NAPTR): `B-` + hex(MD5(lower-case value)) + `.` + scheme + `.` + SML zone. The SMP is then
 * `http://<host>/` on port 80 (the host is a CNAME to the SMP).
 *
 * @example
 * smlHostname(participantId('0088:123abc', { lenient: true }), 'edelivery.tech.ec.europa.eu');
 * // 'B-f5e78500450d37de5aabe6648ac3bb70.iso6523-actorid-upis.edelivery.tech.ec.europa.eu'
 */
export function smlHostname(participant: SmpIdentifier, smlZone: string): string {
  // Participant values are case-insensitive (POLICY 2), so the hash is over the lower-cased value.
  const hash = createHash('md5').update(participant.value.toLowerCase(), 'utf8').digest('hex');
  const zone = normalizeZone(smlZone);
  return [`B-${hash}`, participant.scheme.toLowerCase(), zone].filter(Boolean).join('.');
}
