import { documentId, participantId, type SmpIdentifier } from '@ehmi/smp';
import type { SmpServiceMetadataTable, SmpStore } from './tables.ts';

/** A stored ServiceMetadata row. */
export type StoredServiceMetadata = SmpServiceMetadataTable;

/** The SMP's tables (smp_service_groups, smp_service_metadata) behind the REST API and the DNS zone. */
export class SmpRepository {
  readonly #store: SmpStore;

  constructor(store: SmpStore) {
    this.#store = store;
  }

  /** Create or update a ServiceGroup; true when it was created. */
  async putServiceGroup(participant: SmpIdentifier, now = Date.now()): Promise<boolean> {
    return this.#store.transaction(async (trx) => {
      const key = participant.key();
      const existing = await trx
        .selectFrom('smp_service_groups')
        .select('participant_key')
        .where('participant_key', '=', key)
        .executeTakeFirst();
      await trx
        .insertInto('smp_service_groups')
        .values({
          participant_key: key,
          participant_scheme: participant.scheme,
          participant_value: participant.value,
          created_at: now,
          updated_at: now,
        })
        .onConflict((oc) =>
          oc.column('participant_key').doUpdateSet({
            participant_scheme: participant.scheme,
            participant_value: participant.value,
            updated_at: now,
          }),
        )
        .execute();
      return existing === undefined;
    });
  }

  /** The participant as published, or undefined when it has no ServiceGroup here. */
  async serviceGroup(participant: SmpIdentifier): Promise<SmpIdentifier | undefined> {
    const row = await this.#store.db
      .selectFrom('smp_service_groups')
      .select(['participant_scheme', 'participant_value'])
      .where('participant_key', '=', participant.key())
      .executeTakeFirst();
    return row
      ? participantId({ scheme: row.participant_scheme, value: row.participant_value }, LENIENT)
      : undefined;
  }

  /** Every published participant (the DNS zone is built from them at start). */
  async participants(): Promise<SmpIdentifier[]> {
    const rows = await this.#store.db
      .selectFrom('smp_service_groups')
      .select(['participant_scheme', 'participant_value'])
      .orderBy('participant_key')
      .execute();
    return rows.map((r) =>
      participantId({ scheme: r.participant_scheme, value: r.participant_value }, LENIENT),
    );
  }

  /** Delete a ServiceGroup and its ServiceMetadata; true when there was one. */
  async deleteServiceGroup(participant: SmpIdentifier): Promise<boolean> {
    return this.#store.transaction(async (trx) => {
      const key = participant.key();
      // The foreign key cascades too; deleting explicitly keeps SQLite databases opened without foreign_keys safe.
      await trx.deleteFrom('smp_service_metadata').where('participant_key', '=', key).execute();
      const r = await trx
        .deleteFrom('smp_service_groups')
        .where('participant_key', '=', key)
        .executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    });
  }

  /**
   * Create or update a ServiceMetadata; `created` says which. `group: false` when the participant has no
   * ServiceGroup (nothing is written then).
   */
  async putServiceMetadata(
    participant: SmpIdentifier,
    document: SmpIdentifier,
    xml: string,
    now = Date.now(),
  ): Promise<{ group: boolean; created: boolean }> {
    return this.#store.transaction(async (trx) => {
      const pk = participant.key();
      const dk = document.key();
      const group = await trx
        .selectFrom('smp_service_groups')
        .select('participant_key')
        .where('participant_key', '=', pk)
        .executeTakeFirst();
      if (!group) return { group: false, created: false };
      const existing = await trx
        .selectFrom('smp_service_metadata')
        .select('document_key')
        .where('participant_key', '=', pk)
        .where('document_key', '=', dk)
        .executeTakeFirst();
      await trx
        .insertInto('smp_service_metadata')
        .values({
          participant_key: pk,
          document_key: dk,
          document_scheme: document.scheme,
          document_value: document.value,
          xml,
          created_at: now,
          updated_at: now,
        })
        .onConflict((oc) =>
          oc.columns(['participant_key', 'document_key']).doUpdateSet({
            document_scheme: document.scheme,
            document_value: document.value,
            xml,
            updated_at: now,
          }),
        )
        .execute();
      return { group: true, created: existing === undefined };
    });
  }

  /** The ServiceMetadata of exactly this document type. */
  async serviceMetadata(
    participant: SmpIdentifier,
    document: SmpIdentifier,
  ): Promise<StoredServiceMetadata | undefined> {
    return this.#store.db
      .selectFrom('smp_service_metadata')
      .selectAll()
      .where('participant_key', '=', participant.key())
      .where('document_key', '=', document.key())
      .executeTakeFirst();
  }

  /** The document types a participant has ServiceMetadata for, in a stable order. */
  async documentTypes(participant: SmpIdentifier): Promise<SmpIdentifier[]> {
    const rows = await this.#store.db
      .selectFrom('smp_service_metadata')
      .select(['document_scheme', 'document_value'])
      .where('participant_key', '=', participant.key())
      .orderBy('document_key')
      .execute();
    return rows.map((r) => documentId({ scheme: r.document_scheme, value: r.document_value }));
  }

  /** Delete one ServiceMetadata; true when there was one. */
  async deleteServiceMetadata(participant: SmpIdentifier, document: SmpIdentifier): Promise<boolean> {
    const r = await this.#store.db
      .deleteFrom('smp_service_metadata')
      .where('participant_key', '=', participant.key())
      .where('document_key', '=', document.key())
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}

/** Rows were checked when written; reading them back must not fail on an ICD rule added later. */
const LENIENT = { lenient: true } as const;
