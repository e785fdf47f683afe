import type { Migration } from 'kysely';

/** The smp role's migrations, named `0004_smp_…` (Kysely runs all roles' migrations in name order). */
export const smpMigrations: Record<string, Migration> = {};
