import { Hono } from 'hono';
import { z } from 'zod';
import type { OutboxNotificationProvider } from '../notifications/outbox-provider.ts';
import { parseQuery, text } from '../api/validation.ts';

const query = z.object({
  recipient: text({ min: 3, max: 254 }),
  limit: z.coerce.number().int().min(1).max(50).default(10),
});

/**
 * Demo mode only (never mounted otherwise): lets someone trying the demo read the sign-in code
 * that a real deployment would e-mail or text them.
 */
export function devOutboxRoutes(outbox: OutboxNotificationProvider) {
  return new Hono().get('/', async (c) => {
    const q = parseQuery(c, query);
    const messages = await outbox.list({ recipient: q.recipient.toLowerCase(), limit: q.limit });
    return c.json(
      {
        messages: messages.map((m) => ({
          channel: m.channel,
          template: m.template,
          subject: m.subject,
          body: m.body,
          createdAt: m.createdAt,
        })),
      },
      200,
    );
  });
}
