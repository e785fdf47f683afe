import { z } from 'zod';
import { normaliseCpr } from './cpr.ts';

const gpFields = {
  sor: z
    .string()
    .regex(/^\d{1,18}$/, 'expected a SOR code (digits)')
    .optional(),
  ydernummer: z
    .string()
    .regex(/^\d{1,7}$/, 'expected a ydernummer (digits)')
    .optional(),
  gln: z
    .string()
    .regex(/^\d{13}$/, 'expected a 13-digit GLN')
    .optional(),
};
const namesAGp = (p: { sor?: string; ydernummer?: string; gln?: string }) =>
  p.sor !== undefined || p.ydernummer !== undefined || p.gln !== undefined;
const gpMessage = { message: 'a patient needs the GP as sor, ydernummer or gln' };

/** A patient's GP by SOR id, ydernummer or GLN (body of `PUT /admin/patients/{cpr}`). */
export const gpReferenceSchema = z.object(gpFields).strict().refine(namesAGp, gpMessage);

/** One row of the local patient → GP table (`eas_patient_gp`), as config `eas.patients` lists them. */
export const patientGpSchema = z
  .object({
    /** CPR number, 10 digits (a hyphen after the birth date is accepted). */
    cpr: z.string().transform((v, ctx) => {
      try {
        return normaliseCpr(v);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    }),
    ...gpFields,
  })
  .strict()
  .refine(namesAGp, gpMessage);

/** The EHMI Addressing Service (EAS) role: the four EAS FHIR operations over EAS's own index fed by EER. */
export const easConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
    host: z.string().min(1).default('127.0.0.1'),
    /** Port of the EAS FHIR server (HTTPS when `tls` is set); 0 picks a free one. */
    port: z.number().int().min(0).max(65535).default(8714),
    /** Base URL others reach EAS at (Bundle fullUrls, CapabilityStatement), when it differs from the listen URL. */
    publicUrl: z.string().url().optional(),
    /**
     * Static bearer token of the admin API (`/admin/organizations/{id}` fed by EER, `/admin/patients/{cpr}`), for
     * development only: with the node's `authorization` the admin API takes access tokens with `eas/index.write`
     * and no static token; without it (the `insecure` switch) this token is required.
     */
    adminToken: z.string().min(16, 'expected at least 16 characters').optional(),
    /** Seed of the local patient → GP table, upserted at start (the adapter a national registry replaces). */
    patients: z.array(patientGpSchema).default([]),
  })
  .strict()
  .prefault({});

export type EasConfig = z.infer<typeof easConfigSchema>;
