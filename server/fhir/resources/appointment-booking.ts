import type { Appointment } from '@medplum/fhirtypes';
import { eq } from 'drizzle-orm';
import type { Db } from '../../../db/client.ts';
import { consultTypes } from '../../../db/schema/index.ts';
import { ProblemError, type FieldError } from '../../api/errors.ts';
import { PROBLEM } from '../../api/problem-codes.ts';
import { isWellFormed } from '../../api/validation.ts';
import type { Actor } from '../../policy/types.ts';
import type { BookingService } from '../../scheduling/booking-service.ts';
import { jurisdictionSchema } from '../../scheduling/schemas.ts';
import { fhirNotFound } from '../operation-outcome.ts';
import { toAppointment } from './appointments.ts';
import type { DirectoryAccess } from './directory-access.ts';
import { parseSlotId, type SlotKey } from './slots.ts';

/** Where the patient is (licensing decides which doctors may see them): an ISO 3166 code such as DE-BE. */
export const PATIENT_JURISDICTION_URL = 'https://carecall.dev/fhir/StructureDefinition/patient-jurisdiction';
const REQUESTABLE = new Set(['proposed', 'pending', 'booked']);

type BookingRequest = { slot: SlotKey; patientId: string; jurisdiction: string; reason: string | undefined };

const invalid = (errors: FieldError[]) =>
  new ProblemError(400, PROBLEM.invalidBody, 'the Appointment cannot be booked as sent', errors);

/** What a FHIR booking must carry: one free Slot, one Patient participant, the patient's jurisdiction. */
export function bookingRequest(body: unknown): BookingRequest {
  const a = (typeof body === 'object' && body !== null ? body : {}) as Partial<Appointment> &
    Record<string, unknown>;
  const errors: FieldError[] = [];
  if (a.resourceType !== 'Appointment')
    errors.push({ field: 'resourceType', message: 'must be Appointment' });
  if (a.status !== undefined && !REQUESTABLE.has(a.status))
    errors.push({ field: 'Appointment.status', message: 'a new appointment is proposed, pending or booked' });
  const slots = Array.isArray(a.slot) ? a.slot : [];
  const slotRef =
    slots.length === 1 ? /^Slot\/([A-Za-z0-9\-.]{1,64})$/.exec(slots[0]?.reference ?? '') : null;
  const slot = slotRef ? parseSlotId(slotRef[1]!) : undefined;
  if (!slotRef) errors.push({ field: 'Appointment.slot', message: 'name exactly one Slot (Slot/<id>)' });
  const patients = (Array.isArray(a.participant) ? a.participant : []).flatMap((p) => {
    const m = /^Patient\/([0-9a-f-]{36})$/.exec(p?.actor?.reference ?? '');
    return m ? [m[1]!] : [];
  });
  if (patients.length !== 1)
    errors.push({ field: 'Appointment.participant', message: 'name exactly one participant Patient/<id>' });
  const ext = (Array.isArray(a.extension) ? a.extension : []).filter(
    (e) => e?.url === PATIENT_JURISDICTION_URL,
  );
  const jurisdiction = jurisdictionSchema.safeParse(ext[0]?.valueCode);
  if (ext.length !== 1 || !jurisdiction.success)
    errors.push({
      field: 'Appointment.extension',
      message: `one extension ${PATIENT_JURISDICTION_URL} with valueCode an ISO 3166 code such as DE-BE`,
    });
  const reason = a.comment;
  if (reason !== undefined && (typeof reason !== 'string' || reason.length > 500 || !isWellFormed(reason)))
    errors.push({ field: 'Appointment.comment', message: 'at most 500 characters of text' });
  if (errors.length) throw invalid(errors);
  // A well-formed reference to a slot id this server never made: the slot does not exist.
  if (!slot) throw fhirNotFound('Slot');
  return {
    slot,
    patientId: patients[0]!,
    jurisdiction: jurisdiction.data!,
    reason: reason?.trim() || undefined,
  };
}

/**
 * POST /Appointment: books the Slot for the patient through the booking service, the same path as
 * POST /api/appointments: its policy (the patient side), its checks (working hours, licence,
 * slot grid) and the database's exclusion constraint, so two bookings of one slot give one 201
 * and one 409, however they arrive.
 */
export class AppointmentBooking {
  constructor(
    private readonly db: Db,
    private readonly directory: DirectoryAccess,
    private readonly booking: BookingService,
  ) {}

  async create(actor: Actor, body: unknown): Promise<Appointment> {
    const req = bookingRequest(body);
    const [type] = await this.db
      .select({ clinicId: consultTypes.clinicId, name: consultTypes.name })
      .from(consultTypes)
      .where(eq(consultTypes.id, req.slot.consultTypeId));
    if (!type) throw fhirNotFound('Slot');
    this.directory.requireClinic(actor, [type.clinicId], 'Slot');
    const row = await this.booking.book(actor, {
      clinicId: type.clinicId,
      doctorId: req.slot.doctorId,
      patientId: req.patientId,
      consultTypeId: req.slot.consultTypeId,
      startsAt: req.slot.start,
      patientJurisdiction: req.jurisdiction,
      reason: req.reason,
    });
    return toAppointment({ ...row, typeName: type.name });
  }
}
