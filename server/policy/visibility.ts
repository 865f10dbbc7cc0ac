import type { Actor, PatientFacts, Resource } from './types.ts';

/** Roles that see their clinic's patients and appointments in lists (and so know they exist). */
const CLINIC_STAFF = new Set(['clinic_admin', 'doctor', 'operator']);
const member = (actor: Actor, clinicId: string) => actor.clinicIds.includes(clinicId);
const staffOf = (actor: Actor, clinicIds: readonly string[]) =>
  CLINIC_STAFF.has(actor.role) && clinicIds.some((c) => member(actor, c));
const patientKnown = (actor: Actor, p: PatientFacts) =>
  actor.userId === p.patientId || p.guardianIds.includes(actor.userId) || staffOf(actor, p.clinicIds);

/**
 * Whether the actor may learn that the resource exists. A refusal of something the actor can see
 * anyway (their own clinic, their own record, a colleague's patient) is 403; of anything else it
 * is the same 404 an unknown id gets, so ids cannot be probed to find other clinics' clinics,
 * patients, doctors or appointments. Pure, like decide.ts.
 */
export function visibleTo(actor: Actor, r: Resource): boolean {
  switch (r.type) {
    case 'platform':
    case 'user':
      return true;
    case 'clinic':
    case 'invitations':
      return member(actor, r.clinicId);
    case 'invitation':
      return staffOf(actor, [r.clinicId]) || r.sentBy === actor.userId;
    case 'patient':
      return patientKnown(actor, r);
    case 'doctor':
      // Any member of the doctor's clinic can list and book them.
      return actor.userId === r.doctorId || r.clinicIds.some((c) => member(actor, c));
    case 'appointment':
      return (
        staffOf(actor, [r.clinicId]) ||
        actor.userId === r.patient.patientId ||
        r.patient.guardianIds.includes(actor.userId)
      );
    case 'encounter':
      // Its doctor, and the patient side (who know their appointment has one); other staff do not learn of it.
      return (
        (actor.userId === r.doctorId && member(actor, r.clinicId)) ||
        actor.userId === r.patient.patientId ||
        r.patient.guardianIds.includes(actor.userId)
      );
    case 'dispatch_offer':
      return (
        staffOf(actor, [r.clinicId]) ||
        r.offeredDoctorIds.includes(actor.userId) ||
        actor.userId === r.patientId
      );
  }
}

const NOT_FOUND: Record<Resource['type'], string> = {
  platform: 'no such resource',
  user: 'no such user',
  clinic: 'no such clinic',
  invitations: 'no such clinic',
  invitation: 'no such invitation',
  patient: 'no such patient',
  doctor: 'no such doctor',
  appointment: 'no such appointment',
  encounter: 'no such encounter',
  dispatch_offer: 'no such dispatch request',
};

/** The detail of the 404 an unknown id of this type gets, so a hidden one reads the same. */
export const notFoundDetail = (type: Resource['type']) => NOT_FOUND[type];
