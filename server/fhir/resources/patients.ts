import type { Patient } from '@medplum/fhirtypes';
import { asc, inArray, sql } from 'drizzle-orm';
import type { Tx } from '../../../db/client.ts';
import { rowsOf } from '../../../db/rows.ts';
import { breakGlassGrants, careRelationships, users } from '../../../db/schema/index.ts';
import type { AuditEntry } from '../../audit/audit-log.ts';
import { loadPatientFactsMany } from '../../policy/patient-facts.ts';
import type { Actor } from '../../policy/types.ts';
import { fhirNotFound } from '../operation-outcome.ts';
import type { ResourceProvider, SearchPage } from '../provider.ts';
import type { RecordAccess } from '../record-access.ts';
import { decodeCursor, type ParsedSearch } from '../search-params.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const isUuid = (id: string) => UUID.test(id);
const isCursor = (v: unknown): v is { after: string } =>
  typeof v === 'object' && v !== null && typeof (v as { after?: unknown }).after === 'string';

type ProfileRow = {
  id: string;
  displayName: string;
  email: string | null;
  phone: string | null;
  dateOfBirth: string | null;
  disabledAt: Date | null;
};

export function toPatient(row: ProfileRow): Patient {
  const telecom = [
    ...(row.email ? [{ system: 'email' as const, value: row.email }] : []),
    ...(row.phone ? [{ system: 'phone' as const, value: row.phone }] : []),
  ];
  return {
    resourceType: 'Patient',
    id: row.id,
    active: row.disabledAt === null,
    name: [{ text: row.displayName }],
    ...(telecom.length ? { telecom } : {}),
    ...(row.dateOfBirth ? { birthDate: row.dateOfBirth } : {}),
  };
}

export const profileColumns = {
  id: users.id,
  displayName: users.displayName,
  email: users.email,
  phone: users.phone,
  dateOfBirth: users.dateOfBirth,
  disabledAt: users.disabledAt,
};

/**
 * Patients: the patient themself, a guardian's dependent (X-On-Behalf-Of), the patients a doctor
 * treats in their clinics or holds a break-glass grant for. Each patient shown is decided and
 * audited (fhir.patient.read) in the transaction that reads it.
 */
export class PatientProvider implements ResourceProvider {
  readonly type = 'Patient' as const;
  readonly documentation = 'Patients the caller may see: themself, a dependent, or patients a doctor treats.';
  readonly params = [];
  readonly includes = [];

  constructor(private readonly access: RecordAccess) {}

  async read(actor: Actor, id: string): Promise<Patient> {
    const [patient] = await this.patients(actor, isUuid(id) ? [id] : [], { strict: true });
    if (!patient) throw fhirNotFound('Patient');
    return patient;
  }

  async search(actor: Actor, s: ParsedSearch): Promise<SearchPage> {
    const after = decodeCursor(s.cursor, isCursor)?.after;
    const ids = await this.#scope(actor, { after, only: s.ids, limit: s.count + 1 });
    const more = ids.length > s.count;
    const matches = await this.patients(actor, ids.slice(0, s.count));
    return { matches, ...(more ? { next: { after: ids[s.count - 1] } } : {}) };
  }

  /**
   * The patients of `ids` the actor may see, decided and audited one by one in the read's
   * transaction (also what Appointment's _include uses). strict: one id, refused as 404.
   */
  async patients(actor: Actor, ids: readonly string[], opts: { strict?: boolean } = {}): Promise<Patient[]> {
    if (!ids.length) return [];
    const { db } = this.access.deps;
    if (opts.strict) {
      const facts = (await loadPatientFactsMany(db, ids)).get(ids[0]!);
      if (!facts) throw fhirNotFound('Patient');
      const entries = await this.access.decide(actor, 'fhir.patient.read', facts, 'Patient');
      return this.access.audited(async (tx) => ({ result: await readProfiles(tx, [ids[0]!]), entries }));
    }
    return this.access.audited((tx) => this.patientsWithin(tx, actor, ids));
  }

  /** The same inside a caller's transaction (an Appointment page and its _include commit as one). */
  async patientsWithin(
    tx: Tx,
    actor: Actor,
    ids: readonly string[],
  ): Promise<{ result: Patient[]; entries: AuditEntry[] }> {
    if (!ids.length) return { result: [], entries: [] };
    const facts = await loadPatientFactsMany(tx, ids);
    const entries: AuditEntry[] = [];
    const allowed = ids.filter((id) => {
      const f = facts.get(id);
      const decided = f && this.access.row(actor, 'fhir.patient.read', f);
      if (decided) entries.push(...decided);
      return !!decided;
    });
    return { result: await readProfiles(tx, allowed), entries };
  }

  /** Candidate ids in id order, after the cursor: who the actor could be allowed to see at all. */
  async #scope(
    actor: Actor,
    { after, only, limit }: { after: string | undefined; only: string[] | undefined; limit: number },
  ): Promise<string[]> {
    const past = (id: string) => (after === undefined || id > after) && (!only || only.includes(id));
    if (only && !only.some(isUuid)) return [];
    if (actor.onBehalfOf) return [actor.onBehalfOf].filter(past);
    if (actor.role === 'patient') return [actor.userId].filter(past);
    if (actor.role !== 'doctor' || !actor.clinicIds.length) return [];
    const clinics = sql.join(
      actor.clinicIds.map((c) => sql`${c}`),
      sql`, `,
    );
    const result = await this.access.deps.db.execute(sql`
      select patient_id as id from (
        select ${careRelationships.patientId} as patient_id from ${careRelationships}
         where ${careRelationships.doctorId} = ${actor.userId} and ${careRelationships.clinicId} in (${clinics})
        union
        select ${breakGlassGrants.patientId} from ${breakGlassGrants}
         where ${breakGlassGrants.doctorId} = ${actor.userId} and ${breakGlassGrants.clinicId} in (${clinics})
           and ${breakGlassGrants.expiresAt} > now()
      ) p where true
      ${after === undefined ? sql`` : sql`and patient_id > ${after}`}
      ${
        only
          ? sql`and patient_id in (${sql.join(
              only.map((id) => sql`${id}`),
              sql`, `,
            )})`
          : sql``
      }
      order by patient_id limit ${limit}`);
    return rowsOf<{ id: string }>(result).map((r) => r.id);
  }
}

async function readProfiles(tx: Tx, ids: readonly string[]): Promise<Patient[]> {
  if (!ids.length) return [];
  const rows = await tx
    .select(profileColumns)
    .from(users)
    .where(inArray(users.id, [...ids]))
    .orderBy(asc(users.id));
  return rows.map(toPatient);
}
