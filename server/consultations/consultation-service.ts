import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { and, eq, gt, isNull } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.ts';
import type { AuditEntry, AuditLog } from '../audit/audit-log.ts';
import {
  consultationGuests,
  consultationRooms,
  consultTypes,
  users,
  type GUEST_KINDS,
} from '../../db/schema/index.ts';
import type { JoinClaims } from '../../signaling/protocol/index.ts';
import { ProblemError } from '../api/errors.ts';
import type { JoinTokenIssuer } from '../media/join-tokens.ts';
import type { Policy } from '../policy/policy.ts';
import type { Actor } from '../policy/types.ts';
import { appointmentResource, type AppointmentRow } from '../scheduling/appointment-facts.ts';
import { guestSub, JOIN_CLOSES_AFTER_MS, JOIN_OPENS_BEFORE_MS, JOINABLE_STATUSES } from './join-window.ts';
import { PROBLEM } from '../api/problem-codes.ts';

export type JoinTicket = { token: string; roomId: string; expiresAt: string; path: string };
export type GuestInvite = {
  id: string;
  kind: (typeof GUEST_KINDS)[number];
  displayName: string;
  expiresAt: string;
  link: string;
};

type Deps = {
  db: Db;
  policy: Policy;
  audit: AuditLog;
  issuer: JoinTokenIssuer;
  now: () => Date;
  publicUrl: () => string;
  /** Told when a guest is revoked, so the guest's open sockets are closed (not only the link). */
  grants?: { guestRevoked(appointmentId: string, guestId: string): Promise<void> } | undefined;
};

const hashKey = (key: string) => createHash('sha256').update(key).digest('hex');

/**
 * Join tokens for video consultations: only the people of an appointment (the patient or their
 * guardian acting for them, and the assigned doctor) and the guests the doctor invited, only while
 * the appointment is joinable, each token bound to the appointment's own opaque room.
 */
export class ConsultationService {
  constructor(private readonly deps: Deps) {}

  async joinToken(actor: Actor, appointmentId: string): Promise<JoinTicket> {
    const { row, resource } = await appointmentResource(this.deps.db, appointmentId);
    const { entry } = await this.deps.policy.requireDeferred(actor, 'consultation.join', resource);
    const closesAt = this.#assertJoinable(row);
    const roomId = await this.#audited(entry, (tx) => this.#roomOf(tx, appointmentId));
    const isDoctor = actor.role === 'doctor';
    const claims: JoinClaims = {
      sub: actor.userId,
      room: roomId,
      role: isDoctor ? 'doctor' : 'patient',
      perms: isDoctor ? ['publish', 'subscribe', 'admit', 'moderate'] : ['publish', 'subscribe'],
      name: await this.#displayName(actor.userId),
      cap: await this.#roomCapacity(row.consultTypeId),
    };
    return this.#ticket(claims, closesAt);
  }

  async inviteGuest(
    actor: Actor,
    appointmentId: string,
    input: { kind: GuestInvite['kind']; displayName: string },
  ): Promise<GuestInvite> {
    const { row, resource } = await appointmentResource(this.deps.db, appointmentId);
    const { entry } = await this.deps.policy.requireDeferred(actor, 'consultation.guests.manage', resource);
    const expiresAt = this.#assertJoinable(row, { allowBeforeWindow: true });
    const key = randomBytes(24).toString('base64url');
    const id = randomUUID();
    await this.#audited(entry, (tx) =>
      tx.insert(consultationGuests).values({
        id,
        appointmentId,
        invitedBy: actor.userId,
        kind: input.kind,
        displayName: input.displayName,
        keyHash: hashKey(key),
        expiresAt,
      }),
    );
    return {
      id,
      kind: input.kind,
      displayName: input.displayName,
      expiresAt: expiresAt.toISOString(),
      link: `${this.deps.publicUrl()}/guest/${key}`,
    };
  }

  async revokeGuest(actor: Actor, appointmentId: string, guestId: string) {
    const { resource } = await appointmentResource(this.deps.db, appointmentId);
    const { entry } = await this.deps.policy.requireDeferred(actor, 'consultation.guests.manage', resource);
    await this.#audited(entry, async (tx) => {
      const revoked = await tx
        .update(consultationGuests)
        .set({ revokedAt: this.deps.now() })
        .where(
          and(
            eq(consultationGuests.id, guestId),
            eq(consultationGuests.appointmentId, appointmentId),
            isNull(consultationGuests.revokedAt),
          ),
        )
        .returning({ id: consultationGuests.id });
      if (!revoked.length) throw new ProblemError(404, PROBLEM.notFound, 'no such active guest invitation');
    });
    await this.deps.grants?.guestRevoked(appointmentId, guestId);
  }

  /** A guest link: unknown, revoked and expired keys all look the same (404). */
  async redeemGuest(key: string): Promise<JoinTicket> {
    const now = this.deps.now();
    const [guest] = await this.deps.db
      .select()
      .from(consultationGuests)
      .where(
        and(
          eq(consultationGuests.keyHash, hashKey(key)),
          isNull(consultationGuests.revokedAt),
          gt(consultationGuests.expiresAt, now),
        ),
      );
    if (!guest) throw new ProblemError(404, PROBLEM.notFound, 'this invitation link is not valid (any more)');
    const { row } = await appointmentResource(this.deps.db, guest.appointmentId);
    const closesAt = this.#assertJoinable(row);
    // Guests knock like patients: the doctor admits them from the waiting room.
    return this.#ticket(
      {
        sub: guestSub(guest.id),
        room: await this.#roomOf(this.deps.db, guest.appointmentId),
        role: 'guest',
        perms: ['publish', 'subscribe'],
        name: guest.displayName,
        cap: await this.#roomCapacity(row.consultTypeId),
      },
      closesAt,
    );
  }

  #assertJoinable(row: AppointmentRow, opts: { allowBeforeWindow?: boolean } = {}): Date {
    if (!JOINABLE_STATUSES.has(row.status)) {
      throw new ProblemError(
        409,
        PROBLEM.notJoinable,
        `the appointment is ${row.status.replace('_', ' ')}, not open for the call`,
      );
    }
    const now = this.deps.now().getTime();
    const opens = row.startsAt.getTime() - JOIN_OPENS_BEFORE_MS;
    const closes = new Date(row.endsAt.getTime() + JOIN_CLOSES_AFTER_MS);
    if (now > closes.getTime())
      throw new ProblemError(409, PROBLEM.notJoinable, 'the consultation time is over');
    if (now < opens && !opts.allowBeforeWindow) {
      throw new ProblemError(
        409,
        PROBLEM.notJoinable,
        `the room opens ${JOIN_OPENS_BEFORE_MS / 60_000} minutes before the appointment`,
      );
    }
    return closes;
  }

  async #roomOf(db: Db | Tx, appointmentId: string): Promise<string> {
    const roomId = randomBytes(12).toString('base64url');
    await db.insert(consultationRooms).values({ appointmentId, roomId }).onConflictDoNothing();
    const [room] = await db
      .select()
      .from(consultationRooms)
      .where(eq(consultationRooms.appointmentId, appointmentId));
    return room!.roomId;
  }

  /** The change and the allowed decision's audit entry commit together (a denial was audited by the policy already). */
  #audited<T>(entry: AuditEntry | undefined, work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.deps.db.transaction(async (tx) => {
      const result = await work(tx);
      if (entry) await this.deps.audit.appendWithin(tx, [entry]);
      return result;
    });
  }

  /** The room admits as many as the consultation's type says (read when each token is minted). */
  async #roomCapacity(consultTypeId: string): Promise<number> {
    const [t] = await this.deps.db
      .select({ roomCapacity: consultTypes.roomCapacity })
      .from(consultTypes)
      .where(eq(consultTypes.id, consultTypeId));
    return t!.roomCapacity;
  }

  async #displayName(userId: string): Promise<string | undefined> {
    const [u] = await this.deps.db
      .select({ name: users.displayName })
      .from(users)
      .where(eq(users.id, userId));
    return u?.name.slice(0, 64);
  }

  async #ticket(claims: JoinClaims, closesAt: Date): Promise<JoinTicket> {
    // Valid until the room closes, so a client can still rejoin after a long outage mid-call.
    const ttl = Math.max(60, Math.ceil((closesAt.getTime() - this.deps.now().getTime()) / 1000));
    const token = await this.deps.issuer.mint(claims, ttl);
    return {
      token,
      roomId: claims.room,
      expiresAt: new Date(Date.now() + ttl * 1000).toISOString(),
      path: `/app/#token=${encodeURIComponent(token)}`,
    };
  }
}
