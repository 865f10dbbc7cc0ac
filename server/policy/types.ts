import type { UserRole } from '../../db/schema/index.ts';

/** The authenticated caller as the policy sees it. clinicIds are loaded fresh on each request. */
export type Actor = {
  userId: string;
  role: UserRole;
  sessionId: string;
  clinicIds: readonly string[];
  /** Set only after the policy allowed 'act_on_behalf' for this dependent. */
  onBehalfOf?: string;
};

/** Facts about a patient the policy needs; loaded by facts.ts, never by route handlers. */
export type PatientFacts = {
  type: 'patient';
  patientId: string;
  clinicIds: readonly string[];
  /** Doctor-patient treating relationships, each scoped to a clinic. */
  relationships: readonly { doctorId: string; clinicId: string }[];
  guardianIds: readonly string[];
  /** Doctors holding an unexpired break-glass grant for this patient. */
  breakGlassDoctorIds: readonly string[];
};

export type Resource =
  | { type: 'platform' }
  | { type: 'clinic'; clinicId: string }
  | { type: 'user'; userId: string }
  | PatientFacts
  /** A doctor's schedule, licences and calendar; clinicIds = the doctor's clinics. */
  | { type: 'doctor'; doctorId: string; clinicIds: readonly string[] }
  /** An appointment (or one being booked / dispatched: doctorId null until someone accepts). */
  | {
      type: 'appointment';
      appointmentId: string | null;
      clinicId: string;
      doctorId: string | null;
      patient: PatientFacts;
    }
  /**
   * The clinical write-up of an appointment (draft, finalisation, amendments): only the doctor of
   * the appointment writes it; nobody else may learn whether one exists.
   */
  | {
      type: 'encounter';
      appointmentId: string;
      clinicId: string;
      doctorId: string;
      patient: PatientFacts;
    }
  | {
      type: 'dispatch_offer';
      requestId: string;
      clinicId: string;
      patientId: string;
      offeredDoctorIds: readonly string[];
    }
  /** A clinic's invitations: all of them (sentBy null) or those one user sent. */
  | { type: 'invitations'; clinicId: string; sentBy: string | null }
  /** One invitation; sentBy is its creator (null when the creator's account is gone). */
  | { type: 'invitation'; invitationId: string; clinicId: string; sentBy: string | null };

export type Decision = { allow: true; breakGlass: boolean } | { allow: false; reason: string };
