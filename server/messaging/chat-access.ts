import type { Db, Tx } from '../../db/client.ts';
import { ProblemError } from '../api/errors.ts';
import { PROBLEM } from '../api/problem-codes.ts';
import type { AuditAction } from '../audit/audit-actions.ts';
import type { AuditEntry, AuditLog } from '../audit/audit-log.ts';
import { currentContext } from '../request-context.ts';
import type { ConversationFactsCache } from './conversation-facts.ts';
import { decideMessaging } from './decide-messaging.ts';
import type { ChatActor, ConversationFacts, MessagingAction, MessagingDecision } from './types.ts';

export type Allowed = Extract<MessagingDecision, { allow: true }>;

/**
 * The deciding and auditing half of a chat repository, bound to one speaker: facts or 404, the
 * decision (a refusal audited and thrown), audit entries that name the speaker, and the
 * transaction that writes a change together with its entries.
 */
export class ChatAccess {
  readonly memberId: string;

  constructor(
    private readonly deps: { db: Db; audit: AuditLog; facts: ConversationFactsCache },
    readonly who: ChatActor,
  ) {
    this.memberId = who.kind === 'user' ? who.actor.userId : who.guestId;
  }

  /** Facts or 404; then the decision. A refusal of a PHI action is audited and thrown as 404 (not a member: the conversation stays unknown) or 403. */
  async decided(
    conversationId: string,
    action: MessagingAction,
    opts: { audit: boolean; action?: AuditAction } = { audit: true },
  ): Promise<{ facts: ConversationFacts; decision: Allowed }> {
    const { facts } = await this.facts(conversationId);
    const decision = decideMessaging(this.who, facts, action);
    if (!decision.allow) {
      const audited: AuditAction = opts.action ?? (action === 'post' ? 'message.sent' : 'conversation.read');
      await this.deps.audit.append(this.entry(audited, decision, facts));
      throw refusal(decision.reason);
    }
    if (opts.audit && opts.action) await this.deps.audit.append(this.entry(opts.action, decision, facts));
    return { facts, decision };
  }

  async facts(conversationId: string): Promise<{ facts: ConversationFacts }> {
    if (typeof conversationId !== 'string' || !/^[0-9a-f-]{36}$/.test(conversationId)) throw notFound();
    const facts = await this.deps.facts.get(conversationId, this.who);
    if (!facts) throw notFound();
    return { facts };
  }

  /** The audit entry with the speaker filled in where no request context says who it is (socket calls, guests). */
  entry(
    action: AuditAction,
    decision: MessagingDecision,
    facts: { id?: string; clinicId: string | null; patientId: string | null },
    messageId?: string,
  ): AuditEntry {
    const ctx = currentContext();
    const speaker =
      this.who.kind === 'user'
        ? {
            actorId: this.who.actor.userId,
            actorRole: this.who.actor.role,
            sessionId: this.who.actor.sessionId,
            ...(this.who.actor.onBehalfOf ? { onBehalfOf: this.who.actor.onBehalfOf } : {}),
          }
        : { actorId: `guest:${this.who.guestId}` };
    return {
      event: {
        action,
        outcome: decision.allow ? 'allowed' : 'denied',
        resourceType: messageId ? 'message' : 'conversation',
        resourceId: messageId ?? facts.id ?? null,
        patientId: facts.patientId,
        clinicId: facts.clinicId,
        reason: decision.allow ? null : decision.reason,
      },
      ctx: {
        requestId: ctx?.requestId ?? '',
        ip: ctx?.ip ?? '',
        userAgent: ctx?.userAgent,
        ...ctx,
        ...speaker,
      },
    };
  }

  audited<T>(entries: AuditEntry[], work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.deps.db.transaction(async (tx) => {
      const result = await work(tx);
      await this.deps.audit.appendWithin(tx, entries);
      return result;
    });
  }
}

export const notFound = () => new ProblemError(404, PROBLEM.notFound, 'no such conversation');
/** Not a member: the conversation stays unknown (404). Known but not now (waiting room, expired guest): 403. */
export const refusal = (reason: string) =>
  reason === 'not_member' || reason === 'not_party'
    ? notFound()
    : new ProblemError(403, PROBLEM.forbidden, `not allowed (${reason})`);
