import { sql } from 'drizzle-orm';
import {
  boolean,
  check,
  date,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  timestamp,
} from 'drizzle-orm/pg-core';

// Ids are random UUIDs made in the application (crypto.randomUUID), never derived from PHI.
// Secrets (passwords, refresh tokens, invitation tokens, one-time codes) are stored only as hashes.

export const USER_ROLES = [
  'patient',
  'guardian',
  'doctor',
  'clinic_admin',
  'operator',
  'partner',
  'admin',
] as const;
export type UserRole = (typeof USER_ROLES)[number];
export const MFA_METHODS = ['email', 'sms', 'totp'] as const;
export type MfaMethod = (typeof MFA_METHODS)[number];

const ts = (name: string) => timestamp(name, { withTimezone: true });

export const clinics = pgTable('clinics', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  /** Automatic logoff after this much inactivity for the clinic's members; null = server default. */
  idleTimeoutSeconds: integer('idle_timeout_seconds'),
  createdAt: ts('created_at').notNull().defaultNow(),
});

export const users = pgTable(
  'users',
  {
    id: text('id').primaryKey(),
    role: text('role', { enum: USER_ROLES }).notNull(),
    /** Lower-cased. Null for dependents (minors), who never log in themselves. */
    email: text('email').unique(),
    phone: text('phone'),
    displayName: text('display_name').notNull(),
    dateOfBirth: date('date_of_birth'),
    /** libsodium crypto_pwhash_str (argon2id) string; null for dependents and not-yet-activated staff. */
    passwordHash: text('password_hash'),
    mfaMethod: text('mfa_method', { enum: MFA_METHODS }).notNull().default('email'),
    /** TOTP secret sealed with crypto_secretbox under a key derived from the auth key. */
    totpSecretSealed: text('totp_secret_sealed'),
    totpPendingSealed: text('totp_pending_sealed'),
    /** Last accepted TOTP time step: a code is accepted once, not replayed within its window. */
    totpLastCounter: integer('totp_last_counter'),
    /** The person's own IANA zone (patients, guardians): reminders show times in it. Null = not set. */
    timeZone: text('time_zone'),
    disabledAt: ts('disabled_at'),
    /** Set on an account created with a one-time password (admin bootstrap): only a password change is allowed until then. */
    passwordChangeRequired: boolean('password_change_required').notNull().default(false),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    check(
      'users_role_check',
      sql`${t.role} in ('patient','guardian','doctor','clinic_admin','operator','partner','admin')`,
    ),
  ],
);

export const clinicMembers = pgTable(
  'clinic_members',
  {
    clinicId: text('clinic_id')
      .notNull()
      .references(() => clinics.id),
    userId: text('user_id')
      .notNull()
      .references(() => users.id),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.clinicId, t.userId] }), index('clinic_members_user_idx').on(t.userId)],
);

/** The treating relationship that lets a doctor see a patient's record without break-glass. */
export const careRelationships = pgTable(
  'care_relationships',
  {
    clinicId: text('clinic_id')
      .notNull()
      .references(() => clinics.id),
    doctorId: text('doctor_id')
      .notNull()
      .references(() => users.id),
    patientId: text('patient_id')
      .notNull()
      .references(() => users.id),
    createdBy: text('created_by')
      .notNull()
      .references(() => users.id),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.clinicId, t.doctorId, t.patientId] }),
    index('care_relationships_patient_idx').on(t.patientId),
  ],
);

export const guardianships = pgTable(
  'guardianships',
  {
    guardianId: text('guardian_id')
      .notNull()
      .references(() => users.id),
    dependentId: text('dependent_id')
      .notNull()
      .references(() => users.id),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.guardianId, t.dependentId] }),
    index('guardianships_dependent_idx').on(t.dependentId),
  ],
);

export const invitations = pgTable(
  'invitations',
  {
    id: text('id').primaryKey(),
    clinicId: text('clinic_id')
      .notNull()
      .references(() => clinics.id),
    role: text('role', { enum: USER_ROLES }).notNull(),
    email: text('email').notNull(),
    tokenHash: text('token_hash').notNull().unique(),
    createdBy: text('created_by').references(() => users.id),
    expiresAt: ts('expires_at').notNull(),
    usedAt: ts('used_at'),
    usedBy: text('used_by').references(() => users.id),
    revokedAt: ts('revoked_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [index('invitations_clinic_idx').on(t.clinicId)],
);

export const sessions = pgTable(
  'sessions',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id),
    createdAt: ts('created_at').notNull().defaultNow(),
    lastSeenAt: ts('last_seen_at').notNull().defaultNow(),
    expiresAt: ts('expires_at').notNull(),
    revokedAt: ts('revoked_at'),
    revokeReason: text('revoke_reason'),
    ip: text('ip'),
    userAgent: text('user_agent'),
  },
  (t) => [index('sessions_user_idx').on(t.userId)],
);

export const refreshTokens = pgTable(
  'refresh_tokens',
  {
    id: text('id').primaryKey(),
    sessionId: text('session_id')
      .notNull()
      .references(() => sessions.id),
    tokenHash: text('token_hash').notNull().unique(),
    createdAt: ts('created_at').notNull().defaultNow(),
    /** Set when rotated; presenting a used token again is reuse (theft) and revokes the session. */
    usedAt: ts('used_at'),
  },
  (t) => [index('refresh_tokens_session_idx').on(t.sessionId)],
);

export const mfaChallenges = pgTable(
  'mfa_challenges',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id),
    method: text('method', { enum: MFA_METHODS }).notNull(),
    codeHash: text('code_hash'),
    attempts: integer('attempts').notNull().default(0),
    expiresAt: ts('expires_at').notNull(),
    consumedAt: ts('consumed_at'),
    ip: text('ip'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  // Challenges opened per account per window are counted (the code-message limit).
  (t) => [index('mfa_challenges_user_idx').on(t.userId, t.createdAt)],
);

/**
 * Attempts at anything that costs a password hash or proves a secret (sign-in password and code,
 * invitation accept, password change), shared by all nodes so limits hold across the cluster. No
 * e-mail in clear: the identifier is an HMAC. `succeeded` is null while the attempt is in flight
 * (it counts against its account then, so parallel guesses cannot overrun the lockout).
 */
export const loginAttempts = pgTable(
  'login_attempts',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    at: ts('at').notNull().defaultNow(),
    ip: text('ip').notNull(),
    identifierHash: text('identifier_hash').notNull(),
    kind: text('kind').notNull().default('password'),
    succeeded: boolean('succeeded'),
  },
  (t) => [
    index('login_attempts_ip_idx').on(t.ip, t.at),
    index('login_attempts_identifier_idx').on(t.identifierHash, t.at),
  ],
);

/**
 * Browsers that completed a sign-in to an account (both factors): their own lane to the hashing
 * threads and their own failure count, so an attacker's failures do not lock the owner out. Only
 * hashes: the device id exists in the browser's cookie alone.
 */
export const knownDevices = pgTable(
  'known_devices',
  {
    identifierHash: text('identifier_hash').notNull(),
    deviceHash: text('device_hash').notNull(),
    lastSeenAt: ts('last_seen_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.identifierHash, t.deviceHash] })],
);

export const breakGlassGrants = pgTable(
  'break_glass_grants',
  {
    id: text('id').primaryKey(),
    doctorId: text('doctor_id')
      .notNull()
      .references(() => users.id),
    patientId: text('patient_id')
      .notNull()
      .references(() => users.id),
    clinicId: text('clinic_id')
      .notNull()
      .references(() => clinics.id),
    reason: text('reason').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
    expiresAt: ts('expires_at').notNull(),
  },
  (t) => [index('break_glass_doctor_patient_idx').on(t.doctorId, t.patientId)],
);
