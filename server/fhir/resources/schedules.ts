import type { CodeableConcept, Schedule } from '@medplum/fhirtypes';
import type { Db } from '../../../db/client.ts';
import type { consultTypes } from '../../../db/schema/index.ts';
import type { Actor } from '../../policy/types.ts';
import type { ClinicSchedulingService } from '../../scheduling/clinic-settings.ts';
import { fhirNotFound } from '../operation-outcome.ts';
import { ref, type ResourceProvider, type SearchPage } from '../provider.ts';
import { decodeCursor, type ParsedSearch } from '../search-params.ts';
import type { DirectoryAccess } from './directory-access.ts';
import { clinicsOfDoctor, doctorsOf, isAfterCursor, type DoctorRow } from './practitioners.ts';

export const CONSULT_TYPE_SYSTEM = 'https://carecall.dev/fhir/CodeSystem/consult-type';
type ConsultTypeRow = typeof consultTypes.$inferSelect;

export const consultTypeConcept = (t: Pick<ConsultTypeRow, 'id' | 'name'>): CodeableConcept => ({
  coding: [{ system: CONSULT_TYPE_SYSTEM, code: t.id, display: t.name }],
  text: t.name,
});

/** A doctor's Schedule (its id is the doctor's): who, and the consult types bookable with them. */
export function toSchedule(doctor: DoctorRow, types: readonly ConsultTypeRow[]): Schedule {
  return {
    resourceType: 'Schedule',
    id: doctor.id,
    active: doctor.disabledAt === null,
    ...(types.length ? { serviceType: types.map(consultTypeConcept) } : {}),
    actor: [ref('Practitioner', doctor.id)],
    comment: `Working hours are kept in ${doctor.timeZone}.`,
  };
}

/** One Schedule per doctor who published working hours, in the caller's clinics. */
export class ScheduleProvider implements ResourceProvider {
  readonly type = 'Schedule' as const;
  readonly documentation =
    "One per doctor of the caller's clinics who published working hours; Slots hang off it.";
  readonly params = [
    {
      name: 'actor',
      type: 'reference' as const,
      target: ['Practitioner'],
      documentation: 'The doctor (Practitioner/<id>).',
    },
  ];
  readonly includes = [];

  constructor(
    private readonly db: Db,
    private readonly directory: DirectoryAccess,
    private readonly clinics: ClinicSchedulingService,
  ) {}

  async read(actor: Actor, id: string): Promise<Schedule> {
    const shared = this.directory.requireClinic(actor, await clinicsOfDoctor(this.db, id), 'Schedule');
    const [doctor] = await doctorsOf(this.db, shared, { ids: [id], limit: 1, scheduled: true });
    if (!doctor) throw fhirNotFound('Schedule');
    return toSchedule(doctor, await this.bookableTypes(shared));
  }

  async search(actor: Actor, s: ParsedSearch): Promise<SearchPage> {
    const clinics = this.directory.visibleClinics(actor, actor.clinicIds);
    const after = decodeCursor(s.cursor, isAfterCursor)?.after;
    const doctor = s.refs.get('actor')?.id;
    const ids = doctor ? [doctor].filter((id) => !s.ids || s.ids.includes(id)) : s.ids;
    const rows = await doctorsOf(this.db, clinics, { ids, after, limit: s.count + 1, scheduled: true });
    const page = rows.slice(0, s.count);
    const matches = await Promise.all(
      page.map(async (d) => {
        const shared = clinics.filter((c) => actor.clinicIds.includes(c));
        const mine = (await clinicsOfDoctor(this.db, d.id)).filter((c) => shared.includes(c));
        return toSchedule(d, await this.bookableTypes(mine));
      }),
    );
    return { matches, ...(rows.length > s.count ? { next: { after: page[page.length - 1]!.id } } : {}) };
  }

  /** The active consult types of these clinics: what a doctor of them can be booked for. */
  async bookableTypes(clinicIds: readonly string[]): Promise<ConsultTypeRow[]> {
    const lists = await Promise.all(clinicIds.map((c) => this.clinics.listConsultTypes(c)));
    return lists.flat();
  }
}
