import { DSIG_NS } from '@ehmi/xmldsig';

/**
 * XML namespaces of the SMP documents we read and write.
 *
 * @example
 * childElement(root, NS.ds, 'Signature');
 */
export const NS = {
  /** OASIS BDXR SMP 1.0 (one namespace for everything, identifiers included). */
  bdxr: 'http://docs.oasis-open.org/bdxr/ns/SMP/2016/05',
  /** Peppol SMP 1.x ("busdox") publishing namespace. */
  peppol: 'http://busdox.org/serviceMetadata/publishing/1.0/',
  /** Peppol SMP 1.x identifier namespace (ParticipantIdentifier, DocumentIdentifier, ProcessIdentifier). */
  peppolIds: 'http://busdox.org/transport/identifiers/1.0/',
  /** WS-Addressing 1.0, for the Peppol `wsa:EndpointReference/wsa:Address`. */
  wsa: 'http://www.w3.org/2005/08/addressing',
  ds: DSIG_NS.ds,
  xmlns: DSIG_NS.xmlns,
} as const;

/** Which SMP specification a document follows. */
export type SmpFlavour = 'oasis-bdxr-1' | 'peppol';

/** The namespace of the publishing elements of a flavour. */
export function publishingNs(flavour: SmpFlavour): string {
  return flavour === 'peppol' ? NS.peppol : NS.bdxr;
}

/** The namespace of the identifier elements of a flavour. */
export function identifierNs(flavour: SmpFlavour): string {
  return flavour === 'peppol' ? NS.peppolIds : NS.bdxr;
}
