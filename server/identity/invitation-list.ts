import { and, desc, eq, gt, isNotNull, isNull, lte, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { invitations, type UserRole } from '../../db/schema/index.ts';

export const INVITATION_STATUSES = ['pending', 'accepted', 'revoked', 'expired'] as const;
export type InvitationStatus = (typeof INVITATION_STATUSES)[number];

/** What an invitation looks like to the people managing it: never its token or the token's hash. */
export type InvitationSummary = {
  id: string;
  role: UserRole;
  email: string;
  status: InvitationStatus;
  createdBy: string | null;
  createdAt: Date;
  expiresAt: Date;
  acceptedAt: Date | null;
  acceptedBy: string | null;
  revokedAt: Date | null;
};

/**
 * Status is derived, not stored: accepted (used) wins, then revoked, then expired by the clock.
 * Accept and revoke each refuse a row the other has touched, so a row is never both.
 */
function statusWhere(status: InvitationStatus, now: Date): SQL {
  switch (status) {
    case 'accepted':
      return isNotNull(invitations.usedAt);
    case 'revoked':
      return and(isNull(invitations.usedAt), isNotNull(invitations.revokedAt))!;
    case 'expired':
      return and(isNull(invitations.usedAt), isNull(invitations.revokedAt), lte(invitations.expiresAt, now))!;
    case 'pending':
      return and(isNull(invitations.usedAt), isNull(invitations.revokedAt), gt(invitations.expiresAt, now))!;
  }
}

export function statusOf(
  row: { usedAt: Date | null; revokedAt: Date | null; expiresAt: Date },
  now: Date,
): InvitationStatus {
  if (row.usedAt) return 'accepted';
  if (row.revokedAt) return 'revoked';
  return row.expiresAt <= now ? 'expired' : 'pending';
}

/**
 * Newest first, keyset-paginated: `before` is the id of the last invitation of the previous page
 * (compared on (created_at, id) in SQL, so equal timestamps and microseconds are handled there).
 */
export async function listInvitations(
  db: Db,
  q: {
    clinicId: string;
    sentBy: string | null;
    status?: InvitationStatus | undefined;
    before?: string | undefined;
    limit: number;
    now: Date;
  },
): Promise<InvitationSummary[]> {
  const conds: SQL[] = [eq(invitations.clinicId, q.clinicId)];
  if (q.sentBy) conds.push(eq(invitations.createdBy, q.sentBy));
  if (q.status) conds.push(statusWhere(q.status, q.now));
  if (q.before) {
    conds.push(
      sql`(${invitations.createdAt}, ${invitations.id}) < (select i.created_at, i.id from ${invitations} i where i.id = ${q.before} and i.clinic_id = ${q.clinicId})`,
    );
  }
  const rows = await db
    .select({
      id: invitations.id,
      role: invitations.role,
      email: invitations.email,
      createdBy: invitations.createdBy,
      createdAt: invitations.createdAt,
      expiresAt: invitations.expiresAt,
      usedAt: invitations.usedAt,
      usedBy: invitations.usedBy,
      revokedAt: invitations.revokedAt,
    })
    .from(invitations)
    .where(and(...conds))
    .orderBy(desc(invitations.createdAt), desc(invitations.id))
    .limit(q.limit);
  return rows.map(({ usedAt, usedBy, ...r }) => ({
    ...r,
    status: statusOf({ usedAt, revokedAt: r.revokedAt, expiresAt: r.expiresAt }, q.now),
    acceptedAt: usedAt,
    acceptedBy: usedBy,
  }));
}
