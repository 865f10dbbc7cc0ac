import { and, asc, eq, gt, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { dispatchOffers, dispatchRequests } from '../../db/schema/index.ts';
import { ProblemError } from '../api/errors.ts';
import type { Policy } from '../policy/policy.ts';
import type { Actor } from '../policy/types.ts';
import { retryOnDeadlock } from './sql-state.ts';
import { PROBLEM } from '../api/problem-codes.ts';

export type DeclineDeps = { db: Db; policy: Policy; now: () => Date };

/**
 * A doctor turns down an urgent consult whose turn has come. Their offer becomes 'declined' and
 * the schedule moves up: the next doctor still waiting gets the offer now rather than at the next
 * interval, everyone after them (and the expiry) by the same amount, so each later doctor keeps a
 * full interval. When nobody is left the request is 'exhausted', for the operator to see and act on.
 *
 * All in one transaction under a lock on the request row. Accept, the worker's expiry and other
 * declines change that row first too, so the offers and expiry cannot move while we read them.
 */
export async function declineOffer(
  d: DeclineDeps,
  actor: Actor,
  requestId: string,
  reason: string | undefined,
) {
  const { db, policy } = d;
  const [request] = await db
    .select({ clinicId: dispatchRequests.clinicId, patientId: dispatchRequests.patientId })
    .from(dispatchRequests)
    .where(eq(dispatchRequests.id, requestId));
  if (!request) throw new ProblemError(404, PROBLEM.notFound, 'no such dispatch request');
  // Everyone on the list may answer for their own offer; whether it is their turn yet is a state
  // question (409 below), not a permission one. The reason goes to the audit log only.
  const listed = await db
    .select({ doctorId: dispatchOffers.doctorId })
    .from(dispatchOffers)
    .where(eq(dispatchOffers.requestId, requestId));
  const offeredDoctorIds = listed.map((o) => o.doctorId);
  await policy.require(
    actor,
    'dispatch.respond',
    {
      type: 'dispatch_offer',
      requestId,
      clinicId: request.clinicId,
      patientId: request.patientId,
      offeredDoctorIds,
    },
    { reason: reason ? `declined: ${reason}` : 'declined' },
  );
  const now = d.now();
  await retryOnDeadlock(() =>
    db.transaction(async (tx) => {
      const [locked] = await tx
        .select({ status: dispatchRequests.status, expiresAt: dispatchRequests.expiresAt })
        .from(dispatchRequests)
        .where(eq(dispatchRequests.id, requestId))
        .for('update');
      const offers = await tx
        .select({
          doctorId: dispatchOffers.doctorId,
          offeredAt: dispatchOffers.offeredAt,
          status: dispatchOffers.status,
        })
        .from(dispatchOffers)
        .where(eq(dispatchOffers.requestId, requestId))
        .orderBy(asc(dispatchOffers.position));
      const mine = offers.find((o) => o.doctorId === actor.userId)!;
      if (mine.status === 'declined')
        throw new ProblemError(409, PROBLEM.offerAlreadyDeclined, 'you already declined this consult');
      if (locked!.status !== 'open' || locked!.expiresAt <= now)
        throw new ProblemError(
          409,
          PROBLEM.dispatchClosed,
          'this consult was already taken, has expired or was closed',
        );
      if (mine.offeredAt > now)
        throw new ProblemError(409, PROBLEM.offerNotOpenYet, 'this consult has not been offered to you yet');
      await tx
        .update(dispatchOffers)
        .set({ status: 'declined', respondedAt: now })
        .where(and(eq(dispatchOffers.requestId, requestId), eq(dispatchOffers.doctorId, actor.userId)));
      const others = offers.filter((o) => o.status === 'pending' && o.doctorId !== actor.userId);
      if (!others.length) {
        await tx
          .update(dispatchRequests)
          .set({ status: 'exhausted' })
          .where(eq(dispatchRequests.id, requestId));
        return;
      }
      const next = others.find((o) => o.offeredAt > now);
      if (!next) return; // everyone left already has it
      const skip = sql`(${next.offeredAt.getTime() - now.getTime()}::integer * interval '1 millisecond')`;
      await tx
        .update(dispatchOffers)
        .set({ offeredAt: sql`${dispatchOffers.offeredAt} - ${skip}` })
        .where(
          and(
            eq(dispatchOffers.requestId, requestId),
            eq(dispatchOffers.status, 'pending'),
            gt(dispatchOffers.offeredAt, now),
          ),
        );
      await tx
        .update(dispatchRequests)
        .set({ expiresAt: sql`${dispatchRequests.expiresAt} - ${skip}` })
        .where(eq(dispatchRequests.id, requestId));
    }),
  );
  return { requestId, doctorId: actor.userId, status: 'declined' as const, respondedAt: now.toISOString() };
}
