import { randomBytes, randomUUID } from 'node:crypto';
import { desc, eq } from 'drizzle-orm';
import { Registry } from 'prom-client';
import { openDb, type DbHandle } from '../../db/client.ts';
import {
  careRelationships,
  clinicMembers,
  clinics,
  guardianships,
  notificationOutbox,
  patientNotes,
  users,
  type UserRole,
} from '../../db/schema/index.ts';
import { noteScope } from '../../server/records/patient-repository.ts';
import type { Services } from '../../server/services.ts';
import { createApp } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import type { Identity } from '../../server/identity/create-identity.ts';
import { parseTrustedProxies } from '../../server/api/client-ip.ts';
import { createServices } from '../../server/services.ts';
import { captureLogs } from './node.ts';
import { createTestDatabase } from './pg.ts';

export type IdentityHarness = Awaited<ReturnType<typeof startIdentityHarness>>;

/** The real app (routes, policy, audit) in-process on a fresh PostgreSQL database. */
export async function startIdentityHarness(options: Record<string, string> = {}) {
  // Nodes of one deployment share the audit chain key and the data KEK (a second node here is `another`).
  const chainKey = randomBytes(32);
  const env = {
    AUDIT_CHAIN_KEY: chainKey.toString('base64'),
    DATA_KEK: randomBytes(32).toString('base64'),
    ...options,
  };
  const database = await createTestDatabase();
  const handle = await openDb({ databaseUrl: database.url, maxConnections: 5 });
  const h = await appOn(handle, env);
  return {
    ...h,
    handle,
    databaseUrl: database.url,
    chainKey,
    /** A second app (other limits) on the same database, as a second node would be. */
    another: (more: Record<string, string>) => appOn(handle, { ...env, ...more }),
    close: async () => {
      await handle.close();
      await database.drop();
    },
  };
}

export async function appOn(
  handle: DbHandle,
  env: Record<string, string>,
  opts: { publicUrl?: () => string } = {},
) {
  const config = loadConfig({
    NODE_ENV: 'test',
    PASSWORD_HASH_STRENGTH: 'minimum',
    LOGIN_RATE_LIMIT_PER_MINUTE: '10000',
    LOGIN_CODES_PER_WINDOW: '1000',
    SIGN_IN_CONCURRENCY: '10000',
    DEMO: 'off',
    ...env,
  });
  const logs = captureLogs();
  // A settable clock for scheduling (reminders, dispatch intervals, licence notices) and consultation windows; real time by default.
  const clock = { now: undefined as Date | undefined };
  const now = () => clock.now ?? new Date();
  const services = await createServices(
    config,
    { db: handle.db, logger: logs.logger },
    {
      publicUrl: opts.publicUrl ?? (() => 'http://carecall.test'),
      consultationClock: now,
      schedulingClock: now,
    },
  );
  const { identity, scheduling, outbox } = services;
  const app = createApp(services, {
    logger: logs.logger,
    turn: config.turn,
    demo: undefined,
    registry: new Registry(),
    checks: {},
    trustedProxies: config.trustedProxies.length ? parseTrustedProxies(config.trustedProxies) : undefined,
  });
  const call = async (
    method: string,
    path: string,
    opts: { token?: string | undefined; body?: unknown; ip?: string; headers?: Record<string, string> } = {},
  ) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const res = await app.request(
      path,
      {
        method,
        headers,
        ...(opts.body !== undefined
          ? { body: typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body) }
          : {}),
      },
      { remoteAddress: opts.ip ?? '203.0.113.7' },
    );
    const text = await res.text();
    let body: any = undefined;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    return {
      status: res.status,
      body,
      contentType: res.headers.get('content-type') ?? '',
      headers: res.headers,
    };
  };
  return { app, services, identity, scheduling, clock, outbox, logs, db: handle.db, call, config };
}

type Call = Awaited<ReturnType<typeof appOn>>['call'];

export const PASSWORD = 'a-long-test-password-1';

/** Inserts a user directly (the platform admin has no sign-up path; tests build others this way for speed). */
export async function createUser(
  identity: Identity,
  db: DbHandle['db'],
  opts: {
    role: UserRole;
    clinicId?: string;
    email?: string | null;
    phone?: string;
    dateOfBirth?: string;
    password?: string | null;
  },
) {
  const id = randomUUID();
  const email = opts.email === null ? null : (opts.email ?? `${opts.role}-${id.slice(0, 8)}@example.test`);
  await db.insert(users).values({
    id,
    role: opts.role,
    email,
    phone: opts.phone ?? null,
    dateOfBirth: opts.dateOfBirth ?? null,
    displayName: `Test ${opts.role} ${id.slice(0, 4)}`,
    passwordHash: opts.password === null ? null : await identity.passwords.hash(opts.password ?? PASSWORD),
  });
  if (opts.clinicId) await db.insert(clinicMembers).values({ clinicId: opts.clinicId, userId: id });
  return { id, email: email!, role: opts.role };
}

export async function createClinic(db: DbHandle['db'], name = 'Clinic') {
  const id = randomUUID();
  await db.insert(clinics).values({ id, name });
  return id;
}

export const relate = (db: DbHandle['db'], clinicId: string, doctorId: string, patientId: string) =>
  db.insert(careRelationships).values({ clinicId, doctorId, patientId, createdBy: doctorId });

export const guard = (db: DbHandle['db'], guardianId: string, dependentId: string) =>
  db.insert(guardianships).values({ guardianId, dependentId });

/** The newest message the outbox holds for a recipient. */
export async function lastMessage(db: DbHandle['db'], recipient: string) {
  const rows = await db.select().from(notificationOutbox).where(eq(notificationOutbox.recipient, recipient));
  rows.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  return rows[0];
}

export const codeIn = (body: string) => /\b(\d{6})\b/.exec(body)?.[1];

/** Password + e-mailed code, the way a user signs in. */
export async function signIn(
  call: Call,
  db: DbHandle['db'],
  email: string,
  password = PASSWORD,
  ip?: string,
) {
  const start = await call('POST', '/api/auth/login', { body: { email, password }, ...(ip ? { ip } : {}) });
  if (start.status !== 200) throw new Error(`login failed: ${start.status} ${JSON.stringify(start.body)}`);
  const msg = await lastMessage(db, email);
  const code = codeIn(msg!.body)!;
  const done = await call('POST', '/api/auth/mfa', {
    body: { challengeId: start.body.challengeId, code },
    ...(ip ? { ip } : {}),
  });
  if (done.status !== 200) throw new Error(`mfa failed: ${done.status} ${JSON.stringify(done.body)}`);
  return done.body as { accessToken: string; refreshToken: string; sessionId: string; expiresIn: number };
}

/** Ground truth for assertions, read around the API: the patient's profile as stored. */
export async function storedProfile(db: DbHandle['db'], patientId: string) {
  const [p] = await db
    .select({
      id: users.id,
      displayName: users.displayName,
      email: users.email,
      phone: users.phone,
      dateOfBirth: users.dateOfBirth,
    })
    .from(users)
    .where(eq(users.id, patientId));
  if (!p) throw new Error(`no user ${patientId}`);
  return p;
}

/** Ground truth for assertions: the patient's notes as stored (newest first), opened with the deployment's sealer. */
export async function storedNotes(services: Services, db: DbHandle['db'], patientId: string) {
  const rows = await db
    .select()
    .from(patientNotes)
    .where(eq(patientNotes.patientId, patientId))
    .orderBy(desc(patientNotes.createdAt));
  return Promise.all(
    rows.map(async (r) => ({
      id: r.id,
      body: await services.encryption.messages.openText(noteScope(patientId), r.id, r.sealedBody!),
    })),
  );
}
