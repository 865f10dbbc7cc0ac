import { and, eq, gt, inArray, isNotNull, or } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Db } from '../../db/client.ts';
import {
  appointments,
  consultationGuests,
  consultationRooms,
  type AppointmentStatus,
} from '../../db/schema/index.ts';
import type { JoinGrantCheck, Revocation } from '../../signaling/join-grants.ts';
import type { JoinClaims, RevocationReason } from '../../signaling/protocol/index.ts';
import type { ClusterBus } from '../cluster/cluster-bus.ts';
import type { RevocationMessage as Message } from './revocation-message.ts';
import {
  guestIdOf,
  guestSub,
  JOIN_CLOSES_AFTER_MS,
  JOIN_OPENS_BEFORE_MS,
  JOINABLE_STATUSES,
} from './join-window.ts';

/** Statuses that end a consultation for good: everyone in its room is closed. */
const ENDED: readonly AppointmentStatus[] = ['cancelled', 'no_show'];
/**
 * How long a revocation is remembered for the upgrade gate at least: longer than any join token of
 * a consultation lives (until the end + 30 min as it was when the token was minted).
 */
const REMEMBER_MS = 24 * 3600_000;

/**
 * Whether a join token still stands for its appointment and, for a guest, the invitation. The
 * database answers at join; for the synchronous upgrade gate every node keeps the revocations of
 * the last day in memory, loaded at start and kept current over the bus (each revocation is
 * published once by the node that made it, and applied on every node: closing live participants).
 */
export class JoinGrants implements JoinGrantCheck {
  readonly #revoked = new Map<string, { reason: RevocationReason; until: number }>();
  #onRevoked: (revocation: Revocation) => void = () => {};
  #unsubscribe: (() => Promise<void>) | undefined;

  constructor(private readonly deps: { db: Db; bus: ClusterBus; logger: Logger; now?: () => Date }) {}

  #now() {
    return (this.deps.now ?? (() => new Date()))();
  }

  /** Loads what can still matter, then listens; `onRevoked` closes this node's participants. */
  async start(onRevoked: (revocation: Revocation) => void) {
    this.#onRevoked = onRevoked;
    // A malformed message never gets here: the bus drops it at the edge and logs the channel.
    this.#unsubscribe = await this.deps.bus.subscribe('join-grants', (m) => this.#apply(m));
    await this.#load();
  }

  async stop() {
    await this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  revokedNow(claims: JoinClaims): RevocationReason | undefined {
    const now = Date.now();
    for (const key of [roomKey(claims.room), subKey(claims.room, claims.sub)]) {
      const entry = this.#revoked.get(key);
      if (entry && entry.until > now) return entry.reason;
      if (entry) this.#revoked.delete(key);
    }
    return undefined;
  }

  async check(claims: JoinClaims): Promise<RevocationReason | undefined> {
    const [row] = await this.deps.db
      .select({
        appointmentId: appointments.id,
        status: appointments.status,
        startsAt: appointments.startsAt,
        endsAt: appointments.endsAt,
      })
      .from(consultationRooms)
      .innerJoin(appointments, eq(appointments.id, consultationRooms.appointmentId))
      .where(eq(consultationRooms.roomId, claims.room));
    // Not a consultation's room (the demo room): nothing to check beyond the token.
    if (!row) return undefined;
    if (ENDED.includes(row.status)) return 'consultation_cancelled';
    if (claims.role === 'guest') {
      const guestId = guestIdOf(claims.sub);
      const [guest] = guestId
        ? await this.deps.db
            .select({
              appointmentId: consultationGuests.appointmentId,
              revokedAt: consultationGuests.revokedAt,
            })
            .from(consultationGuests)
            .where(eq(consultationGuests.id, guestId))
        : [];
      if (!guest || guest.revokedAt || guest.appointmentId !== row.appointmentId) return 'invitation_revoked';
    }
    const now = this.#now().getTime();
    const open =
      row.startsAt.getTime() - JOIN_OPENS_BEFORE_MS <= now &&
      now <= row.endsAt.getTime() + JOIN_CLOSES_AFTER_MS;
    if (!JOINABLE_STATUSES.has(row.status) || !open) return 'consultation_not_open';
    return undefined;
  }

  /** After an appointment's status change committed: cancelled and no-show end its room. */
  async statusChanged(appointmentId: string, to: AppointmentStatus) {
    if (!ENDED.includes(to)) return;
    await this.#announce(appointmentId, (room) => ({
      room: room.roomId,
      reason: 'consultation_cancelled',
      until: this.#until(room.endsAt),
    }));
  }

  /** After a guest invitation was revoked (committed): that guest's sockets are closed. */
  async guestRevoked(appointmentId: string, guestId: string) {
    await this.#announce(appointmentId, (room) => ({
      room: room.roomId,
      sub: guestSub(guestId),
      reason: 'invitation_revoked',
      until: this.#until(room.endsAt),
    }));
  }

  /**
   * The change itself is committed: a failure here must not fail the request that made it. Joins
   * still ask the database, and the periodic re-check closes live participants.
   */
  async #announce(appointmentId: string, build: (room: { roomId: string; endsAt: Date }) => Message) {
    try {
      const room = await this.#roomOf(appointmentId);
      if (room) await this.#publish(build(room));
    } catch (err) {
      this.deps.logger.warn(
        { err: (err as Error).message, appointmentId },
        'join-grant revocation not announced',
      );
    }
  }

  async #publish(m: Message) {
    // Applied here at once; the bus brings it to the other nodes (and back here: idempotent).
    this.#apply(m);
    await this.deps.bus
      .publish('join-grants', m)
      .catch((err: Error) =>
        this.deps.logger.warn(
          { err: err.message },
          'join-grant revocation not published (other nodes refuse at join)',
        ),
      );
  }

  #apply(m: Message) {
    const key = m.sub === undefined ? roomKey(m.room) : subKey(m.room, m.sub);
    const known = this.#revoked.get(key);
    if (!known && this.#revoked.size % 256 === 255) this.#prune();
    this.#revoked.set(key, { reason: m.reason, until: Math.max(m.until, known?.until ?? 0) });
    this.#onRevoked({ room: m.room, sub: m.sub, reason: m.reason });
  }

  /** Entries nobody asks about again would otherwise stay for the life of the process. */
  #prune() {
    const now = Date.now();
    for (const [key, entry] of this.#revoked) if (entry.until <= now) this.#revoked.delete(key);
  }

  #until(endsAt: Date) {
    return Math.max(endsAt.getTime() + JOIN_CLOSES_AFTER_MS, Date.now() + REMEMBER_MS);
  }

  async #roomOf(appointmentId: string) {
    const [row] = await this.deps.db
      .select({ roomId: consultationRooms.roomId, endsAt: appointments.endsAt })
      .from(consultationRooms)
      .innerJoin(appointments, eq(appointments.id, consultationRooms.appointmentId))
      .where(eq(consultationRooms.appointmentId, appointmentId));
    return row;
  }

  /** The revocations whose tokens may still be alive: ended appointments and revoked guests of the last day. */
  async #load() {
    const since = new Date(Date.now() - REMEMBER_MS);
    const recent = (
      endsAt: typeof appointments.endsAt,
      changed: typeof appointments.updatedAt | typeof consultationGuests.revokedAt,
    ) => or(gt(endsAt, new Date(Date.now() - JOIN_CLOSES_AFTER_MS)), gt(changed, since));
    const rooms = await this.deps.db
      .select({ roomId: consultationRooms.roomId, endsAt: appointments.endsAt })
      .from(consultationRooms)
      .innerJoin(appointments, eq(appointments.id, consultationRooms.appointmentId))
      .where(
        and(inArray(appointments.status, [...ENDED]), recent(appointments.endsAt, appointments.updatedAt)),
      );
    for (const r of rooms)
      this.#revoked.set(roomKey(r.roomId), {
        reason: 'consultation_cancelled',
        until: this.#until(r.endsAt),
      });
    const guests = await this.deps.db
      .select({
        guestId: consultationGuests.id,
        roomId: consultationRooms.roomId,
        endsAt: appointments.endsAt,
      })
      .from(consultationGuests)
      .innerJoin(consultationRooms, eq(consultationRooms.appointmentId, consultationGuests.appointmentId))
      .innerJoin(appointments, eq(appointments.id, consultationGuests.appointmentId))
      .where(
        and(
          isNotNull(consultationGuests.revokedAt),
          recent(appointments.endsAt, consultationGuests.revokedAt),
        ),
      );
    for (const g of guests)
      this.#revoked.set(subKey(g.roomId, guestSub(g.guestId)), {
        reason: 'invitation_revoked',
        until: this.#until(g.endsAt),
      });
    this.deps.logger.info({ rooms: rooms.length, guests: guests.length }, 'join-grant revocations loaded');
  }
}

const roomKey = (room: string) => `room:${room}`;
const subKey = (room: string, sub: string) => `sub:${room}:${sub}`;
