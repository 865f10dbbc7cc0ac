import { sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { rowsOf } from '../../db/rows.ts';
import { conversationMembers, conversations, messages } from '../../db/schema/index.ts';
import type { ConversationKind } from '../../db/schema/index.ts';

export type ConversationSummary = {
  id: string;
  kind: ConversationKind;
  clinicId: string;
  appointmentId: string | null;
  doctorId: string | null;
  patientId: string;
  lastSeq: number;
  readSeq: number;
  /** Messages after my read mark that are not mine (and are meant for me: hosts-only ones count for the doctor). */
  unread: number;
};

/**
 * The conversations a person takes part in (as the doctor, or as the patient side of `subjectId`),
 * newest activity first, each with the reader's unread count, in one query. The caller still
 * decides each one (decideMessaging) before showing it.
 */
export async function conversationList(
  db: Db,
  subjectId: string,
  memberId: string,
  /** Only this conversation (one summary after a change), else all of them. */
  onlyId?: string,
): Promise<ConversationSummary[]> {
  const result = await db.execute(sql`
    select c.id, c.kind, c.clinic_id, c.appointment_id, c.doctor_id, c.patient_id, c.last_seq,
           coalesce(m.read_seq, 0) as read_seq,
           (select count(*) from ${messages} x where x.conversation_id = c.id and x.seq > coalesce(m.read_seq, 0)
               and x.sender_id <> ${memberId} and x.deleted_at is null
               and (x.audience = 'all' or c.doctor_id = ${memberId})) as unread
      from ${conversations} c
      left join ${conversationMembers} m on m.conversation_id = c.id and m.member_id = ${memberId}
     where (c.doctor_id = ${subjectId} or c.patient_id = ${subjectId})
       ${onlyId === undefined ? sql`` : sql`and c.id = ${onlyId}`}
     order by c.last_seq desc, c.created_at desc
     limit 500`);
  return rowsOf<Record<string, unknown>>(result).map((r) => ({
    id: r.id as string,
    kind: r.kind as ConversationKind,
    clinicId: r.clinic_id as string,
    appointmentId: (r.appointment_id as string | null) ?? null,
    doctorId: (r.doctor_id as string | null) ?? null,
    patientId: r.patient_id as string,
    lastSeq: Number(r.last_seq),
    readSeq: Number(r.read_seq),
    unread: Number(r.unread),
  }));
}
