import { EhmiError } from '@ehmi/errors';
import type { FastifyInstance } from 'fastify';
import type { AuthorizationServerMetadata } from './authz.ts';

/** SMART App Launch 2.x §2.0.9 "Metadata": where a FHIR server names its authorization server. */
export const SMART_CONFIGURATION_PATH = '/.well-known/smart-configuration';

/** The grant and client authentication EHMI allows (docs/specs/security.md 1c: mTLS only, client credentials). */
const GRANT_TYPES = ['client_credentials'];
const AUTH_METHODS = ['tls_client_auth'];

/**
 * The SMART configuration of a FHIR service (SMART App Launch 2.x, "smart-configuration" discovery; backend
 * services): what a system client needs to get an access token for this server, from the authorization server's
 * RFC 8414 metadata (`metadata`: the resource server's verifier keeps it, fetched once) and the scopes this server
 * takes. Only what is true here is said:
 *
 * - `grant_types_supported` `client_credentials` and `token_endpoint_auth_methods_supported` `tls_client_auth`
 *   (EHMI PDF §3.3), each only when the authorization server lists it (RFC 8414 §2 defaults otherwise);
 * - `capabilities` `permission-v2` (SMART v2 scopes, `system/Endpoint.rs`) only: `client-confidential-asymmetric` is
 *   private_key_jwt and `client-confidential-symmetric` a client secret, neither of which EHMI uses, and no launch
 *   or user capability applies to system clients;
 * - `tls_client_certificate_bound_access_tokens` and `mtls_endpoint_aliases` (RFC 8705 §3.3, §5) as the
 *   authorization server states them.
 *
 * The document is open (no certificate, no token): clients read it before they have either.
 *
 * @example
 * serveSmartConfiguration(app, { metadata: () => verifier.metadata(), scopes: ['system/Endpoint.rs'] });
 */
export function serveSmartConfiguration(
  app: FastifyInstance,
  options: {
    /** The authorization server's metadata; undefined when it publishes none. */
    metadata: () => Promise<AuthorizationServerMetadata | undefined>;
    /** The scopes this server takes (`scopes_supported`). */
    scopes: readonly string[];
  },
): void {
  app.get(
    SMART_CONFIGURATION_PATH,
    {
      schema: {
        summary:
          'SMART configuration (SMART App Launch 2.x): the authorization server and scopes of this service',
        security: [],
        responses: {
          '200': {
            description: 'SMART configuration',
            content: { 'application/json': { schema: { type: 'object' } } },
          },
        },
      },
    },
    async (_request, reply) => {
      const meta = await options.metadata();
      if (!meta?.token_endpoint) {
        throw new EhmiError(
          'EHMI_UNAVAILABLE',
          "the authorization server's metadata (RFC 8414) names no token endpoint, so this service cannot say where to get a token",
        );
      }
      const listed = (supported: readonly string[], ours: readonly string[]) =>
        ours.filter((x) => supported.includes(x));
      return reply.type('application/json').send({
        issuer: meta.issuer,
        jwks_uri: meta.jwks_uri,
        token_endpoint: meta.token_endpoint,
        // RFC 8414 §2: absent means authorization_code and implicit.
        grant_types_supported: listed(meta.grant_types_supported ?? [], GRANT_TYPES),
        // RFC 8414 §2: absent means client_secret_basic.
        token_endpoint_auth_methods_supported: listed(
          meta.token_endpoint_auth_methods_supported ?? [],
          AUTH_METHODS,
        ),
        scopes_supported: [...options.scopes],
        capabilities: ['permission-v2'],
        ...(meta.tls_client_certificate_bound_access_tokens === true
          ? { tls_client_certificate_bound_access_tokens: true }
          : {}),
        ...(meta.mtls_endpoint_aliases ? { mtls_endpoint_aliases: meta.mtls_endpoint_aliases } : {}),
        ...(meta.introspection_endpoint ? { introspection_endpoint: meta.introspection_endpoint } : {}),
        ...(meta.revocation_endpoint ? { revocation_endpoint: meta.revocation_endpoint } : {}),
      });
    },
  );
}
