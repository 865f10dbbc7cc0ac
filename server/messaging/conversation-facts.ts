import { sql } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.ts';
import { rowsOf } from '../../db/rows.ts';
import {
  appointments,
  careRelationships,
  clinicMessagingSettings,
  consultationGuests,
  conversations,
  guardianships,
  liveChats,
} from '../../db/schema/index.ts';
import type { CareThreadFacts, ChatActor, ConversationFacts } from './types.ts';

type FactsRow = {
  id: string;
  kind: 'room' | 'care' | 'livechat';
  clinic_id: string;
  appointment_id: string | null;
  doctor_id: string | null;
  live_status: 'queued' | 'assigned' | 'closed' | 'offline' | null;
  patient_id: string;
  guardian_ids: string[] | string;
  guest_valid: boolean | null;
};

const guardiansOf = (patient: ReturnType<typeof sql>) =>
  sql`(select coalesce(json_agg(g.guardian_id), '[]') from ${guardianships} g where g.dependent_id = ${patient})`;

/** The facts the decision needs about conversations, in one query; guest validity only for a guest. */
export async function loadConversationFacts(
  db: Db | Tx,
  ids: readonly string[],
  who: ChatActor,
): Promise<Map<string, ConversationFacts>> {
  if (!ids.length) return new Map();
  const guestId = who.kind === 'guest' ? who.guestId : null;
  const result = await db.execute(sql`
    select c.id, c.kind, c.clinic_id, c.appointment_id, c.doctor_id, c.patient_id,
           ${guardiansOf(sql`c.patient_id`)} as guardian_ids,
           case when c.kind = 'livechat' then (select l.status from ${liveChats} l where l.conversation_id = c.id) end as live_status,
           case when ${guestId}::text is null then null else exists (
             select 1 from ${consultationGuests} q where q.id = ${guestId} and q.appointment_id = c.appointment_id
                and q.revoked_at is null and q.expires_at > now()) end as guest_valid
      from ${conversations} c where c.id in (select json_array_elements_text(${JSON.stringify(ids)}::json))`);
  return new Map(rowsOf<FactsRow>(result).map((r) => [r.id, toFacts(r)]));
}

function toFacts(r: FactsRow): ConversationFacts {
  const guardianIds =
    typeof r.guardian_ids === 'string' ? (JSON.parse(r.guardian_ids) as string[]) : r.guardian_ids;
  return {
    id: r.id,
    kind: r.kind,
    clinicId: r.clinic_id,
    appointmentId: r.appointment_id,
    doctorId: r.doctor_id,
    patientId: r.patient_id,
    guardianIds,
    ...(r.live_status === null || r.live_status === undefined ? {} : { liveStatus: r.live_status }),
    ...(r.guest_valid === null ? {} : { guestValid: r.guest_valid }),
  };
}

/** The appointment a room conversation is made for, or undefined. */
export async function loadAppointmentParties(db: Db, appointmentId: string) {
  const result = await db.execute(
    sql`select ${appointments.clinicId} as clinic_id, ${appointments.doctorId} as doctor_id, ${appointments.patientId} as patient_id from ${appointments} where ${appointments.id} = ${appointmentId}`,
  );
  const [row] = rowsOf<{ clinic_id: string; doctor_id: string; patient_id: string }>(result);
  return row ? { clinicId: row.clinic_id, doctorId: row.doctor_id, patientId: row.patient_id } : undefined;
}

/** Whether a doctor and a patient may have a care thread in a clinic, and whether patients may start one there. */
export async function loadCareThreadFacts(
  db: Db,
  f: { clinicId: string; doctorId: string; patientId: string },
): Promise<CareThreadFacts> {
  const result = await db.execute(sql`
    select ${guardiansOf(sql`${f.patientId}`)} as guardian_ids,
      (exists (select 1 from ${appointments} a where a.clinic_id = ${f.clinicId} and a.doctor_id = ${f.doctorId} and a.patient_id = ${f.patientId})
        or exists (select 1 from ${careRelationships} r where r.clinic_id = ${f.clinicId} and r.doctor_id = ${f.doctorId} and r.patient_id = ${f.patientId})) as eligible,
      coalesce((select s.patients_may_open_threads from ${clinicMessagingSettings} s where s.clinic_id = ${f.clinicId}), true) as patients_may_open`);
  const [row] = rowsOf<{ guardian_ids: string[] | string; eligible: boolean; patients_may_open: boolean }>(
    result,
  );
  const guardianIds =
    typeof row!.guardian_ids === 'string' ? (JSON.parse(row!.guardian_ids) as string[]) : row!.guardian_ids;
  return { ...f, guardianIds, eligible: row!.eligible, patientsMayOpen: row!.patients_may_open };
}

/**
 * Who a conversation is between (kind, clinic, appointment, doctor, patient) never changes once it
 * exists, so those facts are kept per node after the first load: a send then decides without a
 * query. What can change is loaded every time: the actor's clinics (fresh per request, by
 * authentication), a guardian's standing and a guest's validity (the speakers who need them get
 * uncached facts).
 */
export class ConversationFactsCache {
  readonly #parties = new Map<string, ConversationFacts>();

  constructor(
    private readonly db: Db,
    private readonly maxEntries = 100_000,
  ) {}

  async get(conversationId: string, who: ChatActor): Promise<ConversationFacts | undefined> {
    const volatile = who.kind === 'guest' || who.actor.onBehalfOf !== undefined;
    if (!volatile) {
      const cached = this.#parties.get(conversationId);
      if (cached) return cached;
    }
    const facts = (await loadConversationFacts(this.db, [conversationId], who)).get(conversationId);
    // A live chat changes hands (assigned, transferred, closed): its facts are loaded every time.
    if (facts && !volatile && facts.kind !== 'livechat') {
      if (this.#parties.size >= this.maxEntries) this.#parties.clear();
      // Only the immutable parties are relied on from the cache (guardianIds serve on-behalf-of speakers, who never read it).
      this.#parties.set(conversationId, facts);
    }
    return facts;
  }
}
