import type { LiveChatStatus } from '../../db/schema/index.ts';
import type { Actor } from '../policy/types.ts';

export type LiveChatAction =
  /** A patient starts a chat with a clinic. */
  | 'start'
  /** Its state: place in the queue, estimated wait, holder. */
  | 'view'
  | 'reopen'
  /** An operator takes a queued (or offline) chat. */
  | 'accept'
  /** The holder hands it over, closes it, writes canned replies or internal notes in it. */
  | 'transfer'
  | 'close'
  | 'reply'
  /** Clinic-wide operator actions. */
  | 'queue'
  | 'presence'
  | 'canned_manage'
  | 'settings';

export type LiveChatFacts = {
  clinicId: string;
  patientId: string | null;
  assigneeId: string | null;
  status: LiveChatStatus | null;
};

export type LiveChatDecision = { allow: true } | { allow: false; reason: string };

const allow: LiveChatDecision = { allow: true };
const deny = (reason: string): LiveChatDecision => ({ allow: false, reason });

/**
 * Who may do what with live chats. Pure, default deny. Clinic boundaries are hard: nobody outside
 * the clinic learns a chat exists (reason 'not_member', answered 404). The patient side is the
 * patient (or a guardian acting for them); the staff side is the clinic's operators, its admins
 * for supervision, and whoever holds the chat now (an operator, or a doctor it was handed to).
 */
export function decideLiveChat(actor: Actor, f: LiveChatFacts, action: LiveChatAction): LiveChatDecision {
  const ofClinic = actor.clinicIds.includes(f.clinicId);
  // Guardians acting for a dependent come with the widget's later modes; today the patient speaks for themself.
  const patientSide =
    f.patientId !== null && !actor.onBehalfOf && actor.role === 'patient' && actor.userId === f.patientId;
  const holder = f.assigneeId !== null && f.assigneeId === actor.userId && ofClinic && !actor.onBehalfOf;
  const operator = actor.role === 'operator' && ofClinic && !actor.onBehalfOf;
  const admin = actor.role === 'clinic_admin' && ofClinic && !actor.onBehalfOf;
  switch (action) {
    case 'start':
      return actor.role === 'patient' && ofClinic && !actor.onBehalfOf ? allow : deny('not_member');
    case 'view':
      return (patientSide && ofClinic) || operator || admin || holder ? allow : deny('not_member');
    case 'reopen':
      return patientSide && ofClinic ? allow : staffOrHidden(operator || admin || holder);
    case 'accept':
      return operator ? allow : staffOrHidden(admin || holder);
    case 'transfer':
    case 'reply':
      return holder && f.status === 'assigned' ? allow : staffOrHidden(operator || admin || holder);
    case 'close':
      return (holder || admin) && f.status === 'assigned' ? allow : staffOrHidden(operator || holder);
    case 'queue':
      return operator || admin ? allow : deny('not_member');
    case 'presence':
      return operator ? allow : deny('not_member');
    case 'canned_manage':
      return operator || admin ? allow : deny('not_member');
    case 'settings':
      return admin ? allow : deny('not_member');
  }
}

/** Staff of the clinic learn that they may not (403); anyone else learns nothing (404). */
const staffOrHidden = (staff: boolean) => (staff ? deny('not_allowed') : deny('not_member'));
