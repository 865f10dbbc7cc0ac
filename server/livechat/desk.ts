import { randomUUID } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import { rowsOf } from '../../db/rows.ts';
import {
  conversationMembers,
  conversations,
  liveChats,
  liveChatSettings,
  operatorPresence,
  type LiveChatStatus,
  type OperatorStatus,
  type RoutingMode,
} from '../../db/schema/index.ts';
import { ProblemError } from '../api/errors.ts';
import { PROBLEM } from '../api/problem-codes.ts';
import type { AuditAction } from '../audit/audit-actions.ts';
import type { AuditEntry } from '../audit/audit-log.ts';
import { assertMessageId, messageBytes } from '../messaging/limits.ts';
import type { Actor } from '../policy/types.ts';
import { currentContext } from '../request-context.ts';
import { decideLiveChat, type LiveChatAction, type LiveChatFacts } from './decide-livechat.ts';
import type { LiveChat } from './live-chat.ts';
import { emailTranscript } from './transcript.ts';
import { anyoneAvailable, colleague, hasFreeSlot, presenceView } from './desk-queries.ts';
import { estimateWait } from './wait-estimate.ts';

const notFound = () => new ProblemError(404, PROBLEM.notFound, 'no such live chat');
const taken = () => new ProblemError(409, PROBLEM.liveChatTaken, 'the chat is no longer waiting');
const atCapacity = () =>
  new ProblemError(409, PROBLEM.liveChatAtCapacity, 'you hold as many chats as your capacity allows');
const wrongState = (detail: string) => new ProblemError(409, PROBLEM.liveChatState, detail);

export type LiveChatState = {
  conversationId: string;
  clinicId: string;
  status: LiveChatStatus;
  assigneeId: string | null;
  /** Place in the queue (1 = next), while queued. */
  position: number | null;
  /** Seconds, from how fast the clinic's queue drained lately; null when there is too little to go on. */
  estimatedWaitSeconds: number | null;
};

/**
 * One actor's live chat desk: the patient starting, following and reopening a chat; operators
 * setting presence, listing the queue, accepting, handing over, closing. Each operation loads the
 * facts, decides (decideLiveChat), and writes its change with its audit entries in one
 * transaction under the clinic's routing lock; a refusal is audited too. Messages go through chat
 * (the same writer, sealing and delivery as every conversation).
 */
export class LiveChatDesk {
  constructor(
    private readonly lc: LiveChat,
    readonly actor: Actor,
  ) {}

  private get db() {
    return this.lc.deps.db;
  }

  chat() {
    return this.lc.deps.messaging.forActor({ kind: 'user', actor: this.actor, presence: 'absent' });
  }

  /** The patient asks to talk to the clinic: a live chat with their first message, in the queue (or an offline request when nobody is online). */
  async start(input: {
    clinicId: string;
    department?: string | undefined;
    message: { id: string; body: string };
  }): Promise<LiveChatState> {
    assertMessageId(input.message.id);
    messageBytes(input.message.body, this.lc.deps.maxMessageBytes);
    const facts: LiveChatFacts = {
      clinicId: input.clinicId,
      patientId: this.actor.userId,
      assigneeId: null,
      status: null,
    };
    await this.#decide(facts, 'start', null, 'livechat.started');
    const at = new Date();
    const id = randomUUID();
    await this.db.transaction(async (tx) => {
      const status: LiveChatStatus = (await anyoneAvailable(tx, input.clinicId, at)) ? 'queued' : 'offline';
      await tx.insert(conversations).values({
        id,
        kind: 'livechat',
        clinicId: input.clinicId,
        doctorId: null,
        patientId: this.actor.userId,
        createdBy: this.actor.userId,
      });
      await tx.insert(liveChats).values({
        conversationId: id,
        clinicId: input.clinicId,
        department: input.department ?? null,
        patientId: this.actor.userId,
        status,
        queuedAt: at,
      });
      await tx
        .insert(conversationMembers)
        .values({ conversationId: id, memberId: this.actor.userId, memberKind: 'user' });
      await this.lc.deps.audit.appendWithin(tx, [this.entry('livechat.started', facts, id)]);
    });
    this.lc.deps.messaging.fanOut.publishMembers([this.actor.userId], id);
    await this.chat().send(id, input.message);
    await this.lc.route(input.clinicId);
    return this.state(id);
  }

  /** Where my chat stands: status, holder, place in the queue and the estimated wait. */
  async state(conversationId: string): Promise<LiveChatState> {
    const facts = await this.authorizeChat(conversationId, 'view', 'livechat.viewed', {
      auditAllowed: false,
    });
    return this.db.transaction(async (tx) => {
      const [row] = rowsOf<{ status: LiveChatStatus; assignee_id: string | null; position: string | null }>(
        await tx.execute(sql`
          select l.status, l.assignee_id,
                 case when l.status = 'queued' then (select count(*) + 1 from ${liveChats} q
                   where q.clinic_id = l.clinic_id and q.status = 'queued' and q.department is not distinct from l.department
                     and (q.queued_at, q.conversation_id) < (l.queued_at, l.conversation_id)) end as position
            from ${liveChats} l where l.conversation_id = ${conversationId}`),
      );
      const position = row!.position === null ? null : Number(row!.position);
      await this.lc.deps.audit.appendWithin(tx, [this.entry('livechat.viewed', facts, conversationId)]);
      return {
        conversationId,
        clinicId: facts.clinicId,
        status: row!.status,
        assigneeId: row!.assignee_id,
        position,
        estimatedWaitSeconds: position === null ? null : await estimateWait(tx, facts.clinicId, position),
      };
    });
  }

  /** The patient reopens a closed chat: it queues again as a new arrival, for whoever is available now. */
  async reopen(conversationId: string): Promise<LiveChatState> {
    const facts = await this.authorizeChat(conversationId, 'reopen', 'livechat.reopened', {
      auditAllowed: false,
    });
    const at = new Date();
    const previous = await this.lc.withClinic(facts.clinicId, async (tx) => {
      const rows = rowsOf<{ old: string | null }>(
        await tx.execute(sql`
          update ${liveChats} l set status = 'queued', queued_at = ${at.toISOString()}::timestamptz, assignee_id = null, assigned_at = null,
                 first_response_at = null, closed_at = null, resolution = null
            from (select assignee_id as old from ${liveChats} where conversation_id = ${conversationId}) p
           where l.conversation_id = ${conversationId} and l.status = 'closed' returning p.old`),
      );
      if (!rows.length) return undefined;
      await tx.update(conversations).set({ doctorId: null }).where(eq(conversations.id, conversationId));
      await this.lc.deps.audit.appendWithin(tx, [this.entry('livechat.reopened', facts, conversationId)]);
      return rows[0]!.old;
    });
    if (previous === undefined) throw wrongState('only a closed chat is reopened');
    if (previous) this.lc.deps.messaging.membershipChanged([previous]);
    await this.lc.route(facts.clinicId);
    return this.state(conversationId);
  }

  /** An operator's presence and capacity in a clinic, leased for leaseMs (renewed by heartbeat). */
  async setPresence(input: {
    clinicId: string;
    status: OperatorStatus;
    capacity?: number | undefined;
    department?: string | null | undefined;
  }) {
    await this.authorizeClinic(input.clinicId, 'presence');
    const at = new Date();
    const lease = new Date(at.getTime() + this.lc.deps.leaseMs);
    const set = {
      status: input.status,
      leaseExpiresAt: lease,
      updatedAt: at,
      ...(input.capacity === undefined ? {} : { capacity: input.capacity }),
      ...(input.department === undefined ? {} : { department: input.department }),
    };
    const [row] = await this.db
      .insert(operatorPresence)
      .values({ operatorId: this.actor.userId, clinicId: input.clinicId, ...set })
      .onConflictDoUpdate({ target: [operatorPresence.clinicId, operatorPresence.operatorId], set })
      .returning();
    if (input.status === 'available') await this.lc.route(input.clinicId);
    return presenceView(row!);
  }

  /** Keeps my presence alive; an expired one was written offline and must be set again. */
  async heartbeat(clinicId: string) {
    await this.authorizeClinic(clinicId, 'presence');
    const at = new Date();
    const [row] = await this.db
      .update(operatorPresence)
      .set({ leaseExpiresAt: new Date(at.getTime() + this.lc.deps.leaseMs) })
      .where(
        and(
          eq(operatorPresence.clinicId, clinicId),
          eq(operatorPresence.operatorId, this.actor.userId),
          sql`${operatorPresence.status} <> 'offline' and ${operatorPresence.leaseExpiresAt} > ${at.toISOString()}::timestamptz`,
        ),
      )
      .returning();
    if (!row) throw wrongState('no live presence: set it again');
    return presenceView(row);
  }

  /** The clinic's waiting chats, oldest first, with offline requests after them. */
  async queue(clinicId: string) {
    await this.authorizeClinic(clinicId, 'queue');
    return this.db.transaction(async (tx) => {
      const rows = rowsOf<Record<string, unknown>>(
        await tx.execute(sql`
          select conversation_id, status, department, queued_at, patient_id,
                 case when status = 'queued' then row_number() over (partition by status, department order by queued_at, conversation_id) end as position
            from ${liveChats} where clinic_id = ${clinicId} and status in ('queued', 'offline')
           order by status desc, queued_at, conversation_id limit 500`),
      );
      await this.lc.deps.audit.appendWithin(tx, [
        this.entry(
          'livechat.queue_listed',
          { clinicId, patientId: null, assigneeId: null, status: null },
          null,
        ),
      ]);
      return rows.map((r) => ({
        conversationId: r.conversation_id as string,
        status: r.status as LiveChatStatus,
        department: (r.department as string | null) ?? null,
        queuedAt: new Date(r.queued_at as string).toISOString(),
        position: r.position === null ? null : Number(r.position),
      }));
    });
  }

  /** Manual pick (or an offline request answered): exactly one operator wins; the others get 409 livechat_taken. */
  async accept(conversationId: string): Promise<LiveChatState> {
    const facts = await this.authorizeChat(conversationId, 'accept', 'livechat.accepted', {
      auditAllowed: false,
    });
    const at = new Date();
    const outcome = await this.lc.withClinic(facts.clinicId, async (tx) => {
      if (!(await hasFreeSlot(tx, facts.clinicId, this.actor.userId))) return 'capacity' as const;
      const won = await tx
        .update(liveChats)
        .set({ status: 'assigned', assigneeId: this.actor.userId, assignedAt: at, firstResponseAt: null })
        .where(
          and(
            eq(liveChats.conversationId, conversationId),
            sql`${liveChats.status} in ('queued', 'offline')`,
          ),
        )
        .returning({ patientId: liveChats.patientId });
      if (!won.length) return 'taken' as const;
      await tx
        .update(conversations)
        .set({ doctorId: this.actor.userId })
        .where(eq(conversations.id, conversationId));
      await tx
        .update(operatorPresence)
        .set({ lastAssignedAt: at })
        .where(
          and(
            eq(operatorPresence.clinicId, facts.clinicId),
            eq(operatorPresence.operatorId, this.actor.userId),
          ),
        );
      await this.lc.deps.audit.appendWithin(tx, [this.entry('livechat.accepted', facts, conversationId)]);
      return 'won' as const;
    });
    if (outcome === 'capacity') throw atCapacity();
    if (outcome === 'taken') throw taken();
    await this.lc.announceAssigned(facts.clinicId, [
      { conversationId, operatorId: this.actor.userId, patientId: facts.patientId! },
    ]);
    return this.state(conversationId);
  }

  /**
   * The holder hands the chat to another operator of the clinic (within their capacity) or to a
   * doctor of the clinic, with an optional internal note (staff only) written before the handover,
   * so the new holder reads it first. Messages stay where they are: the conversation is the same.
   */
  async transfer(
    conversationId: string,
    input: { toUserId: string; note?: { id: string; body: string } | undefined },
  ): Promise<LiveChatState> {
    const facts = await this.authorizeChat(conversationId, 'transfer', 'livechat.transferred', {
      auditAllowed: false,
    });
    const target = await colleague(this.db, facts.clinicId, input.toUserId);
    if (!target || target.id === this.actor.userId)
      throw new ProblemError(422, PROBLEM.invalidRequest, 'transfer to an operator or doctor of this clinic');
    if (input.note) await this.chat().send(conversationId, { ...input.note, audience: 'staff' });
    const at = new Date();
    const outcome = await this.lc.withClinic(facts.clinicId, async (tx) => {
      if (target.role === 'operator' && !(await hasFreeSlot(tx, facts.clinicId, target.id)))
        return 'capacity' as const;
      const moved = await tx
        .update(liveChats)
        .set({ assigneeId: target.id, assignedAt: at, firstResponseAt: null })
        .where(
          and(
            eq(liveChats.conversationId, conversationId),
            eq(liveChats.status, 'assigned'),
            eq(liveChats.assigneeId, this.actor.userId),
          ),
        )
        .returning({ id: liveChats.conversationId });
      if (!moved.length) return 'state' as const;
      await tx.update(conversations).set({ doctorId: target.id }).where(eq(conversations.id, conversationId));
      await this.lc.deps.audit.appendWithin(tx, [this.entry('livechat.transferred', facts, conversationId)]);
      return 'moved' as const;
    });
    if (outcome === 'capacity') throw atCapacity();
    if (outcome === 'state') throw wrongState('you no longer hold this chat');
    const { messaging } = this.lc.deps;
    messaging.fanOut.publishMembers([target.id], conversationId);
    messaging.membershipChanged([this.actor.userId]);
    const event = {
      type: 'livechat.transferred' as const,
      conversationId,
      fromId: this.actor.userId,
      assigneeId: target.id,
    };
    for (const to of [facts.patientId!, target.id]) this.lc.events.publish(to, event);
    await this.lc.route(facts.clinicId);
    return this.state(conversationId);
  }

  /** The holder (or a clinic admin) closes the chat with a resolution tag; the transcript goes to the patient if asked. */
  async close(
    conversationId: string,
    input: { resolution: string; emailTranscript?: boolean | undefined },
  ): Promise<LiveChatState> {
    const facts = await this.authorizeChat(conversationId, 'close', 'livechat.closed', {
      auditAllowed: false,
    });
    const at = new Date();
    const closed = await this.lc.withClinic(facts.clinicId, async (tx) => {
      const rows = await tx
        .update(liveChats)
        .set({ status: 'closed', closedAt: at, resolution: input.resolution })
        .where(and(eq(liveChats.conversationId, conversationId), eq(liveChats.status, 'assigned')))
        .returning({ id: liveChats.conversationId });
      if (rows.length)
        await this.lc.deps.audit.appendWithin(tx, [this.entry('livechat.closed', facts, conversationId)]);
      return rows.length > 0;
    });
    if (!closed) throw wrongState('the chat is not open');
    const event = { type: 'livechat.closed' as const, conversationId, resolution: input.resolution };
    for (const to of new Set([facts.patientId!, facts.assigneeId!])) this.lc.events.publish(to, event);
    if (input.emailTranscript) await emailTranscript(this.lc, this, conversationId);
    await this.lc.route(facts.clinicId);
    return this.state(conversationId);
  }

  /** The clinic's routing mode and no-answer time (clinic admins). */
  async setSettings(clinicId: string, s: { routingMode: RoutingMode; noAnswerSeconds: number }) {
    await this.authorizeClinic(clinicId, 'settings');
    await this.db
      .insert(liveChatSettings)
      .values({ clinicId, ...s })
      .onConflictDoUpdate({ target: liveChatSettings.clinicId, set: { ...s, updatedAt: new Date() } });
    if (s.routingMode === 'auto') await this.lc.route(clinicId);
    return s;
  }

  /** Facts of a chat, decided; a refusal is audited and thrown (404 outside the clinic, 403 for its staff). */
  async authorizeChat(
    conversationId: string,
    action: LiveChatAction,
    audited: AuditAction,
    opts: { auditAllowed: boolean },
  ): Promise<LiveChatFacts & { conversationId: string }> {
    if (typeof conversationId !== 'string' || !/^[0-9a-f-]{36}$/.test(conversationId)) throw notFound();
    const [row] = await this.db
      .select({
        clinicId: liveChats.clinicId,
        patientId: liveChats.patientId,
        assigneeId: liveChats.assigneeId,
        status: liveChats.status,
      })
      .from(liveChats)
      .where(eq(liveChats.conversationId, conversationId));
    if (!row) throw notFound();
    await this.#decide(row, action, conversationId, audited, opts.auditAllowed);
    return { ...row, conversationId };
  }

  async #decide(
    facts: LiveChatFacts,
    action: LiveChatAction,
    conversationId: string | null,
    audited: AuditAction,
    auditAllowed = false,
  ) {
    const decision = decideLiveChat(this.actor, facts, action);
    if (!decision.allow) {
      await this.lc.deps.audit.append(this.entry(audited, facts, conversationId, decision.reason));
      throw decision.reason === 'not_member'
        ? notFound()
        : new ProblemError(403, PROBLEM.forbidden, `not allowed (${decision.reason})`);
    }
    if (auditAllowed) await this.lc.deps.audit.append(this.entry(audited, facts, conversationId));
  }

  /** Clinic-wide actions (presence, queue, settings): only the clinic's staff; others learn nothing. */
  authorizeClinic(clinicId: string, action: LiveChatAction) {
    // Refusals of clinic-wide actions are recorded under the queue's read: what they would have revealed.
    return this.#decide(
      { clinicId, patientId: null, assigneeId: null, status: null },
      action,
      null,
      'livechat.queue_listed',
    );
  }

  entry(
    action: AuditAction,
    facts: LiveChatFacts,
    conversationId: string | null,
    deniedFor?: string,
  ): AuditEntry {
    const ctx = currentContext();
    return {
      event: {
        action,
        outcome: deniedFor ? 'denied' : 'allowed',
        resourceType: 'live_chat',
        resourceId: conversationId,
        patientId: facts.patientId,
        clinicId: facts.clinicId,
        reason: deniedFor ?? null,
      },
      ctx: {
        requestId: ctx?.requestId ?? '',
        ip: ctx?.ip ?? '',
        userAgent: ctx?.userAgent,
        ...ctx,
        actorId: this.actor.userId,
        actorRole: this.actor.role,
        sessionId: this.actor.sessionId,
      },
    };
  }
}
