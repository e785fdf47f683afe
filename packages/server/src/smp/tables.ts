/** Tables of the smp role (times in epoch milliseconds, as in store/types.ts). Migrations: ./migrations.ts. */
// biome-ignore lint/complexity/noBannedTypes: filled in as the role's tables are added
export type SmpTables = {};
