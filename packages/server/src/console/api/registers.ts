import { X509Certificate } from 'node:crypto';
import { EhmiError } from '@ehmi/errors';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ConsoleApiDeps } from '../session.ts';
import { fhirJson, resourcesOf } from './upstream.ts';

type R = Record<string, unknown>;

export interface CertificateView {
  subject: string;
  issuer: string;
  notAfter: string;
  daysLeft: number;
}

const DAY_MS = 86_400_000;

/** A certificate's subject and expiry, from its DER in base64 (EER's `smp-public-certificate`). */
export function certificateView(base64: string, now = Date.now()): CertificateView | undefined {
  try {
    const cert = new X509Certificate(Buffer.from(base64, 'base64'));
    const notAfter = new Date(cert.validTo);
    return {
      subject: cert.subject.replace(/\n/g, ', '),
      issuer: cert.issuer.replace(/\n/g, ', '),
      notAfter: notAfter.toISOString(),
      daysLeft: Math.floor((notAfter.getTime() - now) / DAY_MS),
    };
  } catch {
    return undefined;
  }
}

/** Every base64Binary value in a resource's extensions, nested ones included (the AP certificate's place). */
function certificatesIn(resource: R): string[] {
  const out: string[] = [];
  const walk = (exts: unknown) => {
    for (const e of (exts as R[] | undefined) ?? []) {
      if (typeof e.valueBase64Binary === 'string') out.push(e.valueBase64Binary);
      walk(e.extension);
    }
  };
  walk(resource.extension);
  return out;
}

const codes = (list: unknown) =>
  ((list as { coding?: { code?: string }[] }[] | undefined) ?? [])
    .flatMap((c) => c.coding ?? [])
    .map((c) => c.code ?? '')
    .filter(Boolean);

/**
 * The registers in one view: EER's Organizations with their Endpoints (address, message types, access point) and
 * publication to the SMP and EAS (`$publication-status`), and the access point Devices with their certificates.
 */
export async function readRegisters(request: FastifyRequest) {
  const [orgBundle, endpointBundle, deviceBundle] = await Promise.all([
    fhirJson(request, 'eer', '/Organization?_count=500'),
    fhirJson(request, 'eer', '/Endpoint?_count=500'),
    fhirJson(request, 'eer', '/Device?_count=500'),
  ]);
  const orgs = resourcesOf(orgBundle);
  const endpoints = resourcesOf(endpointBundle);
  const devices = resourcesOf(deviceBundle);
  const orgName = new Map(orgs.map((o) => [`Organization/${String(o.id)}`, String(o.name ?? o.id)]));

  const publications = await Promise.all(
    orgs.map(async (o) => {
      try {
        const p = await fhirJson(
          request,
          'eer',
          `/Organization/${encodeURIComponent(String(o.id))}/$publication-status`,
        );
        return ((p.parameter as R[] | undefined) ?? [])
          .filter((x) => x.name === 'publication')
          .map((x) => {
            const part = (name: string) => ((x.part as R[] | undefined) ?? []).find((y) => y.name === name);
            return {
              target: String(part('target')?.valueCode ?? ''),
              status: String(part('status')?.valueCode ?? ''),
              ...(part('reason') ? { reason: String(part('reason')?.valueString) } : {}),
            };
          });
      } catch (err) {
        if (err instanceof EhmiError && err.code === 'EHMI_UNAUTHORIZED') throw err;
        return [];
      }
    }),
  );

  return {
    organisations: orgs.map((o, i) => {
      const ref = `Organization/${String(o.id)}`;
      const own = endpoints.filter(
        (e) => (e.managingOrganization as { reference?: string } | undefined)?.reference === ref,
      );
      // The Organization holds its SOR code (and ydernummer); its messaging Endpoint the GLN it is addressed by.
      const ids = [o, ...own]
        .flatMap((r) => (r.identifier as { system?: string; value?: string }[] | undefined) ?? [])
        .map((x) => ({ system: x.system ?? '', value: x.value ?? '' }));
      return {
        id: String(o.id),
        name: String(o.name ?? o.id),
        identifiers: ids,
        publication: publications[i] ?? [],
        endpoints: own.map((e) => {
          const ap = ((e.extension as R[] | undefined) ?? [])
            .map((x) => (x.valueReference as { reference?: string } | undefined)?.reference)
            .find((r) => r?.startsWith('Device/'));
          return {
            id: String(e.id),
            address: String(e.address ?? ''),
            status: String(e.status ?? ''),
            messageTypes: codes(e.payloadType),
            ...(ap ? { accessPoint: ap.slice('Device/'.length) } : {}),
          };
        }),
      };
    }),
    accessPoints: devices.map((d) => {
      const names = (d.deviceName as { name?: string }[] | undefined) ?? [];
      const cert = certificatesIn(d)
        .map((b) => certificateView(b))
        .find((c) => c !== undefined);
      // The Device names no owner: the Endpoints that use it as their access point (`apSystem`) do.
      const owner =
        (d.owner as { reference?: string } | undefined)?.reference ??
        (
          endpoints.find((e) =>
            ((e.extension as R[] | undefined) ?? []).some(
              (x) =>
                (x.valueReference as { reference?: string } | undefined)?.reference ===
                `Device/${String(d.id)}`,
            ),
          )?.managingOrganization as { reference?: string } | undefined
        )?.reference;
      return {
        id: String(d.id),
        name: names[0]?.name ?? String(d.id),
        ...(owner ? { owner: orgName.get(owner) ?? owner } : {}),
        ...(cert ? { certificate: cert } : {}),
      };
    }),
  };
}

export function registerRegisterRoutes(app: FastifyInstance, _deps: ConsoleApiDeps): void {
  app.get('/registers', async (request) => readRegisters(request));
}
