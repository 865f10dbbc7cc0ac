import type { Resource } from './types.ts';

/**
 * Every action the API can take that needs permission, with the resource type it applies to and
 * whether it touches PHI (then every decision, allowed or denied, goes to the audit log).
 */
export const ACTIONS = {
  'clinic.create': { resource: 'platform', phi: false },
  'clinic.read': { resource: 'clinic', phi: false },
  'clinic.update': { resource: 'clinic', phi: false },
  'clinic.staff.list': { resource: 'clinic', phi: false },
  'clinic.staff.invite': { resource: 'clinic', phi: false },
  'clinic.patient.invite': { resource: 'clinic', phi: true },
  'clinic.patients.list': { resource: 'clinic', phi: true },
  'clinic.care.assign': { resource: 'clinic', phi: true },
  // The list carries invitees' e-mail addresses (patients' among them): audited like the patient list.
  'clinic.invitations.list': { resource: 'invitations', phi: true },
  'invitation.revoke': { resource: 'invitation', phi: false },
  // API keys mint widget sessions for the clinic's patients: only the clinic admin holds them.
  'clinic.api_keys.manage': { resource: 'clinic', phi: false },
  'clinic.widget.configure': { resource: 'clinic', phi: false },
  'audit.query': { resource: 'clinic', phi: false },
  // Webhook endpoints and their delivery log; the changes are audited as webhook.* events.
  'clinic.webhooks.manage': { resource: 'clinic', phi: false },
  'audit.query_all': { resource: 'platform', phi: false },
  'audit.verify': { resource: 'platform', phi: false },
  'user.self.manage': { resource: 'user', phi: false },
  'user.time_zone.set': { resource: 'user', phi: false },
  'dependent.create': { resource: 'user', phi: true },
  'dependent.list': { resource: 'user', phi: true },
  'patient.act_on_behalf': { resource: 'patient', phi: true },
  'patient.profile.read': { resource: 'patient', phi: true },
  'patient.notes.read': { resource: 'patient', phi: true },
  'patient.notes.write': { resource: 'patient', phi: true },
  'patient.break_glass': { resource: 'patient', phi: true },
  // The patient's clinical record (encounters, diagnoses, documents): read like the notes.
  'record.read': { resource: 'patient', phi: true },
  'record.document.read': { resource: 'patient', phi: true },
  // An appointment's encounter: its doctor drafts, finalises and amends it.
  'encounter.draft.read': { resource: 'encounter', phi: true },
  'encounter.draft.write': { resource: 'encounter', phi: true },
  'encounter.finalise': { resource: 'encounter', phi: true },
  'encounter.amend': { resource: 'encounter', phi: true },
  // The diagnosis code list (reference data, no PHI): searched by doctors filling in an encounter.
  'icd10.search': { resource: 'platform', phi: false },
  // Scheduling: decided in decide-scheduling.ts.
  'clinic.scheduling.configure': { resource: 'clinic', phi: false },
  'clinic.consult_types.manage': { resource: 'clinic', phi: false },
  'clinic.consult_types.list': { resource: 'clinic', phi: false },
  'clinic.dispatch.list': { resource: 'clinic', phi: true },
  'doctor.schedule.manage': { resource: 'doctor', phi: false },
  'doctor.schedule.read': { resource: 'doctor', phi: false },
  'doctor.licence.manage': { resource: 'doctor', phi: false },
  'doctor.licence.read': { resource: 'doctor', phi: false },
  'doctor.calendar.export': { resource: 'doctor', phi: true },
  // Issuing the secret URL hands out the export without a login: audited like the export itself.
  'doctor.calendar_feed.manage': { resource: 'doctor', phi: true },
  'doctor.appointments.list': { resource: 'doctor', phi: true },
  'doctor.dispatch_offers.list': { resource: 'doctor', phi: false },
  'patient.appointments.list': { resource: 'patient', phi: true },
  'appointment.book': { resource: 'appointment', phi: true },
  'appointment.read': { resource: 'appointment', phi: true },
  'appointment.questionnaire.read': { resource: 'appointment', phi: true },
  'appointment.reschedule': { resource: 'appointment', phi: true },
  'appointment.cancel': { resource: 'appointment', phi: true },
  'appointment.confirm': { resource: 'appointment', phi: true },
  'appointment.check_in': { resource: 'appointment', phi: true },
  'appointment.start': { resource: 'appointment', phi: true },
  'appointment.complete': { resource: 'appointment', phi: true },
  'appointment.no_show': { resource: 'appointment', phi: true },
  'dispatch.create': { resource: 'appointment', phi: true },
  'consultation.join': { resource: 'appointment', phi: true },
  'consultation.guests.manage': { resource: 'appointment', phi: true },
  'dispatch.respond': { resource: 'dispatch_offer', phi: true },
} as const satisfies Record<string, { resource: Resource['type']; phi: boolean }>;

export type Action = keyof typeof ACTIONS;
/** The resource shape an action takes, so may() cannot be called with the wrong kind. */
export type ResourceFor<A extends Action> = Extract<Resource, { type: (typeof ACTIONS)[A]['resource'] }>;
