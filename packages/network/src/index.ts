// @ehmi/network: the local EHMI network around the node (@ehmi/server): planning it on a data folder and a port base,
// its test PKI, the central registers, sample messages, `startNetwork`, the `network.json` manifest and
// `NetworkClient`, which talks to a running network's MSHs. Light entry points, which do not load the node:
// `@ehmi/network/client` (NetworkClient and its helpers) and `@ehmi/network/sample` (sample messages).
export {
  AUDIT_SCOPES,
  type AuthEerClient,
  type AuthNetworkClient,
  type AuthOrganisation,
  type AuthPlan,
  type AuthUrls,
  certificateSubjectDn,
  EAS_ADMIN_SCOPES,
  EAS_PATIENT_SCOPES,
  EAS_SCOPES,
  EER_CLIENT_ID,
  EER_READ_SCOPES,
  EER_WRITE_SCOPES,
  METRICS_SCOPES,
  MSH_READ_SCOPES,
  MSH_SCOPES,
  planAuthRegistrations,
  SMP_ADMIN_SCOPES,
} from './auth.ts';
export {
  type CentralSecrets,
  type CentralUrls,
  ensureCentralSecrets,
  fetchWithToken,
  LOCAL_SML_ZONE,
  NETWORK_MESSAGE_TYPES,
  PAYLOAD_MESSAGE_TYPES,
  publishedDocumentTypes,
} from './central.ts';
export {
  exitCodeForStatus,
  type MshResponse,
  NetworkClient,
  networkDataDir,
  type OutcomeIssue,
  outcomeIssues,
  writeFailure,
} from './client.ts';
export {
  CRL_VALIDITY_MS,
  loadNetworkRoot,
  type NetworkRevocation,
  type PublishedCrl,
  publishNetworkCrl,
  REVOCATION_REASONS,
  type Revoked,
  type RevokeOptions,
  readRevocations,
  revokeNetworkCertificate,
} from './crl.ts';
export { type CrlService, type CrlServiceOptions, startCrlService } from './crl-server.ts';
export { noteDataDir } from './data-dir.ts';
export {
  CENTRAL_NODE_SERVICES,
  type CentralNodeService,
  centralServicesOf,
  DEFAULT_NETWORK,
  type DescribedOrganisation,
  isValidCvr,
  type NetworkDescription,
  networkDescriptionSchema,
  networkJsonSchema,
  organisationsOf,
  parseNetworkDescription,
  REQUIRED_CENTRAL_SERVICES,
  readNetworkDescription,
} from './description.ts';
export {
  MANIFEST_FILE,
  type ManifestNetworkClient,
  type ManifestOrganisation,
  type NetworkManifest,
  networkManifestSchema,
  readNetworkManifest,
  writeNetworkManifest,
} from './manifest.ts';
export {
  isValidGln,
  LOCAL_ORGANISATIONS,
  ORGANISATION_ROLES,
  type OrganisationRole,
  type OrganisationSpec,
  participantOf,
} from './organisations.ts';
export {
  CENTRAL_NAME,
  CENTRAL_OPERATOR,
  type CentralCredentials,
  type CredentialFiles,
  ensureNetworkPki,
  type NetworkPki,
  type NetworkPkiOptions,
  type NetworkPurpose,
  networkCrlUrl,
  type OrganisationCredentials,
  type PkiOrganisation,
} from './pki.ts';
export {
  CENTRAL_PURPOSES,
  CRL_PATH,
  credentialFiles,
  crlFile,
  isNetworkClient,
  NETWORK_CLIENT_PURPOSES,
  NETWORK_CLIENTS,
  type NetworkClientName,
  ORGANISATION_PURPOSES,
  purposesOf,
  revokedFile,
} from './pki-files.ts';
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
export { SAMPLE_PATIENT_CPR, sampleHomeCareObservation } from './sample.ts';
export {
  ensureOrganisationSecrets,
  type OrganisationSecrets,
  readOrganisationSecrets,
  SECRETS_FILE,
} from './secrets.ts';
export {
  CONSOLE_OPERATOR,
  consoleOperatorPasswordFile,
  type NetworkPlan,
  noteNetworkDataDir,
  type PlannedCentral,
  type PlannedCrl,
  type PlannedNetworkClient,
  type PlannedOrganisation,
  planNetwork,
  type RunningNetwork,
  type StartNetworkOptions,
  seedNetworkRegisters,
  startNetwork,
} from './start.ts';
