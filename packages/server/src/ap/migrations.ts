import type { Migration } from 'kysely';

/** The ap role's migrations, named `0002_ap_…` (Kysely runs all roles' migrations in name order). */
export const apMigrations: Record<string, Migration> = {};
