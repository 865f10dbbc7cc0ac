import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.ts';
import { conversationMembers, conversations } from '../../db/schema/index.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { notFound, refusal, type ChatAccess } from './chat-access.ts';
import { loadAppointmentParties, loadCareThreadFacts, loadConversationFacts } from './conversation-facts.ts';
import { conversationList, type ConversationSummary } from './conversation-list.ts';
import { decideMessaging, decideOpenThread } from './decide-messaging.ts';
import type { ConversationFanOut } from './fan-out.ts';

/** Finding and opening conversations for one speaker: the room of an appointment, care threads, my list. */
export class ConversationDirectory {
  constructor(
    private readonly deps: { db: Db; audit: AuditLog; fanOut: ConversationFanOut },
    private readonly access: ChatAccess,
  ) {}

  private get who() {
    return this.access.who;
  }

  private get memberId() {
    return this.access.memberId;
  }

  /** The room conversation of an appointment, created on first use; for anyone who may read or post in it. */
  async roomConversation(appointmentId: string): Promise<{ id: string }> {
    const parties = await loadAppointmentParties(this.deps.db, appointmentId);
    if (!parties) throw notFound();
    const [existing] = await this.#roomRow(appointmentId);
    const id = existing?.id ?? randomUUID();
    if (!existing) {
      const members = await this.deps.db.transaction(async (tx) => {
        const created = await tx
          .insert(conversations)
          .values({ id, kind: 'room', appointmentId, ...parties, createdBy: this.memberId })
          .onConflictDoNothing()
          .returning({ id: conversations.id });
        return created.length ? this.#addMembers(tx, id, parties) : [];
      });
      this.deps.fanOut.publishMembers(members, id);
    }
    const [row] = existing ? [existing] : await this.#roomRow(appointmentId);
    const { facts } = await this.access.facts(row!.id);
    if (!decideMessaging(this.who, facts, 'read').allow && !decideMessaging(this.who, facts, 'post').allow)
      throw notFound();
    return { id: row!.id };
  }

  /** The care thread of a doctor–patient pair in a clinic, opened if need be (by either side, once eligible). */
  async openCareThread(f: {
    clinicId: string;
    doctorId: string;
    patientId: string;
  }): Promise<{ id: string; created: boolean }> {
    if (this.who.kind !== 'user') throw notFound();
    const facts = await loadCareThreadFacts(this.deps.db, f);
    const [existing] = await this.#careRow(f);
    if (existing) {
      await this.access.decided(existing.id, 'read');
      return { id: existing.id, created: false };
    }
    const decision = decideOpenThread(this.who.actor, facts);
    const entry = this.access.entry('conversation.opened', decision, {
      clinicId: f.clinicId,
      patientId: f.patientId,
    });
    if (!decision.allow) {
      await this.deps.audit.append(entry);
      throw refusal(decision.reason);
    }
    const id = randomUUID();
    const created = await this.access.audited(
      [{ ...entry, event: { ...entry.event, resourceId: id } }],
      async (tx) => {
        const rows = await tx
          .insert(conversations)
          .values({ id, kind: 'care', ...f, createdBy: this.memberId })
          .onConflictDoNothing()
          .returning({ id: conversations.id });
        if (rows.length) return this.#addMembers(tx, id, { ...f, guardianIds: facts.guardianIds });
        return undefined;
      },
    );
    if (created) {
      this.deps.fanOut.publishMembers(created, id);
      return { id, created: true };
    }
    // Opened by the other side at the same moment: theirs is the thread.
    const [winner] = await this.#careRow(f);
    return { id: winner!.id, created: false };
  }

  /** My conversations with their unread counts (messages for me, not mine, after my read mark). */
  async list(): Promise<ConversationSummary[]> {
    if (this.who.kind !== 'user') return [];
    const actor = this.who.actor;
    const candidates = await conversationList(this.deps.db, actor.onBehalfOf ?? actor.userId, this.memberId);
    const facts = await loadConversationFacts(
      this.deps.db,
      candidates.map((c) => c.id),
      this.who,
    );
    const visible = candidates.filter((c) => {
      const f = facts.get(c.id);
      return f && decideMessaging(this.who, f, 'read').allow;
    });
    await this.deps.audit.append(
      this.access.entry(
        'conversation.listed',
        { allow: true, audience: 'all', host: false },
        { clinicId: null, patientId: actor.onBehalfOf ?? (actor.role === 'patient' ? actor.userId : null) },
      ),
    );
    return visible;
  }

  /** One conversation's counts for me, decided as a read (the user socket's subscription was audited as one). */
  async summary(conversationId: string): Promise<ConversationSummary | undefined> {
    if (this.who.kind !== 'user') return undefined;
    await this.access.decided(conversationId, 'read', { audit: false });
    const actor = this.who.actor;
    const [row] = await conversationList(
      this.deps.db,
      actor.onBehalfOf ?? actor.userId,
      this.memberId,
      conversationId,
    );
    return row;
  }

  /** The people an unread e-mail may go to: the doctor, the patient, and the patient's guardians (returned). */
  async #addMembers(
    tx: Tx,
    id: string,
    p: { doctorId: string; patientId: string; guardianIds?: readonly string[] },
  ): Promise<string[]> {
    const guardianIds =
      p.guardianIds ?? (await loadCareThreadFacts(tx as unknown as Db, { clinicId: '', ...p })).guardianIds;
    const ids = [...new Set([p.doctorId, p.patientId, ...guardianIds])];
    await tx
      .insert(conversationMembers)
      .values(ids.map((memberId) => ({ conversationId: id, memberId, memberKind: 'user' as const })))
      .onConflictDoNothing();
    return ids;
  }

  #roomRow(appointmentId: string) {
    return this.deps.db
      .select({ id: conversations.id })
      .from(conversations)
      .where(and(eq(conversations.kind, 'room'), eq(conversations.appointmentId, appointmentId)));
  }

  #careRow(f: { clinicId: string; doctorId: string; patientId: string }) {
    return this.deps.db
      .select({ id: conversations.id })
      .from(conversations)
      .where(
        and(
          eq(conversations.kind, 'care'),
          eq(conversations.clinicId, f.clinicId),
          eq(conversations.doctorId, f.doctorId),
          eq(conversations.patientId, f.patientId),
        ),
      );
  }
}
