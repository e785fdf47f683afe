import type { Migration } from 'kysely';

/** The msh role's migrations, named `0003_msh_…` (Kysely runs all roles' migrations in name order). */
export const mshMigrations: Record<string, Migration> = {};
