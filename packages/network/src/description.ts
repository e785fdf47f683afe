import { EhmiError } from '@ehmi/errors';
import { DEFAULT_MESSAGE_TYPES } from '@ehmi/server';
import { z } from 'zod';
import { NETWORK_MESSAGE_TYPES } from './central.ts';
import { readJsonFile } from './json-file.ts';
import { DESCRIBED_ROLES, isValidGln, LOCAL_ORGANISATIONS, type OrganisationSpec } from './organisations.ts';
import { CENTRAL_NAME } from './pki.ts';
import { CRL_DIR_NAME, NETWORK_CLIENTS } from './pki-files.ts';

/**
 * The services of the central node a description can name (`central.services`). The CRL service always runs beside
 * them: the local network's PKI names it in every certificate.
 */
export const CENTRAL_NODE_SERVICES = ['auth', 'eer', 'eas', 'smp', 'dns', 'eds', 'console'] as const;
export type CentralNodeService = (typeof CENTRAL_NODE_SERVICES)[number];
/**
 * The ones every network needs: tokens (auth), the master register (EER) that feeds addressing (EAS) and discovery
 * (the SMP and its DNS zone). EDS and the console may be left out.
 */
export const REQUIRED_CENTRAL_SERVICES: readonly CentralNodeService[] = ['auth', 'eer', 'eas', 'smp', 'dns'];

/** The EnvelopeReceipt's document type: every organisation that sends gets its receipts back. */
const ENVELOPE_RECEIPT = DEFAULT_MESSAGE_TYPES.find((t) => t.includes('ehmisbdh-acknowledgement'))!;

/** The CVR modulus-11 check (weights 2,7,6,5,4,3,2,1): the sum is a multiple of 11. */
export function isValidCvr(cvr: string): boolean {
  if (!/^[1-9]\d{7}$/.test(cvr)) return false;
  const weights = [2, 7, 6, 5, 4, 3, 2, 1];
  return [...cvr].reduce((sum, d, i) => sum + Number(d) * weights[i]!, 0) % 11 === 0;
}

const port = z.number().int().min(1).max(65535);

const organisationSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,31}$/, 'a lower-case name of at most 32 letters, digits and dashes')
      .describe(
        'Short name: the ORG of the CLI commands, the folder of its data and keys, its client `<name>-eua`',
      ),
    role: z.enum(DESCRIBED_ROLES).describe('The role it plays'),
    title: z.string().min(1).describe('Its name in the FHIR messages it sends and receives, and in EER'),
    gln: z
      .string()
      .regex(/^\d{13}$/, '13 digits')
      .refine(isValidGln, 'the last digit is not the GS1 check digit of the others')
      .describe('GLN: the eDelivery participant 0088:<GLN>; 13 digits, the last the GS1 check digit'),
    sor: z
      .string()
      .regex(/^\d{6,18}$/, '6–18 digits')
      .describe('SOR code (urn:oid:1.2.208.176.1.1)'),
    cvr: z
      .string()
      .regex(/^[1-9]\d{7}$/, '8 digits, the first not 0')
      .refine(isValidCvr, 'fails the CVR modulus-11 check')
      .describe('CVR number: the organizationIdentifier NTRDK-<cvr> of its certificates'),
    ydernummer: z
      .string()
      .regex(/^\d{6}$/, '6 digits')
      .optional()
      .describe('Ydernummer (urn:oid:1.2.208.176.1.4); a GP practice must have one'),
    address: z
      .object({
        city: z.string().min(1),
        postalCode: z.string().regex(/^\d{4}$/, 'a Danish postal code: 4 digits'),
      })
      .strict()
      .describe('Postal address as EER holds it (EAS finds GP practices by postal code)'),
    receives: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe(
        'Message types it receives (EER Endpoint.payloadType codes, published in the SMP); default the seven of NETWORK_MESSAGE_TYPES (the four MedCom FHIR messages of DEFAULT_MESSAGE_TYPES, the EDIFACT and OIOXML laboratory reports and the OIOXML binary transport). Must include the EnvelopeReceipt (ehmisbdh-acknowledgement)',
      ),
    ports: z
      .object({ msh: port.optional(), ap: port.optional(), node: port.optional() })
      .strict()
      .optional()
      .describe("Its node's ports; each one left out is laid out from the port base (base+10+3i, +11, +12)"),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.role === 'gp' && !o.ydernummer)
      ctx.addIssue({
        code: 'custom',
        path: ['ydernummer'],
        message: 'a GP practice needs its ydernummer (MedComRequesterOrganization)',
      });
    if (o.receives) {
      if (new Set(o.receives).size !== o.receives.length)
        ctx.addIssue({ code: 'custom', path: ['receives'], message: 'a message type is listed twice' });
      if (!o.receives.includes(ENVELOPE_RECEIPT))
        ctx.addIssue({
          code: 'custom',
          path: ['receives'],
          message: `must include the EnvelopeReceipt, ${ENVELOPE_RECEIPT}: every message it sends is receipted with one`,
        });
    }
    const reserved =
      o.name === CENTRAL_NAME
        ? "the central node's name"
        : o.name === CRL_DIR_NAME
          ? "the CRL's folder in pki/"
          : (NETWORK_CLIENTS as readonly string[]).includes(o.name)
            ? `a network-level client's name (pki/${o.name}/)`
            : undefined;
    if (reserved)
      ctx.addIssue({
        code: 'custom',
        path: ['name'],
        message: `"${o.name}" is ${reserved}, not an organisation's`,
      });
  });

/** The schema of a network description (`ehmi up --network FILE`); its JSON Schema is `networkJsonSchema()`. */
export const networkDescriptionSchema = z
  .object({
    $schema: z.string().optional().describe('The JSON Schema this file follows (for editors)'),
    description: z.string().optional().describe('Free text: what this network is for'),
    portBase: z
      .number()
      .int()
      .min(1)
      .max(65486)
      .optional()
      .describe('First of the 50 consecutive ports the network uses (default 8700; --port-base wins)'),
    central: z
      .object({
        services: z
          .array(z.enum(CENTRAL_NODE_SERVICES))
          .optional()
          .describe(
            'The services the central node runs (default all); auth, eer, eas, smp and dns are required, eds and console optional',
          ),
      })
      .strict()
      .optional()
      .describe("The central node; each organisation's node runs its MSH and its access point"),
    organisations: z.array(organisationSchema).min(1).max(40),
  })
  .strict()
  .superRefine((d, ctx) => {
    const seen = (key: 'name' | 'gln' | 'sor', what: string) => {
      const first = new Map<string, number>();
      d.organisations.forEach((o, i) => {
        const before = first.get(o[key]);
        if (before === undefined) first.set(o[key], i);
        else
          ctx.addIssue({
            code: 'custom',
            path: ['organisations', i, key],
            message: `${what} ${o[key]} is organisations[${before}]'s too`,
          });
      });
    };
    seen('name', 'the name');
    seen('gln', 'the GLN');
    seen('sor', 'the SOR code');
    const services = d.central?.services;
    if (services) {
      for (const s of REQUIRED_CENTRAL_SERVICES)
        if (!services.includes(s))
          ctx.addIssue({
            code: 'custom',
            path: ['central', 'services'],
            message: `${s} is required (the network cannot run without ${REQUIRED_CENTRAL_SERVICES.join(', ')})`,
          });
      if (new Set(services).size !== services.length)
        ctx.addIssue({ code: 'custom', path: ['central', 'services'], message: 'a service is listed twice' });
    }
  });

export type NetworkDescription = z.input<typeof networkDescriptionSchema>;
export type DescribedOrganisation = z.output<typeof organisationSchema>;

/** The network `ehmi up` runs without `--network`: the three organisations of `LOCAL_ORGANISATIONS`. */
export const DEFAULT_NETWORK: NetworkDescription = {
  description: 'The local EHMI network of `ehmi up`: a municipality, a GP practice and a hospital',
  organisations: LOCAL_ORGANISATIONS.map((o) => ({
    name: o.name,
    // LOCAL_ORGANISATIONS are a municipality, a GP practice and a hospital: roles a description names.
    role: o.role as (typeof DESCRIBED_ROLES)[number],
    title: o.title,
    gln: o.gln,
    sor: o.sor,
    cvr: o.cvr,
    ...(o.ydernummer ? { ydernummer: o.ydernummer } : {}),
    address: { ...o.address },
    receives: [...NETWORK_MESSAGE_TYPES],
  })),
};

/** The JSON Schema (draft 2020-12) of a network description, as `packages/network/schema/network.schema.json`. */
export function networkJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(networkDescriptionSchema, { target: 'draft-2020-12', io: 'input' }),
    title: 'EHMI network description',
    description:
      "The organisations and central services of an EHMI network that `ehmi up --network FILE` starts. Checks a JSON Schema cannot state (the GLN check digit, the CVR check, unique names, GLNs and SOR codes, a GP's ydernummer, the EnvelopeReceipt among the message types) are made by `ehmi up`.",
  };
}

/** A path of a wrong element as JavaScript spells it: `organisations[1].gln`. */
function pathOf(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out ? '.' : ''}${String(p)}`;
  return out || '(root)';
}

/**
 * Check a network description; `EHMI_CONFIG_INVALID` naming the path of the first wrong element
 * (`organisations[1].gln: the last digit is not the GS1 check digit of the others`).
 */
export function parseNetworkDescription(
  value: unknown,
  source = 'the network description',
): NetworkDescription {
  const result = networkDescriptionSchema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new EhmiError('EHMI_CONFIG_INVALID', `${source}: ${pathOf(issue.path)}: ${issue.message}`);
  }
  return result.data;
}

/**
 * Read and check a network description file (see `parseNetworkDescription`); its errors name it as `shown` (the path
 * as the user gave it), default `file`.
 */
export function readNetworkDescription(file: string, shown = file): NetworkDescription {
  return parseNetworkDescription(
    readJsonFile(file, z.unknown(), 'a network description', () => {
      throw new EhmiError('EHMI_CONFIG_INVALID', `no network description at ${shown}`);
    }),
    shown,
  );
}

/** The organisations of a checked description, as `planNetwork` takes them. */
export function organisationsOf(description: NetworkDescription): OrganisationSpec[] {
  return parseNetworkDescription(description).organisations.map((o) => {
    const d = o as DescribedOrganisation;
    return {
      name: d.name,
      role: d.role,
      title: d.title,
      gln: d.gln,
      sor: d.sor,
      cvr: d.cvr,
      ...(d.ydernummer ? { ydernummer: d.ydernummer } : {}),
      address: { ...d.address },
      ...(d.receives ? { receives: [...d.receives] } : {}),
      ...(d.ports ? { ports: { ...d.ports } } : {}),
    };
  });
}

/** The central node's services of a checked description (default all). */
export function centralServicesOf(description: NetworkDescription): CentralNodeService[] {
  return [...(description.central?.services ?? CENTRAL_NODE_SERVICES)];
}
