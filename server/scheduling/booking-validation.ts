import { ProblemError } from '../api/errors.ts';
import type { BookingContext } from './booking-context.ts';
import { slotPlacement } from './slots.ts';
import { instantToZoned } from './zoned-time.ts';
import { PROBLEM } from '../api/problem-codes.ts';

/**
 * The rules a time must pass before it is written: in the future, one of the doctor's slots (inside
 * the published availability, starting on its slot grid of `slotMinutes`, the consult type's
 * length, as GET /slots lists them), and covered by a licence where the patient is (valid for the
 * whole consult).
 * Overlap with other appointments is not checked here on purpose: the database's exclusion
 * constraint is the only judge of that.
 */
export function checkBookableTime(
  ctx: BookingContext,
  input: { startsAt: Date; endsAt: Date; slotMinutes: number; now: Date },
) {
  if (input.startsAt <= input.now)
    throw new ProblemError(422, PROBLEM.inThePast, 'appointments must start in the future', [
      { field: 'startsAt', message: 'must be in the future' },
    ]);
  if (!ctx.timeZone)
    throw new ProblemError(422, PROBLEM.noSchedule, 'this doctor has not published a schedule', [
      { field: 'doctorId', message: 'no schedule' },
    ]);
  const dates = [
    ...new Set([
      instantToZoned(ctx.timeZone, input.startsAt).date,
      instantToZoned(ctx.timeZone, input.endsAt).date,
    ]),
  ];
  const placement = slotPlacement(
    ctx.timeZone,
    input.startsAt,
    input.endsAt,
    dates,
    ctx.rules,
    ctx.exceptions,
    input.slotMinutes,
  );
  if (placement === 'outside') {
    throw new ProblemError(422, PROBLEM.outsideAvailability, 'the doctor is not available at this time', [
      { field: 'startsAt', message: "not inside the doctor's availability" },
    ]);
  }
  if (placement === 'off_grid') {
    throw new ProblemError(
      422,
      PROBLEM.offSlotGrid,
      `appointments start on the doctor's slot grid (every ${input.slotMinutes} minutes from the start of their hours)`,
      [{ field: 'startsAt', message: 'not a slot start time (see GET /api/doctors/:id/slots)' }],
    );
  }
  if (!ctx.licences.some((l) => l.validFrom <= input.startsAt && l.expiresAt > input.endsAt)) {
    throw new ProblemError(
      422,
      PROBLEM.noValidLicence,
      'the doctor holds no licence valid at the appointment time where the patient is',
      [
        {
          field: 'patientJurisdiction',
          message: 'no valid licence for this jurisdiction at the appointment time',
        },
      ],
    );
  }
}

/** The consult type and doctor must belong to the booking's clinic. */
export function checkClinicParts(ctx: BookingContext) {
  const errors = [];
  if (!ctx.consultType)
    errors.push({ field: 'consultTypeId', message: 'no such consult type in this clinic' });
  if (!ctx.doctorInClinic) errors.push({ field: 'doctorId', message: 'not a doctor of this clinic' });
  if (errors.length)
    throw new ProblemError(
      422,
      PROBLEM.invalidBooking,
      'the consult type or doctor does not belong to this clinic',
      errors,
    );
  return ctx.consultType!;
}
