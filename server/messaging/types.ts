import type { ConversationKind, MessageAudience } from '../../db/schema/index.ts';
import type { Actor } from '../policy/types.ts';

/**
 * Where the speaker is in the consultation room right now. Only the signaling tier knows it (the
 * waiting room and admission live there), so it passes it in; HTTP callers are 'absent'.
 */
export type RoomPresence = 'admitted' | 'waiting' | 'absent';

/** Who is speaking: an account (with its room presence when on a call), or a guest of one consultation. */
export type ChatActor =
  | { kind: 'user'; actor: Actor; presence: RoomPresence }
  /** A join-token holder without an account: `guestId` is the consultation_guests row. */
  | { kind: 'guest'; guestId: string; appointmentId: string; presence: RoomPresence };

/** The facts of one conversation the decision needs, loaded by the repository (never by routes). */
export type ConversationFacts = {
  id: string;
  kind: ConversationKind;
  clinicId: string;
  appointmentId: string | null;
  /** A live chat's current staff holder (null while queued); the treating doctor otherwise. */
  doctorId: string | null;
  patientId: string;
  guardianIds: readonly string[];
  /** Live chats only: where it stands in the queue's life. */
  liveStatus?: 'queued' | 'assigned' | 'closed' | 'offline';
  /** Guests only: the guest is neither expired nor revoked (and belongs to this appointment). */
  guestValid?: boolean;
};

/** Facts for opening a care thread between a doctor and a patient of a clinic. */
export type CareThreadFacts = {
  clinicId: string;
  doctorId: string;
  patientId: string;
  guardianIds: readonly string[];
  /** They share an appointment in the clinic, or the doctor treats (invited) the patient there. */
  eligible: boolean;
  /** The clinic's setting: may patients start threads, or only reply? */
  patientsMayOpen: boolean;
};

export type MessagingAction = 'read' | 'post' | 'receipt';

export type MessagingDecision =
  { allow: true; audience: MessageAudience; host: boolean } | { allow: false; reason: string };

/** A message as members see it: a deleted message keeps its place, without its text. */
export type ChatMessage = {
  conversationId: string;
  seq: number;
  id: string;
  senderId: string;
  senderKind: 'user' | 'guest';
  audience: MessageAudience;
  body: string | null;
  createdAt: string;
  edited: boolean;
  deleted: boolean;
  /** The conversation's change number of its latest edit or delete (0: unchanged since sent). */
  change: number;
};

/** One page of catch-up: see ChatRepository.catchUp. */
export type CatchUp = {
  messages: ChatMessage[];
  /** Every seq up to here is returned or not for this member: the next `after`. */
  through: number;
  /** Older messages edited or deleted since the change watermark, in their current state, in change order. */
  changes: ChatMessage[];
  /** The next change watermark. */
  changesThrough: number;
  /** A page was full: ask again. */
  more: boolean;
};

export type SendAck = {
  conversationId: string;
  id: string;
  seq: number;
  createdAt: string;
  duplicate: boolean;
};
