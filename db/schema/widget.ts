import { index, pgTable, primaryKey, text, timestamp, unique } from 'drizzle-orm/pg-core';
import { clinics, users } from './identity.ts';

const ts = (name: string) => timestamp(name, { withTimezone: true });

/**
 * Keys a clinic's own backend uses to call CareCall server to server (minting widget sessions).
 * The secret is shown once at creation; only its sha256 is kept. `prefix` is the public part of the
 * key, so lists and logs can name a key without holding anything that authenticates.
 */
export const clinicApiKeys = pgTable(
  'clinic_api_keys',
  {
    id: text('id').primaryKey(),
    clinicId: text('clinic_id')
      .notNull()
      .references(() => clinics.id),
    prefix: text('prefix').notNull().unique(),
    secretHash: text('secret_hash').notNull(),
    scopes: text('scopes').array().notNull(),
    label: text('label').notNull(),
    createdBy: text('created_by').references(() => users.id),
    createdAt: ts('created_at').notNull().defaultNow(),
    lastUsedAt: ts('last_used_at'),
    revokedAt: ts('revoked_at'),
    revokedBy: text('revoked_by').references(() => users.id),
  },
  (t) => [index('clinic_api_keys_clinic_idx').on(t.clinicId)],
);

/** Which sites may frame a clinic's consultation widget, and how its button looks. */
export const widgetSettings = pgTable('widget_settings', {
  clinicId: text('clinic_id')
    .primaryKey()
    .references(() => clinics.id),
  /** Exact origins (scheme://host[:port]); empty = no site may embed the widget. */
  allowedOrigins: text('allowed_origins').array().notNull(),
  accentColor: text('accent_color'),
  logoText: text('logo_text'),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

/**
 * A clinic's own patient identifier, linked to the CareCall patient it stands for. The identifier
 * is kept only as an HMAC (keyed outside the database): it is the clinic's record number, and this
 * table must not become a readable index of it.
 */
export const widgetPatientLinks = pgTable(
  'widget_patient_links',
  {
    clinicId: text('clinic_id')
      .notNull()
      .references(() => clinics.id),
    externalIdHash: text('external_id_hash').notNull(),
    patientId: text('patient_id')
      .notNull()
      .references(() => users.id),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.clinicId, t.externalIdHash] }),
    unique('widget_patient_links_patient_unique').on(t.clinicId, t.patientId),
  ],
);
