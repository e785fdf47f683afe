import type { Migration } from 'kysely';

/** The eas role's migrations, named `0006_eas_…` (Kysely runs all roles' migrations in name order). */
export const easMigrations: Record<string, Migration> = {};
