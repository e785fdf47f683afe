import type { Migration } from 'kysely';

/** The eer role's migrations, named `0005_eer_…` (Kysely runs all roles' migrations in name order). */
export const eerMigrations: Record<string, Migration> = {};
