import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { users } from '../../db/schema/index.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { PasswordHasher } from './passwords.ts';
import { randomToken } from './secrets.ts';

// Serialises bootstraps, so two runs at once cannot both see "no admin yet".
const BOOTSTRAP_LOCK_KEY = 7_265_013;

export class BootstrapRefused extends Error {
  constructor(
    readonly reason: 'admin_exists' | 'email_taken',
    message: string,
  ) {
    super(message);
    this.name = 'BootstrapRefused';
  }
}

/**
 * Creates a platform admin, the one account no invitation can create (invitations belong to a
 * clinic; platform admins belong to none). Refuses when a platform admin already exists unless
 * forced, so a stray re-run cannot mint a second all-clinics account. The password is random and
 * returned once for the operator to hand over; only its hash is stored. The account signs in like
 * any other (password + e-mailed code), and the creation is in the audit log with no actor.
 */
export async function createPlatformAdmin(
  deps: { db: Db; passwords: PasswordHasher; audit: AuditLog },
  input: { email: string; displayName: string; force: boolean },
): Promise<{ id: string; password: string }> {
  const password = randomToken();
  const passwordHash = await deps.passwords.hash(password);
  const id = randomUUID();
  await deps.db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${BOOTSTRAP_LOCK_KEY})`);
    const [admin] = await tx.select({ id: users.id }).from(users).where(eq(users.role, 'admin')).limit(1);
    if (admin && !input.force)
      throw new BootstrapRefused(
        'admin_exists',
        'a platform admin already exists (use --force to add another)',
      );
    const [taken] = await tx.select({ id: users.id }).from(users).where(eq(users.email, input.email));
    if (taken) throw new BootstrapRefused('email_taken', 'an account with this e-mail already exists');
    await tx.insert(users).values({
      id,
      role: 'admin',
      email: input.email,
      displayName: input.displayName,
      passwordHash,
      mfaMethod: 'email',
      passwordChangeRequired: true,
    });
    await deps.audit.appendWithin(tx, [
      deps.audit.entry({
        action: 'admin.bootstrapped',
        outcome: 'allowed',
        resourceType: 'user',
        resourceId: id,
        reason: input.force ? 'forced' : null,
      }),
    ]);
  });
  return { id, password };
}
