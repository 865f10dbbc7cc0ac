import type { Practitioner } from '@medplum/fhirtypes';
import { and, asc, eq, gt, inArray, type SQL } from 'drizzle-orm';
import type { Db } from '../../../db/client.ts';
import { clinicMembers, doctorSchedules, users } from '../../../db/schema/index.ts';
import type { Actor } from '../../policy/types.ts';
import { fhirNotFound } from '../operation-outcome.ts';
import type { ResourceProvider, SearchPage } from '../provider.ts';
import { decodeCursor, type ParsedSearch } from '../search-params.ts';
import type { DirectoryAccess } from './directory-access.ts';

export type DoctorRow = { id: string; displayName: string; disabledAt: Date | null; timeZone: string | null };
export const isAfterCursor = (v: unknown): v is { after: string } =>
  typeof v === 'object' && v !== null && typeof (v as { after?: unknown }).after === 'string';

export const toPractitioner = (row: DoctorRow): Practitioner => ({
  resourceType: 'Practitioner',
  id: row.id,
  active: row.disabledAt === null,
  name: [{ text: row.displayName }],
});

/**
 * Doctors who are members of one of `clinicIds`, in id order (one row per doctor), with their
 * schedule's zone; `scheduled`: only those who published a schedule.
 */
export async function doctorsOf(
  db: Db,
  clinicIds: readonly string[],
  opts: {
    ids?: readonly string[] | undefined;
    after?: string | undefined;
    limit: number;
    scheduled?: boolean;
  },
): Promise<DoctorRow[]> {
  if (!clinicIds.length || opts.ids?.length === 0) return [];
  const conds: SQL[] = [eq(users.role, 'doctor'), inArray(clinicMembers.clinicId, [...clinicIds])];
  if (opts.ids) conds.push(inArray(users.id, [...opts.ids]));
  if (opts.after !== undefined) conds.push(gt(users.id, opts.after));
  const query = db
    .selectDistinct({
      id: users.id,
      displayName: users.displayName,
      disabledAt: users.disabledAt,
      timeZone: doctorSchedules.timeZone,
    })
    .from(users)
    .innerJoin(clinicMembers, eq(clinicMembers.userId, users.id));
  const joined = opts.scheduled
    ? query.innerJoin(doctorSchedules, eq(doctorSchedules.doctorId, users.id))
    : query.leftJoin(doctorSchedules, eq(doctorSchedules.doctorId, users.id));
  return joined
    .where(and(...conds))
    .orderBy(asc(users.id))
    .limit(opts.limit);
}

/** The clinics a doctor belongs to (empty when the id is no doctor's). */
export async function clinicsOfDoctor(db: Db, doctorId: string): Promise<string[]> {
  const rows = await db
    .select({ clinicId: clinicMembers.clinicId })
    .from(clinicMembers)
    .innerJoin(users, eq(users.id, clinicMembers.userId))
    .where(and(eq(clinicMembers.userId, doctorId), eq(users.role, 'doctor')));
  return rows.map((r) => r.clinicId);
}

/** Doctors of the caller's clinics. */
export class PractitionerProvider implements ResourceProvider {
  readonly type = 'Practitioner' as const;
  readonly documentation = "Doctors of the caller's clinics.";
  readonly params = [];
  readonly includes = [];

  constructor(
    private readonly db: Db,
    private readonly directory: DirectoryAccess,
  ) {}

  async read(actor: Actor, id: string): Promise<Practitioner> {
    const shared = this.directory.requireClinic(actor, await clinicsOfDoctor(this.db, id), 'Practitioner');
    const [row] = await doctorsOf(this.db, shared, { ids: [id], limit: 1 });
    if (!row) throw fhirNotFound('Practitioner');
    return toPractitioner(row);
  }

  /** The doctors of `ids` the actor may see (Appointment's _include). */
  async practitioners(actor: Actor, ids: readonly string[]): Promise<Practitioner[]> {
    const clinics = this.directory.visibleClinics(actor, actor.clinicIds);
    return (await doctorsOf(this.db, clinics, { ids, limit: ids.length })).map(toPractitioner);
  }

  async search(actor: Actor, s: ParsedSearch): Promise<SearchPage> {
    const clinics = this.directory.visibleClinics(actor, actor.clinicIds);
    const after = decodeCursor(s.cursor, isAfterCursor)?.after;
    const rows = await doctorsOf(this.db, clinics, { ids: s.ids, after, limit: s.count + 1 });
    const page = rows.slice(0, s.count);
    return {
      matches: page.map(toPractitioner),
      ...(rows.length > s.count ? { next: { after: page[page.length - 1]!.id } } : {}),
    };
  }
}
