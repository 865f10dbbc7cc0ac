import { ProblemError } from '../errors.ts';
import type { AvailabilityService } from './availability.ts';
import type { LicenceService } from './licences.ts';
import { withinAvailability } from './slots.ts';

/**
 * The rules a time must pass before it is written: in the future, inside the doctor's published
 * availability, and covered by a licence where the patient is. Overlap with other appointments is
 * not checked here on purpose: the database's exclusion constraint is the only judge of that.
 */
export async function checkBookableTime(
  deps: { availability: AvailabilityService; licences: LicenceService },
  input: { doctorId: string; startsAt: Date; endsAt: Date; patientJurisdiction: string; now: Date },
) {
  if (input.startsAt <= input.now) throw new ProblemError(422, 'in_the_past', 'appointments must start in the future', [{ field: 'startsAt', message: 'must be in the future' }]);
  const [{ schedule, dates }, licensed] = await Promise.all([
    deps.availability.scheduleAround(input.doctorId, input.startsAt, input.endsAt),
    deps.licences.covers(input.doctorId, input.patientJurisdiction, input.startsAt, input.endsAt),
  ]);
  if (!withinAvailability(schedule.timeZone, input.startsAt, input.endsAt, dates, schedule.rules, schedule.exceptions)) {
    throw new ProblemError(422, 'outside_availability', 'the doctor is not available at this time', [{ field: 'startsAt', message: 'not inside the doctor\'s availability' }]);
  }
  if (!licensed) {
    throw new ProblemError(422, 'no_valid_licence', 'the doctor holds no licence valid at the appointment time where the patient is', [
      { field: 'patientJurisdiction', message: 'no valid licence for this jurisdiction at the appointment time' },
    ]);
  }
  return schedule.timeZone;
}
