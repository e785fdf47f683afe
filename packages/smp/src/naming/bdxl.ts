import { createHash } from 'node:crypto';
import type { SmpIdentifier } from '../identifiers/identifier.ts';
import { normalizeZone } from './sml.ts';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

/**
 * RFC 4648 §6 base32, lower case, without padding (as BDXL and Peppol POLICY 7 use it in DNS labels).
 *
 * @example
 * base32(Buffer.from('foobar')); // 'mzxw6ytboi'
 */
export function base32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const b of bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

export interface BdxlNameOptions {
  /**
   * Put the scheme in the name and hash the value alone (Peppol POLICY 7 and the eDelivery BDXL profile; default).
   * False hashes the whole URL-encoded `scheme::value` and leaves the scheme out (OASIS BDXL 1.0's generic form).
   */
  schemeInZone?: boolean;
}

/**
 * The BDXL / Peppol NAPTR domain name of a participant (OASIS BDXL 1.0 naming; Peppol Policy for use of Identifiers
 * 4.4 POLICY 7): base32(SHA-256(lower-case value)) without padding + `.` + scheme + `.` + zone. Query it for
 * U-NAPTR records with service `Meta:SMP` ({@link smpUrlFromNaptr}).
 *
 * @example
 * bdxlHostname(participantId('0088:123abc', { lenient: true }), 'acc.edelivery.tech.ec.europa.eu');
 * // 'y7dzfxaf3d4cjz4kcgrxtec6twvcga4ky7zwa5boif6mswd4tdrq.iso6523-actorid-upis.acc.edelivery.tech.ec.europa.eu'
 */
export function bdxlHostname(
  participant: SmpIdentifier,
  zone: string,
  options: BdxlNameOptions = {},
): string {
  const schemeInZone = options.schemeInZone !== false;
  const hashed = schemeInZone ? participant.value : participant.toUrlPath();
  const hash = base32(createHash('sha256').update(hashed.toLowerCase(), 'utf8').digest());
  return [hash, schemeInZone ? participant.scheme.toLowerCase() : '', normalizeZone(zone)]
    .filter(Boolean)
    .join('.');
}
