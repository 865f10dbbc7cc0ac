import { errors, jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';
import { USER_ROLES } from '../../db/schema/index.ts';
import { ProblemError } from '../api/errors.ts';
import { PROBLEM } from '../api/problem-codes.ts';
import type { ChatActor } from '../messaging/types.ts';
import type { FileActor } from './file-actor.ts';

const AUDIENCE = 'carecall.room-files';
/** Long enough for one tus request to start; the room page asks for a fresh grant before each request. */
export const ROOM_FILE_GRANT_TTL_SECONDS = 120;

/** The speaker as a grant (and a room download link) carries it: enough to decide again without the socket. */
export const roomSpeakerClaims = z.discriminatedUnion('k', [
  z.object({
    k: z.literal('user'),
    sub: z.string().min(1).max(128),
    role: z.enum(USER_ROLES),
    sid: z.string().min(1).max(200),
    cl: z.array(z.string().max(128)).max(100),
    obo: z.string().max(128).optional(),
  }),
  z.object({ k: z.literal('guest'), sub: z.string().min(1).max(128), apt: z.string().min(1).max(128) }),
]);
export type RoomSpeakerClaims = z.infer<typeof roomSpeakerClaims>;

export function speakerClaims(who: ChatActor): RoomSpeakerClaims {
  if (who.kind === 'guest') return { k: 'guest', sub: who.guestId, apt: who.appointmentId };
  const a = who.actor;
  return {
    k: 'user',
    sub: a.userId,
    role: a.role,
    sid: a.sessionId,
    cl: [...a.clinicIds],
    ...(a.onBehalfOf ? { obo: a.onBehalfOf } : {}),
  };
}

/** Back to a speaker, as admitted (grants are only issued to admitted participants); the admission's state decides later. */
export function speakerOf(c: RoomSpeakerClaims): ChatActor {
  if (c.k === 'guest') return { kind: 'guest', guestId: c.sub, appointmentId: c.apt, presence: 'admitted' };
  return {
    kind: 'user',
    presence: 'admitted',
    actor: {
      userId: c.sub,
      role: c.role,
      sessionId: c.sid,
      clinicIds: c.cl,
      ...(c.obo ? { onBehalfOf: c.obo } : {}),
    },
  };
}

/**
 * Room file grants: a signed token (HS256 under a key derived for this purpose only) naming one
 * room conversation, one admitted speaker and the admission it was issued in, valid for a short
 * while (clients ask for a fresh one before each upload request and each link). Every use is
 * decided again by the chat rules, with the speaker admitted only while that admission is open
 * (a participant who left or was removed is not; an expired or revoked guest is refused), and audited.
 */
export class RoomFileGrants {
  readonly #key: Uint8Array;

  constructor(
    key: Uint8Array,
    readonly ttlSeconds: number,
  ) {
    this.#key = key;
  }

  async mint(
    who: ChatActor,
    conversationId: string,
    admissionId: string,
  ): Promise<{ token: string; expiresAt: Date }> {
    const exp = Math.floor(Date.now() / 1000) + this.ttlSeconds;
    const token = await new SignJWT({ cid: conversationId, adm: admissionId, who: speakerClaims(who) })
      .setProtectedHeader({ alg: 'HS256' })
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(exp)
      .sign(this.#key);
    return { token, expiresAt: new Date(exp * 1000) };
  }

  async verify(token: string): Promise<Extract<FileActor, { kind: 'room' }>> {
    try {
      const { payload } = await jwtVerify(token, this.#key, { algorithms: ['HS256'], audience: AUDIENCE });
      const who = roomSpeakerClaims.safeParse(payload.who);
      if (!who.success || typeof payload.cid !== 'string' || typeof payload.adm !== 'string')
        throw invalid('the room file grant is malformed');
      return {
        kind: 'room',
        who: speakerOf(who.data),
        conversationId: payload.cid,
        admissionId: payload.adm,
      };
    } catch (err) {
      if (err instanceof ProblemError) throw err;
      if (err instanceof errors.JWTExpired)
        throw invalid('the room file grant has expired: ask for a new one');
      throw invalid('the room file grant is not valid');
    }
  }
}

const invalid = (detail: string) => new ProblemError(401, PROBLEM.tokenInvalid, detail);
