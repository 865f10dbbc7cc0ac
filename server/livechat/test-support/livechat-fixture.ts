import { randomUUID } from 'node:crypto';
import pino from 'pino';
import type { Db } from '../../../db/client.ts';
import { clinicMembers, clinics, liveChatSettings, users, type UserRole } from '../../../db/schema/index.ts';
import type { ClusterBus } from '../../cluster/cluster-bus.ts';
import { chatNode, nodeKeys } from '../../messaging/test-support/chat-fixture.ts';
import { OutboxNotificationProvider } from '../../notifications/outbox-provider.ts';
import type { NotificationProvider } from '../../notifications/types.ts';
import type { Actor } from '../../policy/types.ts';
import { LiveChat } from '../live-chat.ts';

/** One node's live chat (and the chat under it) on a database. */
export async function liveChatNode(
  db: Db,
  opts: { keys?: ReturnType<typeof nodeKeys>; bus?: ClusterBus; notifier?: NotificationProvider } = {},
) {
  const notifier = opts.notifier ?? new OutboxNotificationProvider(db);
  const { messaging, audit } = await chatNode(db, opts.keys ?? nodeKeys(), {
    notifier,
    ...(opts.bus ? { bus: opts.bus } : {}),
  });
  const livechat = new LiveChat({
    db,
    audit,
    messaging,
    notifier,
    bus: opts.bus,
    logger: pino({ level: 'silent' }),
    leaseMs: 60_000,
    maxMessageBytes: 1000,
  });
  return { livechat, messaging, audit };
}

export const actorOf = (userId: string, role: UserRole, clinicIds: string[]): Actor => ({
  userId,
  role,
  sessionId: randomUUID(),
  clinicIds,
});

/** A clinic with its routing settings and a way to add members of any role. */
export async function seedLiveClinic(
  db: Db,
  settings: { routingMode?: 'auto' | 'manual'; noAnswerSeconds?: number } = {},
) {
  const clinicId = randomUUID();
  await db.insert(clinics).values({ id: clinicId, name: 'Sunrise Clinic' });
  await db.insert(liveChatSettings).values({
    clinicId,
    routingMode: settings.routingMode ?? 'auto',
    noAnswerSeconds: settings.noAnswerSeconds ?? 60,
  });
  const member = async (role: UserRole, displayName = `${role} ${randomUUID().slice(0, 4)}`) => {
    const id = randomUUID();
    await db.insert(users).values({ id, role, email: `${id}@example.test`, displayName });
    await db.insert(clinicMembers).values({ clinicId, userId: id });
    return actorOf(id, role, [clinicId]);
  };
  const members = (role: UserRole, n: number) => Promise.all(Array.from({ length: n }, () => member(role)));
  return { clinicId, member, members };
}

/** A message input for chat: a fresh id and the text. */
export const say = (body: string) => ({ id: randomUUID(), body });

/** The problem code a rejected promise carries ('resolved' when it did not reject). */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}
