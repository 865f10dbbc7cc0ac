import type { Action, ResourceFor } from './actions.ts';
import { decideScheduling, isSchedulingAction } from './decide-scheduling.ts';
import type { Actor, Decision, PatientFacts } from './types.ts';

const allow = (breakGlass = false): Decision => ({ allow: true, breakGlass });
const deny = (reason: string): Decision => ({ allow: false, reason });
const inClinic = (actor: Actor, clinicId: string) => actor.clinicIds.includes(clinicId);
const STAFF_ROLES_SEEING_STAFF = new Set(['clinic_admin', 'doctor', 'operator']);

/**
 * The one place that answers "may this actor do this action on this resource". Pure: all facts
 * come in as arguments (see facts.ts), so it is exhaustively testable. Default is deny.
 *
 * Principles: clinic boundaries are hard (no role crosses into a clinic it is not a member of,
 * platform admins included, who manage clinics and the audit log but read no PHI); doctors see
 * records of patients they treat, or others in their clinic via audited break-glass; operators see
 * demographics (not clinical notes) of their clinic's patients; guardians act for dependents only
 * when they say so (on-behalf-of), so the audit log records it; partners see no PHI.
 */
export function may<A extends Action>(actor: Actor, action: A, resource: ResourceFor<A>): Decision {
  const r = resource as ResourceFor<Action>;
  if (isSchedulingAction(action)) return decideScheduling(actor, action, r);
  switch (action) {
    case 'clinic.create':
    case 'audit.query_all':
    case 'audit.verify':
      return actor.role === 'admin' ? allow() : deny('admin_only');

    case 'icd10.search':
      return actor.role === 'doctor' ? allow() : deny('doctors_only');

    case 'clinic.read':
      if (r.type !== 'clinic') return deny('wrong_resource');
      return inClinic(actor, r.clinicId) ? allow() : deny('not_member');
    case 'clinic.update':
    case 'clinic.staff.invite':
    case 'clinic.webhooks.manage':
    case 'clinic.api_keys.manage':
    case 'clinic.widget.configure':
    case 'audit.query':
      if (r.type !== 'clinic') return deny('wrong_resource');
      return actor.role === 'clinic_admin' && inClinic(actor, r.clinicId)
        ? allow()
        : deny('clinic_admin_only');
    case 'clinic.staff.list':
      if (r.type !== 'clinic') return deny('wrong_resource');
      return STAFF_ROLES_SEEING_STAFF.has(actor.role) && inClinic(actor, r.clinicId)
        ? allow()
        : deny('staff_only');
    case 'clinic.patients.list':
      if (r.type !== 'clinic') return deny('wrong_resource');
      return STAFF_ROLES_SEEING_STAFF.has(actor.role) && inClinic(actor, r.clinicId)
        ? allow()
        : deny('staff_only');
    case 'clinic.patient.invite':
      if (r.type !== 'clinic') return deny('wrong_resource');
      return (actor.role === 'doctor' || actor.role === 'operator') && inClinic(actor, r.clinicId)
        ? allow()
        : deny('doctor_or_operator_only');
    case 'clinic.care.assign':
      if (r.type !== 'clinic') return deny('wrong_resource');
      return (actor.role === 'clinic_admin' || actor.role === 'operator') && inClinic(actor, r.clinicId)
        ? allow()
        : deny('clinic_admin_or_operator_only');
    case 'clinic.invitations.list':
      if (r.type !== 'invitations') return deny('wrong_resource');
      return invitationAccess(actor, r.clinicId, r.sentBy);
    case 'invitation.revoke':
      if (r.type !== 'invitation') return deny('wrong_resource');
      return invitationAccess(actor, r.clinicId, r.sentBy);

    case 'user.self.manage':
      if (r.type !== 'user') return deny('wrong_resource');
      return r.userId === actor.userId && !actor.onBehalfOf ? allow() : deny('not_self');
    case 'user.time_zone.set':
      if (r.type !== 'user') return deny('wrong_resource');
      if (r.userId !== actor.userId || actor.onBehalfOf) return deny('not_self');
      // Only reminder recipients have a use for it; a doctor's zone is their schedule's.
      return actor.role === 'patient' || actor.role === 'guardian'
        ? allow()
        : deny('patients_and_guardians_only');
    case 'dependent.create':
    case 'dependent.list':
      if (r.type !== 'user') return deny('wrong_resource');
      return actor.role === 'guardian' && r.userId === actor.userId && !actor.onBehalfOf
        ? allow()
        : deny('guardian_only');

    case 'patient.act_on_behalf':
      if (r.type !== 'patient') return deny('wrong_resource');
      return actor.role === 'guardian' && r.guardianIds.includes(actor.userId)
        ? allow()
        : deny('not_guardian');
    case 'patient.profile.read':
      if (r.type !== 'patient') return deny('wrong_resource');
      return patientAccess(actor, r, { operators: true });
    case 'patient.notes.read':
      if (r.type !== 'patient') return deny('wrong_resource');
      return patientAccess(actor, r, { operators: false });
    case 'patient.notes.write':
      if (r.type !== 'patient') return deny('wrong_resource');
      return actor.role === 'doctor' ? doctorAccess(actor, r) : deny('doctor_only');
    case 'patient.break_glass':
      if (r.type !== 'patient') return deny('wrong_resource');
      if (actor.role !== 'doctor') return deny('doctor_only');
      return r.clinicIds.some((c) => inClinic(actor, c)) ? allow(true) : deny('not_in_patient_clinic');

    case 'record.read':
    case 'record.document.read':
      if (r.type !== 'patient') return deny('wrong_resource');
      return patientAccess(actor, r, { operators: false });
    case 'encounter.draft.read':
    case 'encounter.draft.write':
    case 'encounter.finalise':
    case 'encounter.amend':
      if (r.type !== 'encounter') return deny('wrong_resource');
      if (!r.patient.clinicIds.includes(r.clinicId)) return deny('patient_not_in_clinic');
      return actor.role === 'doctor' &&
        !actor.onBehalfOf &&
        actor.userId === r.doctorId &&
        inClinic(actor, r.clinicId)
        ? allow()
        : deny('appointment_doctor_only');
  }
  return deny('unknown_action');
}

/**
 * Invitations follow who may send them: a clinic admin manages all of the clinic's; doctors and
 * operators (who invite patients and guardians) only the ones they sent themselves.
 */
function invitationAccess(actor: Actor, clinicId: string, sentBy: string | null): Decision {
  if (!inClinic(actor, clinicId)) return deny('not_member');
  if (actor.role === 'clinic_admin') return allow();
  if (actor.role !== 'doctor' && actor.role !== 'operator') return deny('staff_only');
  return sentBy === actor.userId ? allow() : deny('own_invitations_only');
}

/** The widest set of a clinic's invitations the actor may list, for the route to ask for. */
export function invitationListScope(actor: Actor): { sentBy: string | null } {
  return { sentBy: actor.role === 'clinic_admin' ? null : actor.userId };
}

export function patientAccess(actor: Actor, p: PatientFacts, opts: { operators: boolean }): Decision {
  // Acting for a dependent narrows the actor to that dependent's record, nothing else.
  if (actor.onBehalfOf) {
    return actor.onBehalfOf === p.patientId && p.guardianIds.includes(actor.userId)
      ? allow()
      : deny('not_guardian');
  }
  if (actor.userId === p.patientId) return actor.role === 'patient' ? allow() : deny('not_patient');
  switch (actor.role) {
    case 'doctor':
      return doctorAccess(actor, p);
    case 'operator':
      return opts.operators && p.clinicIds.some((c) => inClinic(actor, c)) ? allow() : deny('operator_scope');
    case 'guardian':
      return deny(p.guardianIds.includes(actor.userId) ? 'on_behalf_of_required' : 'not_guardian');
    default:
      return deny('no_patient_access');
  }
}

function doctorAccess(actor: Actor, p: PatientFacts): Decision {
  const treating = p.relationships.some(
    (r) => r.doctorId === actor.userId && inClinic(actor, r.clinicId) && p.clinicIds.includes(r.clinicId),
  );
  if (treating) return allow();
  const sharesClinic = p.clinicIds.some((c) => inClinic(actor, c));
  if (sharesClinic && p.breakGlassDoctorIds.includes(actor.userId)) return allow(true);
  return deny(sharesClinic ? 'no_relationship_break_glass_available' : 'not_in_patient_clinic');
}
