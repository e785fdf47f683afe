import { z } from 'zod';

const port = z.number().int().min(0).max(65535);
const hostOrIp = z.string().regex(/^[A-Za-z0-9.:_-]+$/, 'expected a host name or an IP address');
const dnsName = z
  .string()
  .regex(
    /^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$/,
    'expected a DNS name',
  );

/**
 * The local SML/BDXL zone served by the smp role (a small authoritative DNS server over UDP and TCP): for every
 * participant with a ServiceGroup here, a BDXL U-NAPTR `Meta:SMP` record and a Peppol SML `B-<md5>` CNAME.
 */
export const smpDnsConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** Address the DNS server listens on (UDP and TCP, the same port). */
    host: hostOrIp.default('127.0.0.1'),
    /** 0 picks a free port (the same for UDP and TCP). */
    port: port.default(8753),
    /** The SML/BDXL zone (the `sml.zone` of the SMP clients). */
    zone: dnsName.default('sml.ehmi.internal'),
    /** The name the Peppol CNAMEs point to; default `smp.<zone>`. */
    smpHostname: dnsName.optional(),
    /** A records of `smpHostname` (and of `ns.<zone>`); default: the SMP's public host when it is an IPv4 address, else 127.0.0.1. */
    smpAddresses: z.array(z.ipv4()).default([]),
    /** TTL of every record and of negative answers (RFC 2308): short, so a change is seen quickly. */
    ttlSeconds: z.number().int().min(0).max(86_400).default(60),
  })
  .strict()
  .prefault({});

/** The smp role: an SMP (OASIS BDXR SMP 1.0 or Peppol SMP 1.x) with its admin API and, optionally, the local DNS zone. */
export const smpConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
    host: hostOrIp.default('127.0.0.1'),
    /** HTTP port (SMPs are plain HTTP: Peppol SMP 1.x, the SML CNAME names port 80); 0 picks a free one. */
    port: port.default(8712),
    /** Base URL others reach this SMP at (ServiceMetadataReferences, NAPTR records); default http://host:port. */
    publicUrl: z.string().url().optional(),
    /** Which SMP specification the read API speaks. */
    flavour: z.enum(['oasis', 'peppol']).default('oasis'),
    /** PEM files of the certificate (chain after it) and key that sign every SignedServiceMetadata. */
    signing: z
      .object({
        cert: z.string().min(1),
        key: z.string().min(1),
      })
      .strict()
      .optional(),
    /**
     * The admin API (PUT/DELETE of ServiceGroup and ServiceMetadata) with the node's `authorization`: its own HTTPS
     * server (the node's `tls`, client certificates asked for under `tls.ca`), since a certificate-bound access token
     * (`smp/publication.write`) needs TLS and the read API stays plain HTTP as SMPs are.
     */
    admin: z
      .object({
        /** Default `smp.host`. */
        host: hostOrIp.optional(),
        /** HTTPS port; 0 picks a free one. */
        port: port.default(8715),
        /** Base URL clients reach the admin API at (the audience of its tokens), when it differs from the listen URL. */
        publicUrl: z.string().url().optional(),
      })
      .strict()
      .prefault({}),
    /**
     * Static bearer token of the admin API, for development only: without the node's `authorization` (the `insecure`
     * switch) the admin API is served on the read server behind this token (at least 16 characters); with it, the
     * token is not taken.
     */
    adminToken: z.string().min(16, 'expected at least 16 characters').optional(),
    dns: smpDnsConfigSchema,
  })
  .strict()
  .prefault({});

export type SmpConfig = z.infer<typeof smpConfigSchema>;
export type SmpDnsConfig = z.infer<typeof smpDnsConfigSchema>;
