import { errors, jwtVerify, SignJWT } from 'jose';
import { ProblemError } from '../api/errors.ts';
import { PROBLEM } from '../api/problem-codes.ts';
import type { FileActor } from './file-actor.ts';
import { roomSpeakerClaims, speakerClaims, speakerOf } from './room-file-grants.ts';

const AUDIENCE = 'carecall.file-download';

export type LinkClaims = { userId: string; sessionId: string; fileId: string; onBehalfOf?: string };
/** A link asked for with a room file grant: it names the room speaker and conversation, as the grant did. */
export type RoomLinkClaims = { fileId: string; room: Extract<FileActor, { kind: 'room' }> };

/**
 * Short-lived download links: a signed token (HS256 under a key derived for this purpose only)
 * bound to one file, one user and that user's session. A link works without an Authorization
 * header (a browser download cannot send one), so the download re-checks the session and the
 * membership; a request that does carry a bearer must be the link's own user.
 */
export class DownloadLinks {
  readonly #key: Uint8Array;

  constructor(
    key: Uint8Array,
    readonly ttlSeconds: number,
  ) {
    this.#key = key;
  }

  async mint(c: LinkClaims): Promise<{ token: string; expiresAt: Date }> {
    const exp = Math.floor(Date.now() / 1000) + this.ttlSeconds;
    const token = await new SignJWT({
      fid: c.fileId,
      sid: c.sessionId,
      ...(c.onBehalfOf ? { obo: c.onBehalfOf } : {}),
    })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(c.userId)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(exp)
      .sign(this.#key);
    return { token, expiresAt: new Date(exp * 1000) };
  }

  async mintRoom(c: RoomLinkClaims): Promise<{ token: string; expiresAt: Date }> {
    const exp = Math.floor(Date.now() / 1000) + this.ttlSeconds;
    const token = await new SignJWT({
      fid: c.fileId,
      cid: c.room.conversationId,
      adm: c.room.admissionId,
      who: speakerClaims(c.room.who),
    })
      .setProtectedHeader({ alg: 'HS256' })
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(exp)
      .sign(this.#key);
    return { token, expiresAt: new Date(exp * 1000) };
  }

  async verify(token: unknown, fileId: string): Promise<LinkClaims | RoomLinkClaims> {
    if (typeof token !== 'string' || token.length > 2000) throw invalid('the link has no valid token');
    try {
      const { payload } = await jwtVerify(token, this.#key, { algorithms: ['HS256'], audience: AUDIENCE });
      const { sub, sid, fid, obo, cid, adm, who } = payload as Record<string, unknown>;
      if (who !== undefined) {
        const speaker = roomSpeakerClaims.safeParse(who);
        if (!speaker.success || typeof cid !== 'string' || typeof fid !== 'string' || typeof adm !== 'string')
          throw invalid('the link is malformed');
        if (fid !== fileId) throw invalid('the link is for another file');
        const room = {
          kind: 'room' as const,
          who: speakerOf(speaker.data),
          conversationId: cid,
          admissionId: adm,
        };
        return { fileId: fid, room };
      }
      if (typeof sub !== 'string' || typeof sid !== 'string' || typeof fid !== 'string')
        throw invalid('the link is malformed');
      if (fid !== fileId) throw invalid('the link is for another file');
      return {
        userId: sub,
        sessionId: sid,
        fileId: fid,
        ...(typeof obo === 'string' ? { onBehalfOf: obo } : {}),
      };
    } catch (err) {
      if (err instanceof ProblemError) throw err;
      if (err instanceof errors.JWTExpired) throw invalid('the link has expired: ask for a new one');
      throw invalid('the link is not valid');
    }
  }
}

export const invalid = (detail: string) => new ProblemError(403, PROBLEM.fileLinkInvalid, detail);
