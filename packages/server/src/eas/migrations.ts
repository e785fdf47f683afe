import type { Kysely, Migration } from 'kysely';
import { type AuditRecord, outcomeOf } from '../audit/record.ts';

/** The eas role's migrations, named `0006_eas_…`, `0009_eas_…` (Kysely runs all roles' migrations in name order). */
export const easMigrations: Record<string, Migration> = {
  '0006_eas_index_and_patients': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('eas_organizations')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('resource', 'text', (c) => c.notNull())
        .addColumn('is_gp', 'integer', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('eas_endpoints')
        .addColumn('organization_id', 'text', (c) => c.notNull())
        .addColumn('endpoint_id', 'text', (c) => c.notNull())
        .addColumn('resource', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('eas_endpoints_pk', ['organization_id', 'endpoint_id'])
        .execute();
      await db.schema
        .createTable('eas_devices')
        .addColumn('organization_id', 'text', (c) => c.notNull())
        .addColumn('device_id', 'text', (c) => c.notNull())
        .addColumn('resource', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('eas_devices_pk', ['organization_id', 'device_id'])
        .execute();
      await db.schema
        .createTable('eas_index')
        .addColumn('organization_id', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('eas_index_pk', ['kind', 'value', 'organization_id'])
        .execute();
      // Replacing an organisation deletes its keys by organisation.
      await db.schema
        .createIndex('eas_index_organization')
        .on('eas_index')
        .column('organization_id')
        .execute();
      await db.schema
        .createTable('eas_patient_gp')
        .addColumn('cpr', 'text', (c) => c.primaryKey())
        .addColumn('sor', 'text')
        .addColumn('ydernummer', 'text')
        .addColumn('gln', 'text')
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>) {
      for (const t of ['eas_patient_gp', 'eas_index', 'eas_devices', 'eas_endpoints', 'eas_organizations']) {
        await db.schema.dropTable(t).execute();
      }
    },
  },
  '0009_eas_audit': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('eas_audit')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('client_id', 'text')
        .addColumn('organisation', 'text')
        .addColumn('certificate', 'text')
        .addColumn('operation', 'text', (c) => c.notNull())
        .addColumn('cpr', 'text')
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('status', 'integer', (c) => c.notNull())
        .addColumn('detail', 'text')
        .execute();
      // "Who looked this citizen up", newest last.
      await db.schema.createIndex('eas_audit_cpr').on('eas_audit').columns(['cpr', 'at']).execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('eas_audit').execute();
    },
  },
  '0031_eas_audit_into_audit_events': {
    // EAS's own audit table becomes part of the node's audit log (src/audit/): its rows are copied, as the AuditRecord
    // of the lookup they describe, and the table goes. Its outcomes (found, not-found, refused, failed) came from the
    // status answered, which the copy keeps.
    async up(db: Kysely<unknown>) {
      // biome-ignore lint/suspicious/noExplicitAny: the tables of this migration's time, not today's types
      const k = db as Kysely<any>;
      const rows = (await k.selectFrom('eas_audit').selectAll().orderBy('at').execute()) as OldEasAuditRow[];
      for (let i = 0; i < rows.length; i += 200) {
        const batch = rows.slice(i, i + 200).map(copiedRecord);
        if (batch.length > 0) await k.insertInto('audit_events').values(batch).execute();
      }
      await db.schema.dropTable('eas_audit').execute();
    },
    async down() {
      throw new Error('the audit records of EAS are part of the node audit log now; there is no way back');
    },
  },
};

interface OldEasAuditRow {
  id: string;
  at: number | string;
  client_id: string | null;
  organisation: string | null;
  certificate: string | null;
  operation: string;
  cpr: string | null;
  outcome: string;
  status: number | string;
  detail: string | null;
}

/** The audit_events row of one row of EAS's former audit table. */
function copiedRecord(r: OldEasAuditRow) {
  const status = Number(r.status);
  const org = r.organisation
    ? (JSON.parse(r.organisation) as { cvr?: string; name?: string; deviceId?: string; contexts?: [] })
    : undefined;
  const record: AuditRecord = {
    id: r.id,
    recorded: Number(r.at),
    node: 'ehmi-node',
    service: 'eas',
    requestId: r.id,
    method: 'POST',
    route: '/Organization/:operation',
    status,
    outcome: outcomeOf(status),
    subtype: `$${r.operation}`,
    fhir: true,
    action: 'E',
    caller: {
      ...(r.client_id ? { clientId: r.client_id } : {}),
      ...(r.certificate ? { certificate: r.certificate } : {}),
      ...(org ? { organisation: org } : {}),
    },
    ...(r.cpr ? { patient: r.cpr } : {}),
    minlog: true,
    ...(r.detail || r.outcome !== 'found' ? { detail: [r.outcome, r.detail].filter(Boolean).join(' ') } : {}),
  };
  return {
    id: record.id,
    recorded: record.recorded,
    service: record.service,
    client_id: r.client_id,
    patient: r.cpr,
    outcome: record.outcome,
    status,
    request_id: record.requestId,
    operation: record.subtype,
    resource: null,
    minlog: 1,
    record: JSON.stringify(record),
  };
}
