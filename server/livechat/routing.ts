import { sql } from 'drizzle-orm';
import type { Tx } from '../../db/client.ts';
import { rowsOf, sendQuery } from '../../db/rows.ts';
import { conversations, liveChats, liveChatSettings, operatorPresence } from '../../db/schema/index.ts';
import type { RoutingMode } from '../../db/schema/index.ts';

/** The advisory lock namespace of live chat routing (the second key is the clinic's hash). */
const ROUTING_LOCK = 7417;
/**
 * Queued chats one routing pass looks at: a few per free slot (chats of a department whose
 * operators are full are passed over), at most 500. Most passes follow one freed slot and read a
 * handful of rows off the queue index, not the whole queue.
 */
const SCAN_PER_SLOT = 8;
const MAX_SCAN = 500;

export type Assignment = { conversationId: string; operatorId: string; patientId: string };

/**
 * Every change to who holds which chat of a clinic (routing, accept, transfer, close, requeue)
 * runs in a transaction holding this lock: capacity is counted and spent under it, so two nodes
 * never both give an operator's last slot away, and the queue drains in one order.
 */
export async function lockClinic(tx: Tx, clinicId: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${ROUTING_LOCK}, hashtext(${clinicId}))`);
}

export async function routingSettings(
  tx: Tx,
  clinicId: string,
): Promise<{ mode: RoutingMode; noAnswerSeconds: number }> {
  const result = await tx.execute(
    sql`select ${liveChatSettings.routingMode} as mode, ${liveChatSettings.noAnswerSeconds} as no_answer from ${liveChatSettings} where ${liveChatSettings.clinicId} = ${clinicId}`,
  );
  const [row] = rowsOf<{ mode: RoutingMode; no_answer: number }>(result);
  return { mode: row?.mode ?? 'auto', noAnswerSeconds: row?.no_answer ?? 120 };
}

type FreeOperator = {
  operatorId: string;
  capacity: number;
  open: number;
  department: string | null;
  lastAssignedAt: number;
};

/** Available operators with a live lease and their open chats in the clinic (under the clinic lock). */
export async function operatorLoad(tx: Tx, clinicId: string, at: Date): Promise<FreeOperator[]> {
  const result = await tx.execute(sql`
    select p.operator_id, p.capacity, p.department, p.last_assigned_at,
           (select count(*) from ${liveChats} l
             where l.assignee_id = p.operator_id and l.clinic_id = p.clinic_id and l.status = 'assigned') as open
      from ${operatorPresence} p
     where p.clinic_id = ${clinicId} and p.status = 'available' and p.lease_expires_at > ${at.toISOString()}::timestamptz`);
  return rowsOf<{
    operator_id: string;
    capacity: number;
    department: string | null;
    last_assigned_at: string | Date | null;
    open: string | number;
  }>(result).map((r) => ({
    operatorId: r.operator_id,
    capacity: Number(r.capacity),
    open: Number(r.open),
    department: r.department,
    lastAssignedAt: r.last_assigned_at === null ? 0 : new Date(r.last_assigned_at).getTime(),
  }));
}

/**
 * The operator a chat goes to: the fewest open chats, then the one idle longest (assigned least
 * recently), never one at capacity or of another department. Pure, so the order is testable.
 */
export function pickOperator(
  operators: readonly FreeOperator[],
  department: string | null,
  exclude?: string,
): FreeOperator | undefined {
  let best: FreeOperator | undefined;
  for (const o of operators) {
    if (o.open >= o.capacity || o.operatorId === exclude) continue;
    if (o.department !== null && o.department !== department) continue;
    if (
      !best ||
      o.open < best.open ||
      (o.open === best.open &&
        (o.lastAssignedAt < best.lastAssignedAt ||
          (o.lastAssignedAt === best.lastAssignedAt && o.operatorId < best.operatorId)))
    )
      best = o;
  }
  return best;
}

/**
 * Automatic routing of a clinic's queue, oldest waiting chat first (queued_at, then id): each
 * goes to pickOperator's choice until no free slot is left. A chat no operator may take (its
 * department's operators are full) is passed over for a later chat of another department; within
 * a department the order is strict, since an operator free for the later chat would have taken
 * the earlier one. Call with the clinic lock held; returns what it assigned.
 */
export async function routeQueue(tx: Tx, clinicId: string, at: Date): Promise<Assignment[]> {
  const operators = await operatorLoad(tx, clinicId, at);
  let free = operators.reduce((n, o) => n + Math.max(0, o.capacity - o.open), 0);
  if (free === 0) return [];
  const queued = rowsOf<{ conversation_id: string; department: string | null; patient_id: string }>(
    await tx.execute(sql`
      select conversation_id, department, patient_id from ${liveChats}
       where clinic_id = ${clinicId} and status = 'queued'
       order by queued_at, conversation_id limit ${Math.min(MAX_SCAN, free * SCAN_PER_SLOT)}`),
  );
  const assignments: Assignment[] = [];
  for (const chat of queued) {
    if (free === 0) break;
    const operator = pickOperator(operators, chat.department);
    if (!operator) continue;
    operator.open += 1;
    // Each assignment of a pass is later than the previous one, so ties keep rotating.
    operator.lastAssignedAt = at.getTime() + assignments.length + 1;
    free -= 1;
    assignments.push({
      conversationId: chat.conversation_id,
      operatorId: operator.operatorId,
      patientId: chat.patient_id,
    });
  }
  await writeAssignments(tx, clinicId, assignments, at);
  return assignments;
}

/** Hands chats to their holders: the live chat row, the conversation's staff holder, the operator's idle clock. */
export async function writeAssignments(
  tx: Tx,
  clinicId: string,
  assignments: readonly Assignment[],
  at: Date,
): Promise<void> {
  if (!assignments.length) return;
  const rows = JSON.stringify(
    assignments.map((a, i) => ({
      c: a.conversationId,
      o: a.operatorId,
      t: new Date(at.getTime() + i + 1).toISOString(),
    })),
  );
  await Promise.all([
    sendQuery(
      tx.execute(sql`
        update ${liveChats} l set status = 'assigned', assignee_id = v.o, assigned_at = ${at.toISOString()}::timestamptz, first_response_at = null
          from json_to_recordset(${rows}::json) as v(c text, o text, t timestamptz) where l.conversation_id = v.c`),
    ),
    sendQuery(
      tx.execute(sql`
        update ${conversations} c set doctor_id = v.o
          from json_to_recordset(${rows}::json) as v(c text, o text, t timestamptz) where c.id = v.c`),
    ),
    sendQuery(
      tx.execute(sql`
        update ${operatorPresence} p set last_assigned_at = v.t
          from (select o, max(t) as t from json_to_recordset(${rows}::json) as x(c text, o text, t timestamptz) group by o) v
         where p.clinic_id = ${clinicId} and p.operator_id = v.o`),
    ),
  ]);
}

/**
 * Chats whose holder did not answer the patient within the clinic's no-answer time go back to the
 * queue with their queued_at, so at their old place; their operators are set away (they are not
 * at their desk) and are not routed to until they say they are available again. A reply records
 * the first response, so answered chats stay. Call with the clinic lock held.
 */
export async function requeueUnanswered(
  tx: Tx,
  clinicId: string,
  at: Date,
): Promise<{ conversationId: string; operatorId: string }[]> {
  await tx.execute(sql`
    update ${liveChats} l set first_response_at = r.first
      from (select l2.conversation_id, min(m.created_at) as first from ${liveChats} l2
              join messages m on m.conversation_id = l2.conversation_id and m.sender_id = l2.assignee_id
                   and m.audience = 'all' and m.created_at >= l2.assigned_at
             where l2.clinic_id = ${clinicId} and l2.status = 'assigned' and l2.first_response_at is null
             group by l2.conversation_id) r
     where l.conversation_id = r.conversation_id`);
  const { noAnswerSeconds } = await routingSettings(tx, clinicId);
  const cutoff = new Date(at.getTime() - noAnswerSeconds * 1000);
  const requeued = rowsOf<{ conversation_id: string; operator_id: string }>(
    await tx.execute(sql`
      update ${liveChats} l set status = 'queued', assignee_id = null, assigned_at = null
        from (select conversation_id, assignee_id from ${liveChats}
               where clinic_id = ${clinicId} and status = 'assigned' and first_response_at is null
                 and assigned_at <= ${cutoff.toISOString()}::timestamptz
                 -- Only operators' chats: a doctor a chat was transferred to answers in their own time.
                 and exists (select 1 from ${operatorPresence} p where p.clinic_id = ${clinicId} and p.operator_id = assignee_id)
               ) old
       where l.conversation_id = old.conversation_id
      returning l.conversation_id, old.assignee_id as operator_id`),
  );
  if (!requeued.length) return [];
  const ids = JSON.stringify(requeued.map((r) => r.conversation_id));
  const operators = JSON.stringify([...new Set(requeued.map((r) => r.operator_id))]);
  await Promise.all([
    sendQuery(
      tx.execute(
        sql`update ${conversations} set doctor_id = null where id in (select json_array_elements_text(${ids}::json))`,
      ),
    ),
    sendQuery(
      tx.execute(sql`update ${operatorPresence} set status = 'away', updated_at = ${at.toISOString()}::timestamptz
        where clinic_id = ${clinicId} and operator_id in (select json_array_elements_text(${operators}::json))`),
    ),
  ]);
  return requeued.map((r) => ({ conversationId: r.conversation_id, operatorId: r.operator_id }));
}

/** Operators whose lease ran out (their node died, their tab closed) are written offline. */
export async function expireLeases(tx: Tx, clinicId: string, at: Date): Promise<string[]> {
  const rows = rowsOf<{ operator_id: string }>(
    await tx.execute(sql`
      update ${operatorPresence} set status = 'offline', updated_at = ${at.toISOString()}::timestamptz
       where clinic_id = ${clinicId} and status <> 'offline' and lease_expires_at <= ${at.toISOString()}::timestamptz
      returning operator_id`),
  );
  return rows.map((r) => r.operator_id);
}

/** Places in the queue (1 = next) of a clinic's first `limit` queued chats, in FIFO order within each department. */
export async function queuePositions(
  tx: Tx,
  clinicId: string,
  limit: number,
): Promise<{ conversationId: string; patientId: string; position: number }[]> {
  // Read off the queue index in order and counted here: a window over the whole queue sorts it all.
  const rows = rowsOf<{ conversation_id: string; patient_id: string; department: string | null }>(
    await tx.execute(sql`
      select conversation_id, patient_id, department from ${liveChats}
       where clinic_id = ${clinicId} and status = 'queued'
       order by queued_at, conversation_id limit ${limit}`),
  );
  const seen = new Map<string | null, number>();
  return rows.map((r) => {
    const position = (seen.get(r.department) ?? 0) + 1;
    seen.set(r.department, position);
    return { conversationId: r.conversation_id, patientId: r.patient_id, position };
  });
}
