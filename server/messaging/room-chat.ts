import { eq } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { appointments, clinicMembers, consultationRooms, users } from '../../db/schema/index.ts';
import type { ChatLiveEvent, ChatPresence, ChatSpeaker, RoomChat } from '../../signaling/chat-port.ts';
import type { ErrorCode, JoinClaims } from '../../signaling/protocol/index.ts';
import { SignalingError } from '../../signaling/signaling-error.ts';
import { ProblemError } from '../api/errors.ts';
import { PROBLEM } from '../api/problem-codes.ts';
import { guestIdOf } from '../consultations/join-window.ts';
import type { ChatRepository, LiveEvent } from './chat-repository.ts';
import type { Messaging } from './messaging.ts';
import type { ChatActor } from './types.ts';

/** Problem codes of the messaging repository as the socket's error codes; anything else stays internal. */
const SOCKET_CODE: Partial<Record<string, ErrorCode>> = {
  [PROBLEM.messageTooLarge]: 'message_too_large',
  [PROBLEM.messageInvalid]: 'message_empty',
  [PROBLEM.rateLimited]: 'rate_limited',
  [PROBLEM.forbidden]: 'not_allowed',
  [PROBLEM.notFound]: 'not_found',
  [PROBLEM.messageNotEditable]: 'not_editable',
  [PROBLEM.messageFileUnknown]: 'file_unknown',
  [PROBLEM.fileIncomplete]: 'file_incomplete',
  [PROBLEM.messageIdConflict]: 'invalid_request',
  [PROBLEM.invalidRequest]: 'invalid_request',
};

export function toSignalingError(err: unknown): unknown {
  if (!(err instanceof ProblemError)) return err;
  const code = SOCKET_CODE[err.code];
  return code ? new SignalingError(code, err.message) : err;
}

const mapped = async <T>(work: () => Promise<T>): Promise<T> => {
  try {
    return await work();
  } catch (err) {
    throw toSignalingError(err);
  }
};

/** A live repository event as the notification the socket sends. */
export function liveNotification(e: LiveEvent): ChatLiveEvent {
  switch (e.type) {
    case 'message': {
      const { type: _type, ...m } = e;
      return { method: 'chat.message', data: m };
    }
    case 'edited':
      return {
        method: 'chat.edited',
        data: {
          conversationId: e.conversationId,
          seq: e.seq,
          id: e.id,
          change: e.change,
          body: e.body,
          deleted: false,
          at: e.at,
        },
      };
    case 'deleted':
      return {
        method: 'chat.edited',
        data: {
          conversationId: e.conversationId,
          seq: e.seq,
          id: e.id,
          change: e.change,
          body: null,
          deleted: true,
          at: e.at,
        },
      };
    case 'receipt': {
      const { type: _type, ...r } = e;
      return { method: 'chat.receipt', data: r };
    }
    case 'typing': {
      const { type: _type, ...t } = e;
      return { method: 'chat.typing', data: t };
    }
  }
}

/** One repository in one conversation, with the repository's errors as socket error codes. */
export function speakerOf(repo: ChatRepository, conversationId: string): ChatSpeaker {
  return {
    conversationId,
    send: (clientId, body) => mapped(() => repo.send(conversationId, { id: clientId, body })),
    catchUp: (from) => mapped(() => repo.catchUp(conversationId, from)),
    history: (before, limit) =>
      mapped(() => repo.history(conversationId, { limit, ...(before === undefined ? {} : { before }) })),
    read: (seq) => mapped(() => repo.markRead(conversationId, seq)),
    delivered: (seq) => mapped(() => repo.markDelivered(conversationId, seq)),
    typing: (typing) => mapped(() => repo.typing(conversationId, typing)),
    edit: (id, body) => mapped(() => repo.edit(conversationId, id, body)),
    delete: (id) => mapped(() => repo.delete(conversationId, id)),
    subscribe: (listener) =>
      mapped(() => repo.subscribe(conversationId, (e) => listener(liveNotification(e)))),
  };
}

type RoomFacts = { appointmentId: string; patientId: string };
type Speaking = { who: ChatActor; repo: ReturnType<Messaging['forActor']>; conversationId: string };

/**
 * How long a speaker (account facts, room conversation) is reused between one member's chat
 * requests: loaded per request, they were three queries before every message, and a member's
 * requests run one at a time. A changed clinic membership or role takes effect within this.
 * Every operation still decides afresh on the conversation's facts (a guest's revocation at once).
 */
export const SPEAKER_REUSE_MS = 1000;

/**
 * The room tier's chat: a join token's holder as a chat speaker in its appointment's room
 * conversation. Accounts are loaded fresh (role, clinics) because a join token carries neither; a
 * guardian's token speaks for the appointment's patient, which the decision checks against the
 * guardianships it loads itself.
 */
export class RoomChatService implements RoomChat {
  readonly #rooms = new Map<string, RoomFacts>();
  readonly #speakers = new Map<string, { until: number; speaking: Promise<Speaking> }>();

  constructor(
    private readonly db: Db,
    private readonly messaging: Messaging,
  ) {}

  async speaker(claims: JoinClaims, presence: ChatPresence): Promise<ChatSpeaker> {
    const { repo, conversationId } = await this.#speaking(claims, presence);
    return speakerOf(repo, conversationId);
  }

  /** The join token's holder as chat decides it, and its room's conversation (for room file grants). */
  async participant(
    claims: JoinClaims,
    presence: ChatPresence,
  ): Promise<{ who: ChatActor; conversationId: string }> {
    const { who, conversationId } = await this.#speaking(claims, presence);
    return { who, conversationId };
  }

  #speaking(claims: JoinClaims, presence: ChatPresence): Promise<Speaking> {
    const key = `${claims.sub}\n${claims.room}\n${presence}`;
    const now = Date.now();
    const reused = this.#speakers.get(key);
    if (reused && reused.until > now) return reused.speaking;
    if (this.#speakers.size >= 10_000)
      for (const [k, v] of this.#speakers) if (v.until <= now) this.#speakers.delete(k);
    const speaking = this.#load(claims, presence);
    this.#speakers.set(key, { until: now + SPEAKER_REUSE_MS, speaking });
    // A refusal is not kept: the next request asks again.
    speaking.catch(() => this.#speakers.get(key)?.speaking === speaking && this.#speakers.delete(key));
    return speaking;
  }

  async #load(claims: JoinClaims, presence: ChatPresence): Promise<Speaking> {
    const room = await this.#room(claims.room);
    const who = await this.#actor(claims, presence, room);
    const repo = this.messaging.forActor(who);
    const { id } = await mapped(() => repo.roomConversation(room.appointmentId));
    return { who, repo, conversationId: id };
  }

  async #actor(claims: JoinClaims, presence: ChatPresence, room: RoomFacts): Promise<ChatActor> {
    const guestId = guestIdOf(claims.sub);
    if (guestId) return { kind: 'guest', guestId, appointmentId: room.appointmentId, presence };
    const [user] = await this.db.select({ role: users.role }).from(users).where(eq(users.id, claims.sub));
    if (!user) throw new SignalingError('not_allowed', 'this join link has no account behind it');
    const memberships = await this.db
      .select({ clinicId: clinicMembers.clinicId })
      .from(clinicMembers)
      .where(eq(clinicMembers.userId, claims.sub));
    return {
      kind: 'user',
      presence,
      actor: {
        userId: claims.sub,
        role: user.role,
        // Audit entries name the room the speaker spoke from: a join token has no sign-in session.
        sessionId: `room:${claims.room}`,
        clinicIds: memberships.map((m) => m.clinicId),
        ...(user.role === 'guardian' ? { onBehalfOf: room.patientId } : {}),
      },
    };
  }

  async #room(roomId: string): Promise<RoomFacts> {
    const known = this.#rooms.get(roomId);
    if (known) return known;
    const [row] = await this.db
      .select({ appointmentId: consultationRooms.appointmentId, patientId: appointments.patientId })
      .from(consultationRooms)
      .innerJoin(appointments, eq(appointments.id, consultationRooms.appointmentId))
      .where(eq(consultationRooms.roomId, roomId));
    if (!row) throw new SignalingError('not_found', 'this room has no conversation');
    // A room id never moves to another appointment; the cache only bounds itself.
    if (this.#rooms.size > 10_000) this.#rooms.clear();
    this.#rooms.set(roomId, row);
    return row;
  }
}
