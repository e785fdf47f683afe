// @ehmi/server: an EHMI node and its roles. A node is started from its config (`loadConfig` or `configSchema`, then
// `startNode`); the role factories create one role on a node's store, queue and logger. The local network
// (@ehmi/network) and the `ehmi` command (@ehmi/cli) are built on this entry point.
// Light entry points for callers that must not load the roles: `@ehmi/server/config` (config loading and schema),
// `@ehmi/server/steps` (the message timeline's steps), `@ehmi/server/fhir-body` (reading a FHIR body as the MSH does).

export { type ApConfig, apConfigSchema } from './ap/config.ts';
export { configuredDiscovery } from './ap/discovery-config.ts';
export {
  type AccessPoint,
  type AccessPointDeps,
  buildOutboundMessage,
  createAccessPoint,
  type MshBackend,
  type ReceiverDiscovery,
} from './ap/index.ts';
export {
  ARCHIVE_BINARY_SCOPE,
  ARCHIVE_READ_SCOPE,
  type ArchiveRole,
  createArchiveRole,
} from './archive/index.ts';
export {
  AUDIT_PATH,
  AUDIT_SCOPE,
  AuditLog,
  type AuditQuery,
  type AuditRecord,
  auditEvent,
  MINLOG_CODE,
  MINLOG_SYSTEM,
  type ServerAudit,
} from './audit/index.ts';
export {
  createEasRole,
  EAS_ADMIN_SCOPE,
  EAS_ORGANIZATION_SCOPE,
  EAS_PATIENT_SCOPE,
  type EasDeps,
  type EasRole,
} from './eas/index.ts';
export {
  createEerRole,
  DEFAULT_MESSAGE_TYPES,
  type EerDeps,
  type EerOrganisationInput,
  type EerOrganisationResources,
  type EerRole,
  eerResourcesFor,
  type SeedEerResult,
  seedEer,
} from './eer/index.ts';
export { documentTypeOf } from './eer/propagate.ts';
export { PROPAGATE_QUEUE } from './eer/role.ts';
export { readFhir } from './msh/fhir-body.ts';
export { createMsh, type MessageServiceHandler, type MshDeps } from './msh/index.ts';
export { stepMeaning, TIMELINE_STEPS, type TimelineStep } from './msh/steps.ts';
export { createLogger, type RunningNode, roleContext, startNode } from './node.ts';
export { MESSAGE_PATH, QUEUES } from './path.ts';
export {
  type Config,
  type ConfigInput,
  configKeys,
  configSchema,
  envName,
  type LoadConfigOptions,
  loadConfig,
  type NodeTables,
  openNodeStore,
  ROLE_MIGRATIONS,
  ROLES,
} from './role-list.ts';
export { defineRole, type NodeServices, type Role, type RoleContext, type RoleModule } from './roles.ts';
export { CENTRAL_NODE_V8_FLAGS, NODE_ENVIRONMENT, NODE_V8_FLAGS, nodeEnvironment } from './runtime.ts';
export { createSmpRole, SMP_ADMIN_SCOPE, type SmpRole } from './smp/index.ts';
export { type Engine, JobQueue, openStore, type Store, type StoreOptions, storeView } from './store/index.ts';
export { TokenClient, type TokenClientOptions, type TokenRequest } from './token-client.ts';
