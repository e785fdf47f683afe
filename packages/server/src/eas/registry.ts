import type { EasStore } from './tables.ts';

/** A patient's GP practice as a patient register names it; at least one of the three. */
export interface GpReference {
  sor?: string;
  ydernummer?: string;
  gln?: string;
}

/**
 * The CPR → GP relation EAS use case 1 needs ("Insured (Sikrede DA)", eas IG Use-case-1). In production a national
 * registry implements this; `TablePatientGpRegistry` is the seeded local table used in tests and the local network.
 * Implementations throw `EHMI_UNAVAILABLE` (or another transient EhmiError) when the register cannot be asked.
 */
export interface PatientGpRegistry {
  /** The GP of the patient with this CPR (10 digits, already checked), or undefined when the register has none. */
  gpOf(cpr: string): Promise<GpReference | undefined>;
}

/** The local table `eas_patient_gp`, seeded from config `eas.patients` and `PUT /admin/patients/{cpr}`. */
export class TablePatientGpRegistry implements PatientGpRegistry {
  readonly #store: EasStore;
  readonly #now: () => number;

  constructor(store: EasStore, now: () => number = Date.now) {
    this.#store = store;
    this.#now = now;
  }

  async gpOf(cpr: string): Promise<GpReference | undefined> {
    const row = await this.#store.db
      .selectFrom('eas_patient_gp')
      .selectAll()
      .where('cpr', '=', cpr)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      ...(row.sor !== null ? { sor: row.sor } : {}),
      ...(row.ydernummer !== null ? { ydernummer: row.ydernummer } : {}),
      ...(row.gln !== null ? { gln: row.gln } : {}),
    };
  }

  /** Set (replace) the GP of one patient; true when the patient was new. */
  async put(cpr: string, gp: GpReference): Promise<boolean> {
    return this.#store.transaction(async (trx) => {
      const existing = await trx
        .selectFrom('eas_patient_gp')
        .select('cpr')
        .where('cpr', '=', cpr)
        .executeTakeFirst();
      const row = {
        sor: gp.sor ?? null,
        ydernummer: gp.ydernummer ?? null,
        gln: gp.gln ?? null,
        updated_at: this.#now(),
      };
      await trx
        .insertInto('eas_patient_gp')
        .values({ cpr, ...row })
        .onConflict((oc) => oc.column('cpr').doUpdateSet(row))
        .execute();
      return existing === undefined;
    });
  }

  async remove(cpr: string): Promise<boolean> {
    const r = await this.#store.db.deleteFrom('eas_patient_gp').where('cpr', '=', cpr).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}
