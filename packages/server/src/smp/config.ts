import { z } from 'zod';

/** The smp role. */
export const smpConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
  })
  .strict()
  .prefault({});

export type SmpConfig = z.infer<typeof smpConfigSchema>;
