import { sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Db, Tx } from '../../db/client.ts';
import { rowsOf } from '../../db/rows.ts';
import { liveChats, operatorPresence } from '../../db/schema/index.ts';
import type { AuditAction } from '../audit/audit-actions.ts';
import type { AuditEntry, AuditLog } from '../audit/audit-log.ts';
import type { ClusterBus } from '../cluster/cluster-bus.ts';
import type { Messaging } from '../messaging/messaging.ts';
import type { NotificationProvider } from '../notifications/types.ts';
import type { Actor } from '../policy/types.ts';
import { currentContext } from '../request-context.ts';
import { LiveChatDesk } from './desk.ts';
import { LiveChatEvents } from './live-events.ts';
import {
  expireLeases,
  lockClinic,
  queuePositions,
  requeueUnanswered,
  routeQueue,
  routingSettings,
  type Assignment,
} from './routing.ts';

export type LiveChatDeps = {
  db: Db;
  audit: AuditLog;
  messaging: Messaging;
  notifier: NotificationProvider;
  bus: ClusterBus | undefined;
  logger: Logger;
  /** How long an operator's presence holds without a heartbeat. */
  leaseMs: number;
  /** Chat's message size limit: a first message is checked before its chat is created. */
  maxMessageBytes: number;
};

/** Queue places announced after the queue moved: the patients further back learn theirs when they ask. */
const ANNOUNCED_PLACES = 200;

/**
 * Live chat as the rest of the server sees it (services.livechat): a desk bound to one actor
 * (`forActor`) for everything a person does, and the clinic-wide routing the system does on its
 * own (route after a change, sweep for unanswered chats and dead operators). State lives in
 * PostgreSQL only; every change of hands runs under the clinic's routing lock.
 */
export class LiveChat {
  readonly events: LiveChatEvents;

  constructor(readonly deps: LiveChatDeps) {
    this.events = new LiveChatEvents(deps.bus, (err) =>
      deps.logger.warn({ err: { message: (err as Error)?.message } }, 'live chat event publish failed'),
    );
  }

  forActor(actor: Actor): LiveChatDesk {
    return new LiveChatDesk(this, actor);
  }

  /** A transaction holding the clinic's routing lock. */
  withClinic<T>(clinicId: string, work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.deps.db.transaction(async (tx) => {
      await lockClinic(tx, clinicId);
      return work(tx);
    });
  }

  /** Automatic routing of the clinic's queue now (nothing in manual mode); announces what it assigned. */
  async route(clinicId: string, at = new Date()): Promise<Assignment[]> {
    const assigned = await this.withClinic(clinicId, async (tx) => {
      const { mode } = await routingSettings(tx, clinicId);
      if (mode !== 'auto') return [];
      const done = await routeQueue(tx, clinicId, at);
      await this.auditAssignments(tx, clinicId, done, 'livechat.assigned');
      return done;
    });
    if (assigned.length) await this.announceAssigned(clinicId, assigned);
    return assigned;
  }

  /**
   * The periodic pass (every node runs it; the clinic lock makes it safe): expired leases go
   * offline, unanswered chats go back to their place in the queue, the queue is routed again.
   */
  async sweep(at = new Date()): Promise<{ requeued: number; offline: number; assigned: number }> {
    const clinics = rowsOf<{ clinic_id: string }>(
      await this.deps.db.execute(sql`
        select distinct clinic_id from ${liveChats} where status in ('queued', 'assigned')
        union select distinct clinic_id from ${operatorPresence} where status <> 'offline' and lease_expires_at <= ${at.toISOString()}::timestamptz`),
    );
    const totals = { requeued: 0, offline: 0, assigned: 0 };
    for (const { clinic_id: clinicId } of clinics) {
      const outcome = await this.withClinic(clinicId, async (tx) => {
        const offline = await expireLeases(tx, clinicId, at);
        const requeued = await requeueUnanswered(tx, clinicId, at);
        await this.deps.audit.appendWithin(
          tx,
          requeued.map((r) =>
            systemEntry('livechat.requeued', clinicId, r.conversationId, null, 'no_answer'),
          ),
        );
        const { mode } = await routingSettings(tx, clinicId);
        const assigned = mode === 'auto' ? await routeQueue(tx, clinicId, at) : [];
        await this.auditAssignments(tx, clinicId, assigned, 'livechat.assigned');
        return { offline, requeued, assigned };
      });
      for (const r of outcome.requeued) {
        this.events.publish(r.operatorId, { type: 'livechat.requeued', conversationId: r.conversationId });
        this.deps.messaging.membershipChanged([r.operatorId]);
      }
      if (outcome.assigned.length || outcome.requeued.length)
        await this.announceAssigned(clinicId, outcome.assigned);
      totals.requeued += outcome.requeued.length;
      totals.offline += outcome.offline.length;
      totals.assigned += outcome.assigned.length;
    }
    return totals;
  }

  /**
   * Sweeps every intervalMs until the returned stop is called (awaits a sweep under way). A failed
   * sweep is logged; the next one retries, since everything it does is derived from the database.
   */
  startSweeper(intervalMs: number): () => Promise<void> {
    // A sweep slower than the interval is not stacked: the next tick after it ends starts the next one.
    let running: Promise<unknown> | undefined;
    const timer = setInterval(() => {
      if (running) return;
      running = this.sweep()
        .catch((err) =>
          this.deps.logger.warn({ err: { message: (err as Error)?.message } }, 'live chat sweep failed'),
        )
        .finally(() => (running = undefined));
    }, intervalMs);
    timer.unref();
    return async () => {
      clearInterval(timer);
      await running;
    };
  }

  async auditAssignments(tx: Tx, clinicId: string, assigned: readonly Assignment[], action: AuditAction) {
    if (!assigned.length) return;
    await this.deps.audit.appendWithin(
      tx,
      assigned.map((a) => systemEntry(action, clinicId, a.conversationId, a.patientId, null)),
    );
  }

  /** After commit: the holders' sockets start carrying their chats, patients hear who took theirs and where the rest now wait. */
  async announceAssigned(clinicId: string, assigned: readonly Assignment[]): Promise<void> {
    for (const a of assigned) {
      this.deps.messaging.fanOut.publishMembers([a.operatorId], a.conversationId);
      const event = {
        type: 'livechat.assigned' as const,
        conversationId: a.conversationId,
        assigneeId: a.operatorId,
      };
      this.events.publish(a.patientId, event);
      this.events.publish(a.operatorId, event);
    }
    await this.announcePositions(clinicId);
  }

  async announcePositions(clinicId: string): Promise<void> {
    const places = await this.deps.db.transaction((tx) => queuePositions(tx, clinicId, ANNOUNCED_PLACES));
    for (const p of places)
      this.events.publish(p.patientId, {
        type: 'livechat.queue_position',
        conversationId: p.conversationId,
        position: p.position,
      });
  }
}

/** An audit entry of something the router did on its own (no person acted): the request's context if there is one. */
export function systemEntry(
  action: AuditAction,
  clinicId: string,
  conversationId: string,
  patientId: string | null,
  reason: string | null,
): AuditEntry {
  const ctx = currentContext();
  return {
    event: {
      action,
      outcome: 'allowed',
      resourceType: 'live_chat',
      resourceId: conversationId,
      patientId,
      clinicId,
      reason,
    },
    ctx: {
      requestId: ctx?.requestId ?? '',
      ip: ctx?.ip ?? '',
      userAgent: ctx?.userAgent,
      ...ctx,
      ...(ctx?.actorId ? {} : { actorId: 'system:livechat-router' }),
    },
  };
}
