import { randomUUID } from 'node:crypto';
import type { Tx } from '../../db/client.ts';
import { WEBHOOK_EVENTS, webhookOutbox, type WebhookEvent } from '../../db/schema/index.ts';

export { WEBHOOK_EVENTS, type WebhookEvent };

/** What an endpoint may subscribe to: an event name, or every event of a family (`appointment.*`). */
export const WEBHOOK_FAMILIES = [...new Set(WEBHOOK_EVENTS.map((e) => `${e.split('.')[0]}.*`))];
export const WEBHOOK_SUBSCRIPTIONS: readonly string[] = [...WEBHOOK_EVENTS, ...WEBHOOK_FAMILIES];

export const isSubscription = (s: string) => WEBHOOK_SUBSCRIPTIONS.includes(s);

/** Whether an endpoint subscribed to `subscriptions` receives `event`. */
export function subscribes(subscriptions: readonly string[], event: WebhookEvent): boolean {
  const family = `${event.split('.')[0]}.*`;
  return subscriptions.includes(event) || subscriptions.includes(family);
}

/**
 * Ids only: a receiver fetches what it needs through the API it is authorised for. Every event
 * names the appointment it concerns (the key an endpoint that opted into PHI is enriched by).
 */
export type OutboxPayload = { appointmentId: string } & Record<string, string | number>;

export type OutboxRow = typeof webhookOutbox.$inferInsert;

/** The outbox row announcing `event`, for a caller that inserts it in its own statement (batched writes). */
export function outboxRow(
  clinicId: string,
  event: WebhookEvent,
  payload: OutboxPayload,
  at?: Date,
): OutboxRow {
  return { id: randomUUID(), clinicId, event, payload, ...(at ? { createdAt: at } : {}) };
}

/** Writes the event into the outbox inside the transaction of the change it announces. */
export async function announce(
  tx: Tx,
  clinicId: string,
  event: WebhookEvent,
  payload: OutboxPayload,
  at?: Date,
): Promise<void> {
  await tx.insert(webhookOutbox).values(outboxRow(clinicId, event, payload, at));
}
