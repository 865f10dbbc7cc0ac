import { eq } from 'drizzle-orm';
import { users } from '../../db/schema/index.ts';
import type { ChatMessage } from '../messaging/types.ts';
import type { LiveChatDesk } from './desk.ts';
import type { LiveChat } from './live-chat.ts';

/** Most messages a transcript holds (pages of 200 read until here). */
const MAX_TRANSCRIPT = 5000;

/**
 * E-mails a closed chat's transcript to its patient: what the patient saw (never staff notes),
 * read through chat by the closing staff member (audited as a read), sent through the
 * notification provider with a subject that says nothing about the chat, and audited as sent.
 */
export async function emailTranscript(
  lc: LiveChat,
  desk: LiveChatDesk,
  conversationId: string,
): Promise<void> {
  const facts = await desk.authorizeChat(conversationId, 'view', 'livechat.transcript_sent', {
    auditAllowed: false,
  });
  const chat = desk.chat();
  const all: ChatMessage[] = [];
  let before: number | undefined;
  do {
    const page = await chat.history(conversationId, {
      limit: 200,
      ...(before === undefined ? {} : { before }),
    });
    all.push(...page.messages);
    before = page.nextBefore ?? undefined;
  } while (before !== undefined && all.length < MAX_TRANSCRIPT);
  const shown = all
    .filter((m) => m.audience === 'all' && !m.deleted && m.body !== null)
    .sort((a, b) => a.seq - b.seq);
  const [patient] = await lc.deps.db
    .select({ email: users.email })
    .from(users)
    .where(eq(users.id, facts.patientId!));
  if (!patient?.email) return;
  const lines = shown.map(
    (m) =>
      `[${m.createdAt.slice(0, 16).replace('T', ' ')} UTC] ${m.senderId === facts.patientId ? 'You' : 'Clinic'}: ${m.body}`,
  );
  await lc.deps.notifier.send({
    channel: 'email',
    recipient: patient.email,
    template: 'livechat_transcript',
    subject: 'Your chat transcript',
    body: `The conversation you asked us to send you:\n\n${lines.join('\n')}\n`,
    idempotencyKey: `livechat-transcript:${conversationId}:${shown.at(-1)?.seq ?? 0}`,
  });
  await lc.deps.audit.append(desk.entry('livechat.transcript_sent', facts, conversationId));
}
