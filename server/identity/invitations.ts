import { randomUUID } from 'node:crypto';
import type { MembershipChanges } from './membership-changes.ts';
import { and, eq, gt, isNull } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import {
  careRelationships,
  clinicMembers,
  clinics,
  invitations,
  users,
  type UserRole,
} from '../../db/schema/index.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AuthConfig } from '../config.ts';
import { ProblemError } from '../api/errors.ts';
import { invitationMessage } from '../notifications/templates.ts';
import type { NotificationProvider } from '../notifications/types.ts';
import { listInvitations, type InvitationSummary } from './invitation-list.ts';
import { currentContext } from '../request-context.ts';
import type { AttemptGuard } from './attempt-guard.ts';
import type { PasswordHasher } from './passwords.ts';
import { randomToken, sha256Hex } from './secrets.ts';
import { PROBLEM } from '../api/problem-codes.ts';

export const STAFF_INVITE_ROLES = ['clinic_admin', 'doctor', 'operator', 'partner'] as const;
export const PATIENT_INVITE_ROLES = ['patient', 'guardian'] as const;

export type CreatedInvitation = { id: string; token: string; link: string; expiresAt: Date };

/**
 * Single-use, expiring invitation links: how every account except the platform admin comes to
 * exist. Clinic admins invite staff; doctors and operators invite patients and guardians.
 * Only the token's sha256 is stored; the token itself exists in the link alone.
 */
export class InvitationService {
  constructor(
    private readonly deps: {
      db: Db;
      audit: AuditLog;
      config: AuthConfig;
      notifier: NotificationProvider;
      passwords: PasswordHasher;
      guard: AttemptGuard;
      publicUrl: () => string;
      memberships: MembershipChanges;
    },
  ) {}

  /** 429 once the inviting account, or the address it acts from, had INVITATION_MAILS_PER_HOUR invitation e-mails sent in the last hour. */
  async checkMailBudget(createdBy: string | null): Promise<void> {
    const { guard, config } = this.deps;
    const ip = currentContext()?.ip ?? 'unknown';
    const counts = await Promise.all([
      guard.countRecent('invitation_mail', { ip }, HOUR_MS),
      ...(createdBy
        ? [
            guard.countRecent(
              'invitation_mail',
              { identifierHash: guard.scoped('inviter', createdBy) },
              HOUR_MS,
            ),
          ]
        : []),
    ]);
    if (counts.some((n) => n >= config.invitationMailsPerHour)) {
      throw new ProblemError(
        429,
        PROBLEM.tooManyInvitations,
        `at most ${config.invitationMailsPerHour} invitation e-mails an hour; try again later`,
        [],
        3600,
      );
    }
  }

  async create(input: {
    clinicId: string;
    role: UserRole;
    email: string;
    createdBy: string | null;
  }): Promise<CreatedInvitation> {
    const { db, config, guard } = this.deps;
    await this.checkMailBudget(input.createdBy);
    const [clinic] = await db
      .select({ name: clinics.name })
      .from(clinics)
      .where(eq(clinics.id, input.clinicId));
    if (!clinic) throw new ProblemError(404, PROBLEM.notFound, 'no such clinic');
    await guard.record(
      currentContext()?.ip ?? 'unknown',
      guard.scoped('inviter', input.createdBy ?? 'system'),
      'invitation_mail',
      true,
    );
    const id = randomUUID();
    const token = randomToken();
    const expiresAt = new Date(Date.now() + config.invitationTtlSeconds * 1000);
    await db.insert(invitations).values({
      id,
      clinicId: input.clinicId,
      role: input.role,
      email: input.email,
      tokenHash: sha256Hex(token),
      createdBy: input.createdBy,
      expiresAt,
    });
    // The token travels in the fragment: never sent to servers, never in access logs.
    const link = `${this.deps.publicUrl()}/app/#invitation=${token}`;
    await this.deps.notifier.send(invitationMessage(input.email, link, clinic.name, id));
    return { id, token, link, expiresAt };
  }

  /**
   * Redeems an invitation. Without an existing account, creates one with the invited role. With
   * one (signed in, same e-mail, same role), adds the clinic membership. Atomic and single-use.
   */
  /** Redeems the link, and audits the acceptance in the same transaction. */
  async accept(
    input: {
      token: string;
      displayName?: string | undefined;
      password?: string | undefined;
      phone?: string | undefined;
      dateOfBirth?: string | undefined;
    },
    signedIn: { userId: string } | undefined,
  ) {
    const { db, passwords, guard } = this.deps;
    const ip = currentContext()?.ip ?? 'unknown';
    const tokenHash = sha256Hex(input.token);
    // The token is looked up before anything is hashed: a made-up token costs one indexed read and
    // counts as a failure of its address; only a live invitation's password reaches the hashing threads.
    await guard.checkAddress(ip);
    const [live] = await db
      .select({ id: invitations.id, email: invitations.email })
      .from(invitations)
      .where(
        and(
          eq(invitations.tokenHash, tokenHash),
          isNull(invitations.usedAt),
          isNull(invitations.revokedAt),
          gt(invitations.expiresAt, new Date()),
        ),
      );
    if (!live) {
      await guard.record(ip, tokenHash, 'invitation', false);
      throw invitationInvalid();
    }
    let passwordHash: string | null = null;
    if (!signedIn) {
      const errors = [];
      if (!input.displayName) errors.push({ field: 'displayName', message: 'required' });
      if (!input.password) errors.push({ field: 'password', message: 'required' });
      if (errors.length) throw new ProblemError(400, PROBLEM.invalidBody, 'request is invalid', errors);
      const [existing] = await db.select({ id: users.id }).from(users).where(eq(users.email, live.email));
      if (existing) throw accountExists();
      // Per invitation: racing accepts of one link cannot queue more hashes than the lockout allows.
      const attempt = await guard.begin(ip, guard.scoped('invitation', live.id), 'invitation');
      try {
        passwordHash = await passwords.hash(input.password!, 'known');
      } finally {
        await guard.settle(attempt, undefined);
      }
    }
    const changed: string[] = [];
    const accepted = await db.transaction(async (tx) => {
      changed.length = 0; // a retried transaction starts over
      const [inv] = await tx
        .update(invitations)
        .set({ usedAt: new Date() })
        .where(
          and(
            eq(invitations.tokenHash, tokenHash),
            isNull(invitations.usedAt),
            isNull(invitations.revokedAt),
            gt(invitations.expiresAt, new Date()),
          ),
        )
        .returning();
      if (!inv) throw invitationInvalid();
      let userId: string;
      if (signedIn) {
        const [me] = await tx.select().from(users).where(eq(users.id, signedIn.userId));
        if (!me || me.email !== inv.email || me.role !== inv.role) {
          throw new ProblemError(
            403,
            PROBLEM.invitationMismatch,
            'this invitation is for a different account',
          );
        }
        userId = me.id;
      } else {
        // Checked before hashing; again here, for an account created meanwhile.
        const [existing] = await tx.select({ id: users.id }).from(users).where(eq(users.email, inv.email));
        if (existing) throw accountExists();
        userId = randomUUID();
        await tx.insert(users).values({
          id: userId,
          role: inv.role,
          email: inv.email,
          displayName: input.displayName!,
          passwordHash,
          phone: input.phone ?? null,
          dateOfBirth: input.dateOfBirth ?? null,
          mfaMethod: 'email',
        });
      }
      await tx.insert(clinicMembers).values({ clinicId: inv.clinicId, userId }).onConflictDoNothing();
      changed.push(userId);
      await tx.update(invitations).set({ usedBy: userId }).where(eq(invitations.id, inv.id));
      // A patient invited by their doctor starts in a treating relationship with that doctor.
      if (inv.role === 'patient' && inv.createdBy) {
        const [inviter] = await tx
          .select({ role: users.role })
          .from(users)
          .where(eq(users.id, inv.createdBy));
        if (inviter?.role === 'doctor') {
          await tx
            .insert(careRelationships)
            .values({
              clinicId: inv.clinicId,
              doctorId: inv.createdBy,
              patientId: userId,
              createdBy: inv.createdBy,
            })
            .onConflictDoNothing();
          changed.push(inv.createdBy);
        }
      }
      // The redeemer is who acted, signed in or not: the entry is theirs, and it commits with the account.
      const ctx = currentContext();
      if (ctx) ctx.actorId = userId;
      await this.deps.audit.appendWithin(tx, [
        this.deps.audit.entry({
          action: 'invitation.accepted',
          outcome: 'allowed',
          resourceType: 'invitation',
          resourceId: inv.id,
          clinicId: inv.clinicId,
          patientId: inv.role === 'patient' ? userId : null,
        }),
      ]);
      return { userId, clinicId: inv.clinicId, role: inv.role, invitationId: inv.id };
    });
    this.deps.memberships.changed(changed);
    return accepted;
  }

  /** The invitation's policy facts, or 404: ids of other clinics look the same as unknown ones. */
  async find(
    clinicId: string,
    invitationId: string,
  ): Promise<{ id: string; clinicId: string; createdBy: string | null }> {
    const [row] = await this.deps.db
      .select({ id: invitations.id, clinicId: invitations.clinicId, createdBy: invitations.createdBy })
      .from(invitations)
      .where(and(eq(invitations.id, invitationId), eq(invitations.clinicId, clinicId)));
    if (!row) throw new ProblemError(404, PROBLEM.notFound, 'no such invitation');
    return row;
  }

  list(q: Omit<Parameters<typeof listInvitations>[1], 'now'>): Promise<InvitationSummary[]> {
    return listInvitations(this.deps.db, { ...q, now: new Date() });
  }

  /**
   * Makes a pending (or expired) invitation unusable at once: accept() refuses revoked rows in the
   * same conditional UPDATE that claims them, so a revoke and an accept never both succeed.
   * Revoking twice is a no-op; an accepted invitation is 409 (the account exists; that is a
   * different operation).
   */
  async revoke(clinicId: string, invitationId: string): Promise<{ revoked: boolean }> {
    const { db } = this.deps;
    const r = await db
      .update(invitations)
      .set({ revokedAt: new Date() })
      .where(
        and(
          eq(invitations.id, invitationId),
          eq(invitations.clinicId, clinicId),
          isNull(invitations.usedAt),
          isNull(invitations.revokedAt),
        ),
      )
      .returning({ id: invitations.id });
    if (r.length) return { revoked: true };
    const [row] = await db
      .select({ usedAt: invitations.usedAt })
      .from(invitations)
      .where(and(eq(invitations.id, invitationId), eq(invitations.clinicId, clinicId)));
    if (!row) throw new ProblemError(404, PROBLEM.notFound, 'no such invitation');
    if (row.usedAt)
      throw new ProblemError(409, PROBLEM.invitationAccepted, 'this invitation was already accepted');
    return { revoked: false };
  }
}

const HOUR_MS = 3_600_000;
const invitationInvalid = () =>
  new ProblemError(410, PROBLEM.invitationInvalid, 'this invitation link has expired or was already used');
const accountExists = () =>
  new ProblemError(
    409,
    PROBLEM.accountExists,
    'an account with this e-mail exists; sign in and accept the invitation',
  );
