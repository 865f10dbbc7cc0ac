import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { clinics, liveChatCannedReplies, users } from '../../db/schema/index.ts';
import { ProblemError } from '../api/errors.ts';
import { PROBLEM } from '../api/problem-codes.ts';
import type { LiveChatDesk } from './desk.ts';
import type { LiveChat } from './live-chat.ts';

/** The placeholders a canned reply may hold; anything else in braces is refused when it is saved. */
export const PLACEHOLDERS = ['patientFirstName', 'clinicName'] as const;
type Placeholder = (typeof PLACEHOLDERS)[number];
const PLACEHOLDER = /\{([A-Za-z]+)\}/g;

/** A canned reply's text with its placeholders filled in. */
export function renderReply(body: string, values: Record<Placeholder, string>): string {
  return body.replace(PLACEHOLDER, (whole, name: string) =>
    (PLACEHOLDERS as readonly string[]).includes(name) ? values[name as Placeholder] : whole,
  );
}

export function assertPlaceholders(body: string): void {
  for (const [, name] of body.matchAll(PLACEHOLDER))
    if (!(PLACEHOLDERS as readonly string[]).includes(name!))
      throw new ProblemError(422, PROBLEM.invalidBody, `unknown placeholder {${name}}`, [
        { field: 'body', message: `known placeholders: ${PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}` },
      ]);
}

/** A clinic's canned replies: kept by its operators and admins, sent by a chat's holder with the placeholders filled. */
export class CannedReplies {
  constructor(
    private readonly lc: LiveChat,
    private readonly desk: LiveChatDesk,
  ) {}

  async list(clinicId: string) {
    await this.desk.authorizeClinic(clinicId, 'canned_manage');
    return this.lc.deps.db
      .select({
        id: liveChatCannedReplies.id,
        shortcut: liveChatCannedReplies.shortcut,
        body: liveChatCannedReplies.body,
      })
      .from(liveChatCannedReplies)
      .where(eq(liveChatCannedReplies.clinicId, clinicId))
      .orderBy(liveChatCannedReplies.shortcut);
  }

  async create(clinicId: string, input: { shortcut: string; body: string }) {
    await this.desk.authorizeClinic(clinicId, 'canned_manage');
    assertPlaceholders(input.body);
    const id = randomUUID();
    const rows = await this.lc.deps.db
      .insert(liveChatCannedReplies)
      .values({ id, clinicId, ...input, createdBy: this.desk.actor.userId })
      .onConflictDoNothing()
      .returning({ id: liveChatCannedReplies.id });
    if (!rows.length)
      throw new ProblemError(409, PROBLEM.conflict, 'a canned reply has that shortcut already');
    return { id, ...input };
  }

  async remove(clinicId: string, id: string) {
    await this.desk.authorizeClinic(clinicId, 'canned_manage');
    const rows = await this.lc.deps.db
      .delete(liveChatCannedReplies)
      .where(and(eq(liveChatCannedReplies.clinicId, clinicId), eq(liveChatCannedReplies.id, id)))
      .returning({ id: liveChatCannedReplies.id });
    if (!rows.length) throw new ProblemError(404, PROBLEM.notFound, 'no such canned reply');
  }

  /** The holder sends a canned reply into the chat (through chat, which seals, stores and audits it). */
  async send(conversationId: string, input: { replyId: string; id: string }) {
    const facts = await this.desk.authorizeChat(conversationId, 'reply', 'message.sent', {
      auditAllowed: false,
    });
    const { db } = this.lc.deps;
    const [reply] = await db
      .select({ body: liveChatCannedReplies.body })
      .from(liveChatCannedReplies)
      .where(
        and(eq(liveChatCannedReplies.clinicId, facts.clinicId), eq(liveChatCannedReplies.id, input.replyId)),
      );
    if (!reply) throw new ProblemError(404, PROBLEM.notFound, 'no such canned reply');
    const [[patient], [clinic]] = await Promise.all([
      db.select({ name: users.displayName }).from(users).where(eq(users.id, facts.patientId!)),
      db.select({ name: clinics.name }).from(clinics).where(eq(clinics.id, facts.clinicId)),
    ]);
    const body = renderReply(reply.body, {
      patientFirstName: (patient?.name ?? '').trim().split(/\s+/)[0] ?? '',
      clinicName: clinic?.name ?? '',
    });
    return this.desk.chat().send(conversationId, { id: input.id, body });
  }
}
