import { X509Certificate } from 'node:crypto';
import { checkCertificatePurpose, checkCertificateTrust } from '@ehmi/pki';
import { certificateOf, EDELIVERY_CONNECTION_TYPES } from './propagate.ts';
import type { Json } from './repository.ts';

/** What an access point must be before the register publishes it to the SMP. */
export interface PublicationRules {
  /** CA certificates an AP certificate must chain to (config `eer.apTrustAnchors`); none: not checked. */
  trustAnchors: readonly X509Certificate[];
  /** The node's development switch: an `http://` AP address is accepted. */
  insecure: boolean;
  now?: () => number;
}

export interface PublicationIssue {
  expression: string;
  message: string;
}

/**
 * Why an Endpoint or Device may not be published as an access point, empty when it may: the AP certificate it
 * carries (`smp-public-key`) must parse, be valid now, chain to the trust anchors and be meant for AS4, and an
 * eDelivery address must be https. The same rules the sending AP applies when it uses what the SMP publishes: the
 * register refuses at the write what every sender would refuse later, and says why.
 */
export function publicationIssues(type: string, resource: Json, rules: PublicationRules): PublicationIssue[] {
  if (type !== 'Endpoint' && type !== 'Device') return [];
  const issues: PublicationIssue[] = [];
  const der = certificateOf(resource);
  if (der) {
    const where = `${type}.extension('smp-public-key')`;
    let cert: X509Certificate | undefined;
    try {
      cert = new X509Certificate(der);
    } catch (err) {
      issues.push({
        expression: where,
        message: `the AP certificate cannot be read: ${(err as Error).message}`,
      });
    }
    if (cert) {
      const at = new Date((rules.now ?? Date.now)());
      const what = 'AP certificate';
      try {
        if (rules.trustAnchors.length > 0)
          checkCertificateTrust(cert, { trustAnchors: rules.trustAnchors, at, what });
        else if (at < new Date(cert.validFrom) || at > new Date(cert.validTo)) {
          throw new Error(
            `the AP certificate is not valid at ${at.toISOString()} (valid ${cert.validFrom} to ${cert.validTo})`,
          );
        }
        checkCertificatePurpose(cert, 'as4', { what });
      } catch (err) {
        issues.push({ expression: where, message: (err as Error).message });
      }
    }
  }
  const connection = (resource.connectionType as Json | undefined)?.code;
  // A Device's url is an access point's address only on the AP Device, the one that carries the AP certificate.
  const address =
    type === 'Device'
      ? der
        ? (resource.url as string | undefined)
        : undefined
      : EDELIVERY_CONNECTION_TYPES.has(connection as string)
        ? (resource.address as string | undefined)
        : undefined;
  if (typeof address === 'string' && !rules.insecure && !/^https:\/\//i.test(address)) {
    issues.push({
      expression: type === 'Device' ? 'Device.url' : 'Endpoint.address',
      message: `the access point address ${address} is not https`,
    });
  }
  return issues;
}
