import { and, eq } from 'drizzle-orm';
import { fileIdOf } from '../../signaling/protocol/index.ts';
import type { Db } from '../../db/client.ts';
import { files, messages } from '../../db/schema/index.ts';
import { ProblemError } from '../api/errors.ts';
import { PROBLEM } from '../api/problem-codes.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { MessageSealer } from '../crypto/index.ts';
import type { ChatAccess } from './chat-access.ts';
import { conversationScope } from './scope.ts';
import type { ConversationFacts } from './types.ts';

/**
 * The rules of file messages (the protocol's fileMessageBody). A file message is stored only when
 * its file is complete and belongs to the same conversation: a file of another conversation is as
 * unknown as a missing one, so a member learns nothing of conversations they are not in. Whether a
 * message is a file message never changes after it is stored (edits neither make nor change one),
 * so these checks run before the write's transaction without a race: file rows are never deleted,
 * never move to another conversation, and only ever go from uploading to complete.
 */
export class FileMessages {
  constructor(
    private readonly deps: { db: Db; audit: AuditLog; sealer: MessageSealer },
    private readonly access: ChatAccess,
  ) {}

  /** Before a send (after its decision): a file message's file must be a complete file of this conversation. */
  async assertSendable(facts: ConversationFacts, messageId: string, body: string): Promise<void> {
    const fileId = fileIdOf(body);
    if (!fileId) return;
    const [file] = await this.deps.db
      .select({ status: files.status })
      .from(files)
      .where(and(eq(files.id, fileId), eq(files.conversationId, facts.id)));
    if (!file) {
      await this.#refuse('message.sent', 'file_unknown', facts, messageId);
      throw new ProblemError(422, PROBLEM.messageFileUnknown, 'the file is not one of this conversation');
    }
    if (file.status !== 'complete') {
      await this.#refuse('message.sent', 'file_incomplete', facts, messageId);
      throw new ProblemError(409, PROBLEM.fileIncomplete, 'the file is not completely uploaded yet');
    }
  }

  /** Before an edit: neither the new body nor the stored message may be a file message. */
  async assertEditable(facts: ConversationFacts, messageId: string, body: string): Promise<void> {
    if (fileIdOf(body) !== undefined || (await this.#isFileMessage(facts.id, messageId))) {
      await this.#refuse('message.edited', 'file_message', facts, messageId);
      throw new ProblemError(409, PROBLEM.messageNotEditable, 'a file message is never edited');
    }
  }

  async #isFileMessage(conversationId: string, messageId: string): Promise<boolean> {
    const [row] = await this.deps.db
      .select({ sealedBody: messages.sealedBody, deletedAt: messages.deletedAt })
      .from(messages)
      .where(and(eq(messages.conversationId, conversationId), eq(messages.id, messageId)));
    // A missing or deleted message is refused by the edit itself, with its usual code.
    if (!row || row.deletedAt) return false;
    const text = await this.deps.sealer.openText(
      conversationScope(conversationId),
      messageId,
      row.sealedBody,
    );
    return fileIdOf(text) !== undefined;
  }

  #refuse(
    action: 'message.sent' | 'message.edited',
    reason: string,
    facts: ConversationFacts,
    messageId: string,
  ) {
    return this.deps.audit.append(this.access.entry(action, { allow: false, reason }, facts, messageId));
  }
}
