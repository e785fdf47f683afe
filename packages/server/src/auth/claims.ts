import type { AuthClient } from './config.ts';

/**
 * The organisation claims of a client's access tokens. EHMI names them (docs/specs/security.md 1c): the EHMI PDF
 * §3.5 example system-client token carries `cvr` and `org_name`; EDS client metadata adds `ehmi:eer:device_id` and
 * `ehmi:org_context` (an array of `{ name, sor, gln }`), which the authorization server embeds in registration
 * tokens (dk-ehmi-eds security page). The GLN and SOR code go in `ehmi:org_context`.
 */
export function organisationClaims(client: AuthClient): Record<string, unknown> | undefined {
  const org = client.organisation;
  if (!org) return undefined;
  return {
    'ehmi:org_context': [{ ...(org.name ? { name: org.name } : {}), sor: org.sor, gln: org.gln }],
    ...(org.cvr ? { cvr: org.cvr } : {}),
    ...(org.name ? { org_name: org.name } : {}),
    ...(org.deviceId ? { 'ehmi:eer:device_id': org.deviceId } : {}),
  };
}
