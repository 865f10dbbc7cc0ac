import type { Actor } from '../policy/types.ts';
import type {
  CareThreadFacts,
  ChatActor,
  ConversationFacts,
  MessagingAction,
  MessagingDecision,
} from './types.ts';

const deny = (reason: string): MessagingDecision => ({ allow: false, reason });
const host = (): MessagingDecision => ({ allow: true, audience: 'all', host: true });
const member = (): MessagingDecision => ({ allow: true, audience: 'all', host: false });
const toHostsOnly = (): MessagingDecision => ({ allow: true, audience: 'hosts', host: false });

/**
 * Who may read, post in or send receipts to a conversation. Pure (facts come in), default deny,
 * in the style of policy/decide.ts: clinic boundaries are hard; the treating doctor is the host;
 * the patient side is the patient or a guardian acting for them (on-behalf-of, so the audit log
 * says so); staff without the treating role read no chat (it is PHI). In the room, a waiting
 * participant may only write to the hosts and never reads history; guests exist only while
 * admitted (or waiting), and nothing remains to them after.
 */
export function decideMessaging(
  who: ChatActor,
  c: ConversationFacts,
  action: MessagingAction,
): MessagingDecision {
  if (who.kind === 'guest') return decideGuest(who, c, action);
  if (c.kind === 'livechat') return decideLiveChatMessage(who.actor, c, action);
  const side = sideOf(who.actor, c);
  if (side === 'none') return deny('not_member');
  if (c.kind === 'care') return side === 'doctor' ? host() : member();
  // Room conversation: the doctor is the host wherever they are; the patient side depends on presence.
  if (side === 'doctor') return host();
  switch (who.presence) {
    case 'admitted':
      return member();
    case 'waiting':
      return action === 'post' ? toHostsOnly() : deny('waiting_room');
    case 'absent':
      // After (or outside) the call the patient side keeps the record, read-only.
      return action === 'post' ? deny('not_in_room') : member();
  }
}

function decideGuest(
  who: Extract<ChatActor, { kind: 'guest' }>,
  c: ConversationFacts,
  action: MessagingAction,
): MessagingDecision {
  if (c.kind !== 'room' || c.appointmentId !== who.appointmentId) return deny('not_member');
  if (!c.guestValid) return deny('guest_expired');
  if (who.presence === 'admitted') return member();
  if (who.presence === 'waiting') return action === 'post' ? toHostsOnly() : deny('waiting_room');
  return deny('not_in_room');
}

/**
 * A live chat: the patient side reads and writes (not once closed: a reopen queues it again); its
 * current staff holder (operator or doctor) is the host; the clinic's other operators and admins
 * read it with its staff notes (the team's transcript) but do not write into a chat they do not hold.
 */
function decideLiveChatMessage(
  actor: Actor,
  c: ConversationFacts,
  action: MessagingAction,
): MessagingDecision {
  const ofClinic = actor.clinicIds.includes(c.clinicId);
  if (sideOf(actor, c) === 'patient') {
    if (action === 'post' && c.liveStatus === 'closed') return deny('livechat_closed');
    return member();
  }
  if (!ofClinic || actor.onBehalfOf) return deny('not_member');
  if (c.doctorId === actor.userId && c.liveStatus !== 'closed') return host();
  if (c.doctorId === actor.userId || actor.role === 'operator' || actor.role === 'clinic_admin')
    return action === 'read' ? host() : deny('not_assignee');
  return deny('not_member');
}

function sideOf(
  actor: Actor,
  c: { clinicId: string; doctorId: string | null; patientId: string; guardianIds: readonly string[] },
) {
  if (actor.onBehalfOf) {
    return actor.role === 'guardian' &&
      actor.onBehalfOf === c.patientId &&
      c.guardianIds.includes(actor.userId)
      ? 'patient'
      : 'none';
  }
  if (actor.role === 'doctor' && actor.userId === c.doctorId)
    return actor.clinicIds.includes(c.clinicId) ? 'doctor' : 'none';
  if (actor.role === 'patient' && actor.userId === c.patientId)
    return actor.clinicIds.includes(c.clinicId) ? 'patient' : 'none';
  return 'none';
}

/** Opening (or finding) the care thread of a doctor–patient pair: either side, once eligible; patients if the clinic lets them. */
export function decideOpenThread(actor: Actor, f: CareThreadFacts): MessagingDecision {
  const side = sideOf(actor, f);
  if (side === 'none') return deny('not_party');
  if (!f.eligible) return deny('no_shared_care');
  if (side === 'patient' && !f.patientsMayOpen) return deny('patients_reply_only');
  return side === 'doctor' ? host() : member();
}

/** Whether a reader sees a message: hosts see everything; others what is for all, and what they wrote. */
export function visibleMessage(
  decision: Extract<MessagingDecision, { allow: true }>,
  readerId: string,
  m: { audience: string; senderId: string },
): boolean {
  return decision.host || m.audience === 'all' || m.senderId === readerId;
}
