import type { X509Certificate } from 'node:crypto';

/** Attribute type names as OpenSSL (node's `X509Certificate.subject`) prints them, by the other spellings. */
const TYPE_ALIASES: Record<string, string> = {
  commonname: 'cn',
  organizationname: 'o',
  organizationalunitname: 'ou',
  countryname: 'c',
  localityname: 'l',
  stateorprovincename: 'st',
  '2.5.4.3': 'cn',
  '2.5.4.5': 'serialnumber',
  '2.5.4.6': 'c',
  '2.5.4.10': 'o',
  '2.5.4.11': 'ou',
  '2.5.4.97': 'organizationidentifier',
};

function splitUnescaped(text: string, separator: RegExp): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\\' && i + 1 < text.length) {
      current += ch + text[i + 1];
      i++;
    } else if (separator.test(ch)) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts;
}

/** One attribute `type=value`, type in one spelling, value unescaped (RFC 4514 §2.4). */
function ava(text: string): string {
  const at = text.indexOf('=');
  if (at < 1) throw new Error(`not an attribute type=value: "${text.trim()}"`);
  const type = text.slice(0, at).trim().toLowerCase();
  const value = text
    .slice(at + 1)
    .trim()
    .replace(/\\(.)/g, '$1');
  return `${TYPE_ALIASES[type] ?? type}=${value}`;
}

/** An RDN with its attributes in a fixed order (a multi-valued RDN is a set). */
const rdn = (avas: string[]): string => avas.map(ava).sort().join('+');

/** A DN as written in config (RFC 4514 `CN=x, O=y, C=DK`), as its RDNs in the written order. */
export function parseDn(dn: string): string[] {
  return splitUnescaped(dn, /,/).map((r) => rdn(splitUnescaped(r, /\+/)));
}

/** A certificate's subject as its RDNs in the certificate's (DER) order. */
export function certificateSubject(cert: X509Certificate): string[] {
  return cert.subject.split('\n').map((line) => rdn(line.split(/(?<!\\) \+ /)));
}

/**
 * Whether a certificate's subject is the registered `tls_client_auth_subject_dn` (RFC 8705 §2.1.2). RFC 4514
 * writes the last RDN first while many tools write them in the certificate's order; either order is accepted, and
 * every RDN must match, attribute for attribute.
 */
export function subjectMatches(cert: X509Certificate, registered: string): boolean {
  let expected: string[];
  try {
    expected = parseDn(registered);
  } catch {
    return false;
  }
  const actual = certificateSubject(cert);
  const same = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  return same(expected, actual) || same(expected, [...actual].reverse());
}
