export { createHttpServer, FHIR_JSON, type HttpServerOptions } from './server.ts';
