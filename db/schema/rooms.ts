import { pgTable, text, timestamp, index } from 'drizzle-orm/pg-core';

// Room ids are opaque random strings: never names, appointment data or PHI.
export const rooms = pgTable(
  'rooms',
  {
    id: text('id').primaryKey(),
    nodeId: text('node_id').notNull(),
    startedAt: timestamp('started_at', { withTimezone: true }).notNull().defaultNow(),
    endedAt: timestamp('ended_at', { withTimezone: true }),
    endReason: text('end_reason'),
  },
  (t) => [index('rooms_open_idx').on(t.endedAt)],
);
