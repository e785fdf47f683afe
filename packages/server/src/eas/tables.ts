import type { Store } from '../store/index.ts';
/** Tables of the eas role (times in epoch milliseconds, as in store/types.ts). Migrations: ./migrations.ts. */

/** One EER Organization as EER last sent it (`PUT /admin/organizations/{id}`). */
export interface EasOrganizationsTable {
  /** The EER Organization's id. */
  id: string;
  /** JSON text of the EER Organization resource. */
  resource: string;
  /** 1 when the organisation is a GP practice (has a ydernummer, or the SOR GeneralPractitioner type), else 0. */
  is_gp: number;
  updated_at: number;
}

/** The Endpoint resources EER sent with an organisation (an endpoint shared by several is stored with each). */
export interface EasEndpointsTable {
  organization_id: string;
  endpoint_id: string;
  resource: string;
}

/** The Device resources EER sent with an organisation. */
export interface EasDevicesTable {
  organization_id: string;
  device_id: string;
  resource: string;
}

/** Lookup keys of an organisation, so that every EAS operation is a plain indexed lookup. */
export interface EasIndexTable {
  organization_id: string;
  kind: 'sor' | 'ydernummer' | 'gln' | 'postal-code';
  value: string;
}

/** The local patient → GP relation (the seeded `PatientGpRegistry`). */
export interface EasPatientGpTable {
  cpr: string;
  sor: string | null;
  ydernummer: string | null;
  gln: string | null;
  updated_at: number;
}

export type EasTables = {
  eas_organizations: EasOrganizationsTable;
  eas_endpoints: EasEndpointsTable;
  eas_devices: EasDevicesTable;
  eas_index: EasIndexTable;
  eas_patient_gp: EasPatientGpTable;
};

/** The node's store as this role sees it: its own tables (the queue and blob APIs reach the store's). */
export type EasStore = Store<EasTables>;
