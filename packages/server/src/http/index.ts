export { type AuditNote, noteAudit } from './audit-note.ts';
export { StaticBearerToken } from './bearer.ts';
export { commitsFirst, commitsFirstGlobally, nodeAgent } from './client.ts';
export {
  type ClientCertificate,
  certificatesOfPem,
  clientCertificateOf,
  type TrustedProxies,
} from './client-certificate.ts';
export { OPERATION_OUTCOME_SCHEMA, type OpenApiInfo, openApiPath, type RouteSeen } from './openapi.ts';
export { peerCertificatePath } from './peer-certificate.ts';
export {
  createHttpServer,
  FHIR_JSON,
  type HttpServerOptions,
  type HttpsOptions,
  hostForUrl,
  listen,
} from './server.ts';
export { DEFAULT_HTTP_TIMEOUTS, type HttpTimeouts, timeoutsOf } from './timeouts.ts';
