import { z } from 'zod';

/** The eer role. */
export const eerConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
  })
  .strict()
  .prefault({});

export type EerConfig = z.infer<typeof eerConfigSchema>;
