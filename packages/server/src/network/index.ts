export {
  type CentralSecrets,
  type CentralUrls,
  ensureCentralSecrets,
  LOCAL_SML_ZONE,
  publishedDocumentTypes,
} from './central.ts';
export {
  MANIFEST_FILE,
  type ManifestOrganisation,
  type NetworkManifest,
  networkManifestSchema,
  readNetworkManifest,
  writeNetworkManifest,
} from './manifest.ts';
export {
  isValidGln,
  LOCAL_ORGANISATIONS,
  type OrganisationRole,
  type OrganisationSpec,
  participantOf,
} from './organisations.ts';
export {
  type CentralCredentials,
  type CredentialFiles,
  ensureNetworkPki,
  type NetworkPki,
  type OrganisationCredentials,
} from './pki.ts';
export {
  CENTRAL_SERVICES,
  type CentralService,
  centralServicePort,
  checkPortBase,
  DEFAULT_PORT_BASE,
  NETWORK_PORT_SPAN,
  type OrganisationPorts,
  organisationPorts,
} from './ports.ts';
export {
  type NetworkPlan,
  type PlannedCentral,
  type PlannedOrganisation,
  planNetwork,
  type RunningNetwork,
  type StartNetworkOptions,
  startNetwork,
} from './start.ts';
