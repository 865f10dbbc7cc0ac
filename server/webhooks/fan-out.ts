import { randomUUID } from 'node:crypto';
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { jsonRows } from '../../db/json-rows.ts';
import { rowsOf } from '../../db/rows.ts';
import {
  webhookDeliveries,
  webhookEndpoints,
  webhookOutbox,
  type WebhookEvent,
} from '../../db/schema/index.ts';
import { subscribes } from './catalogue.ts';

/** A Standard Webhooks message id: the `webhook-id` header of every attempt of one delivery. */
export const newDeliveryId = () => `msg_${randomUUID().replace(/-/g, '')}`;

/**
 * Turns outbox events into one delivery per subscribed, enabled endpoint, in one short transaction:
 * the events are claimed with FOR UPDATE SKIP LOCKED (workers on other nodes take the next ones
 * instead of waiting), their deliveries inserted and the events marked fanned out before the locks
 * are released, so each event is fanned out once however many workers run. Nothing slow happens
 * here; the HTTP calls run later, on deliveries claimed with a lease.
 */
export async function fanOut(
  db: Db,
  now: Date,
  limit: number,
): Promise<{ events: number; deliveries: number }> {
  return db.transaction(async (tx) => {
    const events = rowsOf<{ id: string; clinic_id: string; event: WebhookEvent }>(
      await tx.execute(sql`
        select ${webhookOutbox.id} as id, ${webhookOutbox.clinicId} as clinic_id, ${webhookOutbox.event} as event
          from ${webhookOutbox}
         where ${webhookOutbox.deliveredAt} is null
         order by ${webhookOutbox.createdAt}
         limit ${limit}
           for update skip locked`),
    );
    if (events.length === 0) return { events: 0, deliveries: 0 };
    const clinicIds = [...new Set(events.map((e) => e.clinic_id))];
    const endpoints = await tx
      .select({
        id: webhookEndpoints.id,
        clinicId: webhookEndpoints.clinicId,
        events: webhookEndpoints.events,
      })
      .from(webhookEndpoints)
      .where(and(inArray(webhookEndpoints.clinicId, clinicIds), eq(webhookEndpoints.enabled, true)));
    const rows: (typeof webhookDeliveries.$inferInsert)[] = [];
    for (const e of events)
      for (const ep of endpoints)
        if (ep.clinicId === e.clinic_id && subscribes(ep.events, e.event))
          rows.push({
            id: newDeliveryId(),
            outboxId: e.id,
            endpointId: ep.id,
            clinicId: e.clinic_id,
            event: e.event,
            nextAttemptAt: now,
            createdAt: now,
          });
    if (rows.length) {
      const { columns, select } = jsonRows(webhookDeliveries, rows);
      await tx.execute(sql`insert into ${webhookDeliveries} ${columns} ${select} on conflict do nothing`);
    }
    await tx
      .update(webhookOutbox)
      .set({ deliveredAt: now })
      .where(
        inArray(
          webhookOutbox.id,
          events.map((e) => e.id),
        ),
      );
    return { events: events.length, deliveries: rows.length };
  });
}
