import { and, eq, sql } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.ts';
import { rowsOf } from '../../db/rows.ts';
import { clinicMembers, liveChats, operatorPresence, users } from '../../db/schema/index.ts';

export async function anyoneAvailable(tx: Tx, clinicId: string, at: Date): Promise<boolean> {
  const rows = rowsOf<{ found: boolean }>(
    await tx.execute(sql`
      select exists (select 1 from ${operatorPresence} where clinic_id = ${clinicId} and status = 'available'
                       and lease_expires_at > ${at.toISOString()}::timestamptz) as found`),
  );
  return rows[0]!.found;
}

/** Whether an operator has presence in the clinic and holds fewer open chats than its capacity (under the clinic lock). */
export async function hasFreeSlot(tx: Tx, clinicId: string, operatorId: string): Promise<boolean> {
  const rows = rowsOf<{ free: boolean }>(
    await tx.execute(sql`
      select coalesce((select p.capacity > (select count(*) from ${liveChats} l
                 where l.clinic_id = p.clinic_id and l.assignee_id = p.operator_id and l.status = 'assigned')
          from ${operatorPresence} p where p.clinic_id = ${clinicId} and p.operator_id = ${operatorId}), false) as free`),
  );
  return rows[0]!.free;
}

/** An operator or doctor who is a member of the clinic, or undefined. */
export async function colleague(db: Db, clinicId: string, userId: string) {
  const [row] = await db
    .select({ id: users.id, role: users.role })
    .from(users)
    .innerJoin(clinicMembers, and(eq(clinicMembers.userId, users.id), eq(clinicMembers.clinicId, clinicId)))
    .where(eq(users.id, userId));
  return row && (row.role === 'operator' || row.role === 'doctor') ? row : undefined;
}

export function presenceView(row: typeof operatorPresence.$inferSelect) {
  return {
    clinicId: row.clinicId,
    status: row.status,
    capacity: row.capacity,
    department: row.department,
    leaseExpiresAt: row.leaseExpiresAt.toISOString(),
  };
}
