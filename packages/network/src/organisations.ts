import { gs1CheckDigit } from '@ehmi/smp';

/**
 * The roles an organisation can play in a network: the one list behind network.json (`organisations[].role`) and
 * `OrganisationRole`. `archive` is the document archive's (archive.ts): `ehmi up` adds it beside the organisations
 * of the description, which names only {@link DESCRIBED_ROLES}.
 */
export const ORGANISATION_ROLES = ['municipality', 'gp', 'hospital', 'archive'] as const;

/** The roles an organisation of a network description can play: every role but the archive's. */
export const DESCRIBED_ROLES = [
  'municipality',
  'gp',
  'hospital',
] as const satisfies readonly OrganisationRole[];

/** The role an organisation plays in a network (network.json `organisations[].role`). */
export type OrganisationRole = (typeof ORGANISATION_ROLES)[number];

/** One organisation of the local network: who it is in MedCom messages and in eDelivery addressing. */
export interface OrganisationSpec {
  /** Short name without spaces; the ORG of the CLI commands. */
  name: string;
  role: OrganisationRole;
  /** GLN (13 digits, GS1 check digit): the eDelivery participant `0088:<GLN>`. */
  gln: string;
  /** SOR code (`urn:oid:1.2.208.176.1.1`). */
  sor: string;
  /**
   * CVR number (8 digits): the `organizationIdentifier` (`NTRDK-<cvr>`) of the OCES3-style subjects of its
   * certificates (the local network's PKI).
   */
  cvr: string;
  /** The organisation's name in the FHIR messages it sends and receives. */
  title: string;
  /** Ydernummer (`urn:oid:1.2.208.176.1.4`) of a GP practice: MedComRequesterOrganization requires it. */
  ydernummer?: string;
  /** Postal address, as EER holds it (EAS finds GP practices by postal code). */
  address: { city: string; postalCode: string };
  /**
   * The message types it receives: Endpoint.payloadType codes of its EER messaging Endpoint, which EER publishes
   * in the SMP as document types. Default `NETWORK_MESSAGE_TYPES` (central.ts).
   */
  receives?: readonly string[];
  /** Its node's ports, each one given or laid out from the port base (`organisationPorts`). */
  ports?: { msh?: number; ap?: number; node?: number };
}

/**
 * The three organisations of `ehmi up`. GLN and SOR codes are those of the MedCom examples, so the messages built
 * with them look like MedCom's own: the municipal acute team "Pleje og Rehabilitering" and the GP practice
 * "Skødstrup Lægepraksis" of the HomeCareObservation 1.2.1 examples (Organization-72cc3a2c…, -1ab9c2d9…), and the
 * receiver organisation of the Acknowledgement 2.0.3 examples as the hospital. Names are the roles' own words. The
 * MedCom examples carry no CVR numbers: the CVR numbers here are made up (8 digits that pass the CVR modulus-11
 * check, weights 2,7,6,5,4,3,2,1) and belong to no real company.
 */
export const LOCAL_ORGANISATIONS: readonly OrganisationSpec[] = [
  {
    name: 'municipality',
    role: 'municipality',
    gln: '5790000123117',
    sor: '1144561000016002',
    cvr: '29178437',
    title: 'Pleje og Rehabilitering',
    address: { city: 'Aarhus C', postalCode: '8000' },
  },
  {
    name: 'gp',
    role: 'gp',
    gln: '5790000127092',
    sor: '52581000016005',
    cvr: '30466519',
    title: 'Skødstrup Lægepraksis',
    ydernummer: '061654',
    address: { city: 'Skødstrup', postalCode: '8541' },
  },
  {
    name: 'hospital',
    role: 'hospital',
    gln: '5790000209354',
    sor: '265161000016000',
    cvr: '29812276',
    title: 'Hospital',
    address: { city: 'Aarhus N', postalCode: '8200' },
  },
];

/** A GLN: 13 digits whose last is the GS1 check digit of the others (`gs1CheckDigit` of @ehmi/smp). */
export function isValidGln(gln: string): boolean {
  return /^\d{13}$/.test(gln) && gs1CheckDigit(gln.slice(0, 12)) === Number(gln[12]);
}

/** The eDelivery participant identifier of an organisation (iso6523-actorid-upis, ICD 0088 = GLN). */
export function participantOf(org: { gln: string }): string {
  return `0088:${org.gln}`;
}
