import { customType, integer, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/** Binary column: Uint8Array in, Uint8Array (a Buffer on postgres-js) out, on both engines. */
export const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({
  dataType: () => 'bytea',
  fromDriver: (value) => (value instanceof Uint8Array ? value : new Uint8Array(value as ArrayLike<number>)),
});

/**
 * Envelope encryption: one data key (DEK) per scope (a conversation, a record), stored only wrapped
 * by the key-encryption key (KEK) of `kek_version`, which lives in configuration, never here.
 * Re-wrapping under a new KEK version changes `wrapped_key` and `kek_version`, never the DEK, so
 * everything sealed with it stays readable. Scopes are ids, never names (no PHI).
 */
export const dataKeys = pgTable('data_keys', {
  id: text('id').primaryKey(),
  scope: text('scope').notNull().unique(),
  kekVersion: integer('kek_version').notNull(),
  wrappedKey: bytea('wrapped_key').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
});
