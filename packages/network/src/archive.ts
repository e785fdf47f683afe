import type { ConfigInput } from '@ehmi/server';
import type { OrganisationSpec } from './organisations.ts';

/**
 * The document archive of the local network (EMR/DDS, ehmi-core §1.3): a participant of its own, with its own node
 * (an access point and the archive role), its own keys and certificates from the network's PKI, registered in EER
 * and so in the SMP like an organisation. Its GLN, SOR code and CVR number are MADE UP for the local network (the
 * real EMR's are not published): the GLN passes the GS1 check digit, the CVR number the modulus-11 check, and
 * neither belongs to anyone.
 */
export const ARCHIVE_SPEC: OrganisationSpec = {
  name: 'archive',
  role: 'archive',
  gln: '5790000999903',
  sor: '999999000016009',
  cvr: '39990008',
  title: 'Dokumentarkiv (EMR, lokalt testnet)',
  address: { city: 'København S', postalCode: '2300' },
};

/** The message types the municipality's MSH copies to the archive: the prøvesvar (configuration, not code). */
export const ARCHIVED_MESSAGE_TYPES = ['homecareobservation-message'];

/** The archive's OAuth client (its node's TLS client certificate): it reports its steps to EDS. */
export const ARCHIVE_CLIENT_ID = 'archive-eua';

/** The archive as planned: its node's servers and its complete config. */
export interface PlannedArchive {
  spec: OrganisationSpec;
  /** `archive` the FHIR API, `ap` its access point, `node` its own server (health, metrics, audit log). */
  urls: { archive: string; ap: string; node: string };
  clientId: string;
  config: ConfigInput;
}

/**
 * The `msh.archive` section of an organisation's MSH: the municipality sends a copy of its prøvesvar to the archive;
 * the others share nothing.
 */
export function archiveCopies(org: OrganisationSpec): NonNullable<ConfigInput['msh']>['archive'] | undefined {
  if (org.role !== 'municipality') return undefined;
  return {
    participant: `0088:${ARCHIVE_SPEC.gln}`,
    sor: ARCHIVE_SPEC.sor,
    messageTypes: ARCHIVED_MESSAGE_TYPES,
  };
}
