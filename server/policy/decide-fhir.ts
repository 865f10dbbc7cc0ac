import type { Action, ResourceFor } from './actions.ts';
import { patientAccess } from './decide.ts';
import type { Actor, Decision } from './types.ts';

const allow = (breakGlass = false): Decision => ({ allow: true, breakGlass });
const deny = (reason: string): Decision => ({ allow: false, reason });
const inClinic = (actor: Actor, clinicId: string) => actor.clinicIds.includes(clinicId);

/** The roles the FHIR API serves: the parties of a patient's record and the clinic that keeps it. */
const DIRECTORY_ROLES = new Set(['patient', 'guardian', 'doctor', 'clinic_admin']);

export const isFhirAction = (a: Action) => a.startsWith('fhir.');

/**
 * FHIR API decisions. The API hands a patient's record to an EHR or a patient's app, so it
 * serves the record's parties only: the patient, a guardian acting for the dependent, and the
 * doctors who treat the patient (break-glass flagged as everywhere). Operators and partners are
 * no party to the clinical record and get nothing through it, not even the clinic's directory;
 * clinic boundaries stay hard. The audit log keeps its own rules (audit.query).
 */
export function decideFhir(actor: Actor, action: Action, r: ResourceFor<Action>): Decision {
  switch (action) {
    case 'fhir.directory.read':
      if (r.type !== 'clinic') return deny('wrong_resource');
      if (!DIRECTORY_ROLES.has(actor.role)) return deny('not_a_record_party');
      return inClinic(actor, r.clinicId) ? allow() : deny('not_member');
    case 'fhir.patient.read':
      if (r.type !== 'patient') return deny('wrong_resource');
      return patientAccess(actor, r, { operators: false });
    case 'fhir.appointment.read': {
      if (r.type !== 'appointment') return deny('wrong_resource');
      if (!r.patient.clinicIds.includes(r.clinicId)) return deny('patient_not_in_clinic');
      // A doctor sees appointments of a clinic they work in: their own, or those of a patient they treat there.
      if (actor.role === 'doctor' && !actor.onBehalfOf) {
        if (!inClinic(actor, r.clinicId)) return deny('not_member');
        if (r.doctorId === actor.userId) return allow();
        // Treating the patient in another clinic shows nothing of this clinic's appointments.
        const treatsHere = r.patient.relationships.some(
          (t) => t.doctorId === actor.userId && t.clinicId === r.clinicId,
        );
        if (treatsHere) return allow();
        return r.patient.breakGlassDoctorIds.includes(actor.userId) ? allow(true) : deny('not_treating_here');
      }
      return patientAccess(actor, r.patient, { operators: false });
    }
  }
  return deny('unknown_action');
}
