import type { Action } from '../policy/actions.ts';

type Coding = { system: string; code: string; display: string };

/** How one audit action reads as a FHIR R4 AuditEvent: its type, optional subtype, and action code. */
export type AuditEventCoding = {
  type: Coding;
  subtype?: Coding;
  /** Create, Read, Update, Delete, Execute (http://hl7.org/fhir/audit-event-action). */
  action: 'C' | 'R' | 'U' | 'D' | 'E';
};

const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const AUDIT_EVENT_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-event-type';
const RESTFUL = 'http://hl7.org/fhir/restful-interaction';

const rest: Coding = { system: AUDIT_EVENT_TYPE, code: 'rest', display: 'RESTful Operation' };
const patientRecord: Coding = { system: DCM, code: '110110', display: 'Patient Record' };
const authentication: Coding = { system: DCM, code: '110114', display: 'User Authentication' };
const securityAttributes: Coding = {
  system: DCM,
  code: '110137',
  display: 'User Security Attributes Changed',
};
const rolesChanged: Coding = { system: DCM, code: '110136', display: 'Security Roles Changed' };
const emergencyOverride: Coding = { system: DCM, code: '110127', display: 'Emergency Override Started' };
const auditLogUsed: Coding = { system: DCM, code: '110101', display: 'Audit Log Used' };
const applicationActivity: Coding = { system: DCM, code: '110100', display: 'Application Activity' };
const exported: Coding = { system: DCM, code: '110106', display: 'Export' };
const interaction = (
  code: 'read' | 'search-type' | 'create' | 'update' | 'delete' | 'operation',
): Coding => ({ system: RESTFUL, code, display: code });

const read: AuditEventCoding = { type: rest, subtype: interaction('read'), action: 'R' };
const search: AuditEventCoding = { type: rest, subtype: interaction('search-type'), action: 'R' };
const create: AuditEventCoding = { type: rest, subtype: interaction('create'), action: 'C' };
const update: AuditEventCoding = { type: rest, subtype: interaction('update'), action: 'U' };
const remove: AuditEventCoding = { type: rest, subtype: interaction('delete'), action: 'D' };
const operation: AuditEventCoding = { type: rest, subtype: interaction('operation'), action: 'E' };
const recordRead: AuditEventCoding = { type: patientRecord, subtype: interaction('read'), action: 'R' };
const recordCreate: AuditEventCoding = { type: patientRecord, subtype: interaction('create'), action: 'C' };

/** The policy's decisions: every permission-checked action is also an audit action (PHI ones are logged). */
const DECISIONS = {
  'clinic.create': create,
  'clinic.read': read,
  'clinic.update': update,
  'clinic.staff.list': search,
  'clinic.staff.invite': create,
  'clinic.patient.invite': create,
  'clinic.patients.list': search,
  'clinic.care.assign': { type: rolesChanged, action: 'C' },
  'clinic.invitations.list': search,
  'invitation.revoke': remove,
  'clinic.webhooks.manage': update,
  'clinic.api_keys.manage': { type: securityAttributes, action: 'U' },
  'clinic.widget.configure': update,
  'audit.query': { type: auditLogUsed, action: 'R' },
  'audit.query_all': { type: auditLogUsed, action: 'R' },
  'audit.verify': { type: auditLogUsed, action: 'E' },
  'user.self.manage': update,
  'user.time_zone.set': update,
  'dependent.create': recordCreate,
  'dependent.list': search,
  'patient.act_on_behalf': { type: securityAttributes, action: 'E' },
  'patient.profile.read': recordRead,
  'patient.notes.read': recordRead,
  'patient.notes.write': recordCreate,
  'patient.break_glass': { type: emergencyOverride, action: 'E' },
  'record.read': recordRead,
  'record.document.read': recordRead,
  'encounter.draft.read': recordRead,
  'encounter.draft.write': { type: patientRecord, subtype: interaction('update'), action: 'U' },
  'encounter.finalise': recordCreate,
  'encounter.amend': recordCreate,
  'icd10.search': search,
  'clinic.scheduling.configure': update,
  'clinic.consult_types.manage': update,
  'clinic.consult_types.list': search,
  'clinic.dispatch.list': search,
  'doctor.schedule.manage': update,
  'doctor.schedule.read': read,
  'doctor.licence.manage': update,
  'doctor.licence.read': read,
  'doctor.calendar.export': { type: exported, action: 'R' },
  'doctor.calendar_feed.manage': operation,
  'doctor.appointments.list': search,
  'doctor.dispatch_offers.list': search,
  'patient.appointments.list': search,
  'appointment.book': create,
  'appointment.read': read,
  'appointment.questionnaire.read': recordRead,
  'appointment.reschedule': update,
  'appointment.cancel': update,
  'appointment.confirm': update,
  'appointment.check_in': update,
  'appointment.start': update,
  'appointment.complete': update,
  'appointment.no_show': update,
  'dispatch.create': create,
  'consultation.join': operation,
  'consultation.guests.manage': operation,
  'dispatch.respond': update,
  'fhir.directory.read': read,
  'fhir.patient.read': recordRead,
  'fhir.appointment.read': read,
} as const satisfies Record<Action, AuditEventCoding>;

/** Events recorded after the fact (what happened), beside the decisions above (who was allowed what). */
const EVENTS = {
  'auth.login': {
    type: authentication,
    subtype: { system: DCM, code: '110122', display: 'Login' },
    action: 'E',
  },
  'auth.mfa': {
    type: authentication,
    subtype: { system: DCM, code: '110122', display: 'Login' },
    action: 'E',
  },
  'user.self.read': read,
  'user.profile.update': update,
  'user.password.change': { type: securityAttributes, action: 'U' },
  'user.totp.enable': { type: securityAttributes, action: 'U' },
  'user.totp.disable': { type: securityAttributes, action: 'U' },
  'dependent.created': recordCreate,
  'clinic.created': create,
  'clinic.updated': update,
  'invitation.created': create,
  'invitation.revoked': remove,
  'invitation.accepted': { type: securityAttributes, action: 'C' },
  'care.assigned': { type: rolesChanged, action: 'C' },
  // Clinic API keys and the widget: a key made or revoked, widget settings changed, a widget session
  // minted by a clinic backend (linking its patient id on first use), or refused.
  'api_key.created': { type: securityAttributes, action: 'C' },
  'api_key.revoked': { type: securityAttributes, action: 'D' },
  'widget.settings_updated': update,
  'widget.session_created': { type: authentication, action: 'E' },
  'widget.patient_linked': { type: patientRecord, subtype: interaction('create'), action: 'C' },
  'widget.session_refused': { type: authentication, action: 'E' },
  'patient.note.created': recordCreate,
  'doctor.calendar_feed.read': { type: exported, action: 'R' },
  'admin.bootstrapped': { type: rolesChanged, action: 'C' },
  'audit.chain_keyed': { type: applicationActivity, action: 'E' },
  // Chat (PHI): each send, edit and delete is one entry; reads are one entry per page, catch-up or live subscription.
  'conversation.opened': create,
  'conversation.listed': search,
  'conversation.read': read,
  'conversation.subscribed': read,
  'message.sent': create,
  'message.edited': update,
  'message.deleted': remove,
  // A member's delivered or read watermark moved: one entry per move, naming the message it moved to.
  'message.delivered': update,
  'message.read': update,
  // Live chat (PHI: who talks to the clinic, when): its start, each change of hands, reads of its state and of the queue.
  'livechat.started': create,
  'livechat.viewed': read,
  'livechat.queue_listed': search,
  'livechat.assigned': update,
  'livechat.accepted': update,
  'livechat.transferred': update,
  'livechat.requeued': update,
  'livechat.closed': update,
  'livechat.reopened': update,
  'livechat.transcript_sent': { type: exported, action: 'R' },
  // Files (PHI): an upload's creation, each PATCH that kept bytes, its completion; each link issued, each download, each view.
  'file.upload_created': create,
  'file.upload_written': update,
  'file.upload_completed': create,
  'file.link_issued': read,
  'file.downloaded': read,
  // A file's name, size and thumbnail, as a chat message shows them.
  'file.viewed': read,
  // The clinical record (PHI): each draft save, finalisation, amendment, stored document and download.
  'encounter.draft_saved': { type: patientRecord, subtype: interaction('update'), action: 'U' },
  'encounter.finalised': recordCreate,
  'encounter.amended': recordCreate,
  'record.document.created': recordCreate,
  'record.document.downloaded': { type: exported, action: 'R' },
  // Webhooks: endpoint changes by clinic admins, resends, automatic switch-off, and each delivery
  // that carried PHI to an endpoint that opted in (a disclosure, like an export).
  'webhook.endpoint.created': create,
  'webhook.endpoint.updated': update,
  'webhook.endpoint.deleted': remove,
  'webhook.secret.rotated': { type: securityAttributes, action: 'U' },
  'webhook.delivery.resent': operation,
  'webhook.endpoint.auto_disabled': { type: applicationActivity, action: 'E' },
  'webhook.phi.disclosed': { type: exported, action: 'R' },
  // Appended only by the booking load test, on its own database, to measure the chain's serial ceiling.
  'loadtest.audit_ceiling': { type: applicationActivity, action: 'E' },
} as const satisfies Record<string, AuditEventCoding>;

/** Every action the audit log holds, each mapped once to its FHIR AuditEvent coding. */
export const AUDIT_ACTIONS: Readonly<Record<AuditAction, AuditEventCoding>> = { ...DECISIONS, ...EVENTS };

export type AuditAction = Action | keyof typeof EVENTS;
