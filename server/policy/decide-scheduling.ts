import type { Action, ResourceFor } from './actions.ts';
import { patientAccess } from './decide.ts';
import type { Actor, Decision, PatientFacts } from './types.ts';

const allow = (): Decision => ({ allow: true, breakGlass: false });
const deny = (reason: string): Decision => ({ allow: false, reason });
const inClinic = (actor: Actor, clinicId: string) => actor.clinicIds.includes(clinicId);
const sharesClinic = (actor: Actor, clinicIds: readonly string[]) =>
  clinicIds.some((c) => inClinic(actor, c));

export const isSchedulingAction = (a: Action) =>
  a.startsWith('appointment.') ||
  a.startsWith('consultation.') ||
  a.startsWith('doctor.') ||
  a.startsWith('dispatch.') ||
  a === 'patient.appointments.list' ||
  a.startsWith('clinic.scheduling') ||
  a.startsWith('clinic.consult_types') ||
  a === 'clinic.dispatch.list';

type AppointmentResource = Extract<ResourceFor<Action>, { type: 'appointment' }>;

/**
 * Scheduling decisions. Principles, on top of decide.ts's: clinic boundaries are hard; the patient
 * side (the patient, or a guardian explicitly acting for that dependent) books, moves and cancels
 * its own appointments; operators (liaisons) do the same on behalf of patients of their clinic and
 * approve bookings, but never read pre-screening answers; a doctor runs their own appointments;
 * clinic admins configure the clinic and manage licences, and read no appointment PHI.
 */
export function decideScheduling(actor: Actor, action: Action, r: ResourceFor<Action>): Decision {
  switch (action) {
    case 'clinic.scheduling.configure':
    case 'clinic.consult_types.manage':
      if (r.type !== 'clinic') return deny('wrong_resource');
      return actor.role === 'clinic_admin' && inClinic(actor, r.clinicId)
        ? allow()
        : deny('clinic_admin_only');
    case 'clinic.consult_types.list':
      if (r.type !== 'clinic') return deny('wrong_resource');
      return inClinic(actor, r.clinicId) ? allow() : deny('not_member');
    case 'clinic.dispatch.list':
      if (r.type !== 'clinic') return deny('wrong_resource');
      return actor.role === 'operator' && inClinic(actor, r.clinicId) ? allow() : deny('operator_only');

    case 'doctor.schedule.manage':
      if (r.type !== 'doctor') return deny('wrong_resource');
      if (isSelf(actor, r.doctorId)) return sharesClinic(actor, r.clinicIds) ? allow() : deny('not_member');
      return (actor.role === 'clinic_admin' || actor.role === 'operator') && sharesClinic(actor, r.clinicIds)
        ? allow()
        : deny('staff_of_doctor_clinic_only');
    case 'doctor.schedule.read':
      if (r.type !== 'doctor') return deny('wrong_resource');
      return sharesClinic(actor, r.clinicIds) ? allow() : deny('not_member');
    case 'doctor.licence.manage':
      if (r.type !== 'doctor') return deny('wrong_resource');
      return actor.role === 'clinic_admin' && sharesClinic(actor, r.clinicIds)
        ? allow()
        : deny('clinic_admin_only');
    case 'doctor.licence.read':
      if (r.type !== 'doctor') return deny('wrong_resource');
      if (isSelf(actor, r.doctorId)) return allow();
      return (actor.role === 'clinic_admin' || actor.role === 'operator') && sharesClinic(actor, r.clinicIds)
        ? allow()
        : deny('staff_of_doctor_clinic_only');
    case 'doctor.calendar.export':
    case 'doctor.calendar_feed.manage':
      if (r.type !== 'doctor') return deny('wrong_resource');
      // The feed goes to third-party calendar apps: only the doctor's own, and it carries no patient data.
      return isSelf(actor, r.doctorId) && actor.role === 'doctor' ? allow() : deny('own_calendar_only');
    case 'doctor.dispatch_offers.list':
      if (r.type !== 'doctor') return deny('wrong_resource');
      return isSelf(actor, r.doctorId) && actor.role === 'doctor' ? allow() : deny('own_offers_only');
    case 'doctor.appointments.list':
      if (r.type !== 'doctor') return deny('wrong_resource');
      if (isSelf(actor, r.doctorId) && actor.role === 'doctor') return allow();
      return actor.role === 'operator' && sharesClinic(actor, r.clinicIds)
        ? allow()
        : deny('doctor_or_operator_only');
    case 'patient.appointments.list':
      if (r.type !== 'patient') return deny('wrong_resource');
      // Same as reading the profile: the patient side, operators of their clinic; doctors see
      // appointments through their own list instead.
      return actor.role === 'doctor' ? deny('use_doctor_list') : patientAccess(actor, r, { operators: true });

    case 'appointment.book':
    case 'appointment.reschedule':
      return appointment(r, (a) => patientSide(actor, a.patient) || operatorOf(actor, a));
    case 'appointment.read':
      return appointment(
        r,
        (a) => patientSide(actor, a.patient) || operatorOf(actor, a) || assignedDoctor(actor, a),
      );
    case 'appointment.questionnaire.read':
      return appointment(r, (a) => patientSide(actor, a.patient) || assignedDoctor(actor, a));
    case 'appointment.cancel':
    case 'appointment.check_in':
      return appointment(
        r,
        (a) => patientSide(actor, a.patient) || operatorOf(actor, a) || assignedDoctor(actor, a),
      );
    case 'appointment.confirm':
      return appointment(
        r,
        (a) =>
          operatorOf(actor, a) ||
          (actor.role === 'clinic_admin' && inClinic(actor, a.clinicId) && !actor.onBehalfOf),
      );
    case 'appointment.start':
    case 'appointment.complete':
      return appointment(r, (a) => assignedDoctor(actor, a));
    case 'appointment.no_show':
      return appointment(r, (a) => assignedDoctor(actor, a) || operatorOf(actor, a));
    case 'consultation.join':
      // The people of the appointment only: operators arrange calls but do not sit in them.
      return appointment(r, (a) => patientSide(actor, a.patient) || assignedDoctor(actor, a));
    case 'consultation.guests.manage':
      return appointment(r, (a) => assignedDoctor(actor, a));
    case 'dispatch.create':
      return appointment(r, (a) => operatorOf(actor, a));
    case 'dispatch.respond':
      if (r.type !== 'dispatch_offer') return deny('wrong_resource');
      return actor.role === 'doctor' &&
        !actor.onBehalfOf &&
        inClinic(actor, r.clinicId) &&
        r.offeredDoctorIds.includes(actor.userId)
        ? allow()
        : deny('not_offered');
  }
  return deny('unknown_action');
}

function appointment(r: ResourceFor<Action>, rule: (a: AppointmentResource) => boolean): Decision {
  if (r.type !== 'appointment') return deny('wrong_resource');
  // The patient must belong to the appointment's clinic, whoever is asking.
  if (!r.patient.clinicIds.includes(r.clinicId)) return deny('patient_not_in_clinic');
  return rule(r) ? allow() : deny('not_allowed_for_appointment');
}

const isSelf = (actor: Actor, userId: string) => actor.userId === userId && !actor.onBehalfOf;

/** The patient themself, or a guardian who said they act for this very dependent. */
function patientSide(actor: Actor, p: PatientFacts): boolean {
  if (actor.onBehalfOf) return actor.onBehalfOf === p.patientId && p.guardianIds.includes(actor.userId);
  return actor.role === 'patient' && actor.userId === p.patientId;
}

const operatorOf = (actor: Actor, a: AppointmentResource) =>
  actor.role === 'operator' && !actor.onBehalfOf && inClinic(actor, a.clinicId);
const assignedDoctor = (actor: Actor, a: AppointmentResource) =>
  actor.role === 'doctor' && !actor.onBehalfOf && a.doctorId === actor.userId && inClinic(actor, a.clinicId);
