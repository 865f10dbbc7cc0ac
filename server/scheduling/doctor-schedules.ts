import type { DeferredInput } from '../api/validation.ts';
import type { Policy } from '../policy/policy.ts';
import type { Actor } from '../policy/types.ts';
import type { AvailabilityService } from './availability.ts';
import type { ClinicSchedulingService } from './clinic-settings.ts';
import type { DoctorCalendarAccess } from './doctor-calendar-access.ts';
import type { LicenceInput, LicenceService } from './licences.ts';
import type { AvailabilityException } from './slots.ts';

type Deps = {
  policy: Policy;
  availability: AvailabilityService;
  clinics: ClinicSchedulingService;
  licences: LicenceService;
  calendars: DoctorCalendarAccess;
  now: () => Date;
};
type WeeklyRules = Parameters<AvailabilityService['setWeekly']>[2];
type DateRange = { from: string; to: string };

/** A doctor's availability, slots and licences, decided per caller: each call loads the doctor first. */
export class DoctorSchedules {
  constructor(private readonly deps: Deps) {}

  forActor(actor: Actor): DoctorSchedule {
    return new DoctorSchedule(this.deps, actor);
  }
}

export class DoctorSchedule {
  constructor(
    private readonly deps: Deps,
    readonly actor: Actor,
  ) {}

  /** The doctor (404 if unknown), once the policy allows the action on their schedule. */
  async #doctor(
    action:
      'doctor.schedule.manage' | 'doctor.schedule.read' | 'doctor.licence.manage' | 'doctor.licence.read',
    doctorId: string,
  ) {
    const doctor = await this.deps.calendars.doctor(doctorId);
    await this.deps.policy.require(this.actor, action, doctor);
    return doctor;
  }

  /** Replaces the time zone and the whole weekly rule set; answers with how many rules were saved. */
  async setWeekly(doctorId: string, input: DeferredInput<{ timeZone: string; rules: WeeklyRules }>) {
    await this.#doctor('doctor.schedule.manage', doctorId);
    const { timeZone, rules } = await input();
    await this.deps.availability.setWeekly(doctorId, timeZone, rules);
    return { timeZone, rules: rules.length };
  }

  async published(doctorId: string, query: DeferredInput<DateRange>) {
    await this.#doctor('doctor.schedule.read', doctorId);
    const q = await query();
    return this.deps.availability.published(doctorId, q.from, q.to);
  }

  async addException(doctorId: string, input: DeferredInput<AvailabilityException>) {
    await this.#doctor('doctor.schedule.manage', doctorId);
    return this.deps.availability.addException(doctorId, await input());
  }

  async removeException(doctorId: string, exceptionId: string) {
    await this.#doctor('doctor.schedule.manage', doctorId);
    await this.deps.availability.removeException(doctorId, exceptionId);
  }

  /** Open slots of a consult type offered in a clinic the caller shares with the doctor. */
  async slots(doctorId: string, query: DeferredInput<DateRange & { consultTypeId: string }>) {
    const doctor = await this.#doctor('doctor.schedule.read', doctorId);
    const q = await query();
    const shared = doctor.clinicIds.filter((id) => this.actor.clinicIds.includes(id));
    const consultType = await this.deps.clinics.consultTypeIn(shared, q.consultTypeId);
    const { timeZone, slots } = await this.deps.availability.slots(doctorId, {
      fromDate: q.from,
      toDate: q.to,
      durationMinutes: consultType.durationMinutes,
      now: this.deps.now(),
    });
    return { timeZone, consultType, slots };
  }

  async licences(doctorId: string) {
    await this.#doctor('doctor.licence.read', doctorId);
    return this.deps.licences.list(doctorId);
  }

  async addLicence(doctorId: string, input: DeferredInput<LicenceInput>) {
    await this.#doctor('doctor.licence.manage', doctorId);
    return this.deps.licences.add(doctorId, await input(), this.actor.userId);
  }
}
