import { z } from 'zod';

/** The eas role. */
export const easConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
  })
  .strict()
  .prefault({});

export type EasConfig = z.infer<typeof easConfigSchema>;
