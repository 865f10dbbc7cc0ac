import { sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { rowsOf } from '../../db/rows.ts';
import { appointments } from '../../db/schema/index.ts';
import type { AuditAction } from '../audit/audit-actions.ts';
import type { AuditEntry, AuditLog } from '../audit/audit-log.ts';
import { ChatAccess, notFound } from '../messaging/chat-access.ts';
import { ConversationFactsCache } from '../messaging/conversation-facts.ts';
import type { ChatActor } from '../messaging/types.ts';
import { fileActorId, type FileActor } from './file-actor.ts';
import type { RoomAdmissions } from './room-admissions.ts';

/** The conversation a file belongs to, as far as files need it. */
export type FileConversation = {
  id: string;
  kind: 'room' | 'care' | 'livechat';
  clinicId: string;
  patientId: string;
};

export type DecidedConversation = {
  conversation: FileConversation;
  /** The audit entry of an allowed file action, naming the actor (to append inside the action's transaction). */
  entry: (action: AuditAction, fileId: string) => AuditEntry;
};

/**
 * Who may send a file to (post) or fetch one from (read) a conversation: its members, as chat
 * decides them. A refusal is audited and thrown (404 for a non-member, 403 otherwise).
 */
export interface ConversationAccess {
  decide(
    actor: FileActor,
    conversationId: string,
    action: 'post' | 'read',
    refusedAs: AuditAction,
  ): Promise<DecidedConversation>;
}

/**
 * ConversationAccess on the messaging core's decision (decideMessaging through ChatAccess). HTTP
 * knows nothing of the room's waiting room: with an access token, a patient counts as admitted to
 * the room conversation while the consultation is in the call, and as absent (read-only) otherwise.
 * A room file grant reaches its own room conversation only, as an admitted participant while the
 * admission it names is open and as an absent one after (a guest then reaches nothing).
 */
export class MessagingConversationAccess implements ConversationAccess {
  readonly #chat: { db: Db; audit: AuditLog; facts: ConversationFactsCache };
  readonly #admissions: RoomAdmissions;

  constructor(deps: { db: Db; audit: AuditLog; admissions: RoomAdmissions }) {
    this.#chat = { db: deps.db, audit: deps.audit, facts: new ConversationFactsCache(deps.db) };
    this.#admissions = deps.admissions;
  }

  async decide(
    actor: FileActor,
    conversationId: string,
    action: 'post' | 'read',
    refusedAs: AuditAction,
  ): Promise<DecidedConversation> {
    const access = new ChatAccess(this.#chat, await this.#speaker(actor, conversationId, refusedAs));
    const { facts, decision } = await access.decided(conversationId, action, {
      audit: false,
      action: refusedAs,
    });
    return {
      conversation: { id: facts.id, kind: facts.kind, clinicId: facts.clinicId, patientId: facts.patientId },
      entry: (auditAction, fileId) => {
        const e = access.entry(auditAction, decision, facts);
        return { ...e, event: { ...e.event, resourceType: 'file', resourceId: fileId } };
      },
    };
  }

  async #speaker(actor: FileActor, conversationId: string, refusedAs: AuditAction): Promise<ChatActor> {
    if (actor.kind === 'room') {
      if (conversationId !== actor.conversationId) {
        // A grant reaches its room's conversation only: any other one stays unknown, and the try is audited.
        const access = new ChatAccess(this.#chat, actor.who);
        await this.#chat.audit.append(
          access.entry(
            refusedAs,
            { allow: false, reason: 'not_member' },
            { clinicId: null, patientId: null },
          ),
        );
        throw notFound();
      }
      const admitted = await this.#admissions.isOpen(actor.admissionId, conversationId, fileActorId(actor));
      return { ...actor.who, presence: admitted ? 'admitted' : 'absent' };
    }
    const probe = new ChatAccess(this.#chat, { kind: 'user', actor: actor.actor, presence: 'absent' });
    const { facts } = await probe.facts(conversationId);
    const presence =
      facts.appointmentId && (await this.#inProgress(facts.appointmentId)) ? 'admitted' : 'absent';
    return { kind: 'user', actor: actor.actor, presence };
  }

  async #inProgress(appointmentId: string): Promise<boolean> {
    const result = await this.#chat.db.execute(
      sql`select 1 from ${appointments} where ${appointments.id} = ${appointmentId} and ${appointments.status} = 'in_call'`,
    );
    return rowsOf(result).length > 0;
  }
}
