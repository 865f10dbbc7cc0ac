import type { Logger } from 'pino';
import type { Db } from '../../db/client.ts';
import { clinicMessagingSettings } from '../../db/schema/index.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { ClusterBus } from '../cluster/cluster-bus.ts';
import type { MessagingConfig } from '../config.ts';
import type { MessageSealer } from '../crypto/index.ts';
import type { NotificationProvider } from '../notifications/types.ts';
import { ChatRepository } from './chat-repository.ts';
import { ConversationFactsCache } from './conversation-facts.ts';
import { ConversationFanOut } from './fan-out.ts';
import { SendRateLimiter } from './limits.ts';
import { MessageWriter } from './message-writer.ts';
import { ReceiptWriter } from './receipt-writer.ts';
import type { ChatActor } from './types.ts';
import { UnreadNotifier } from './unread-notifier.ts';

export type MessagingDeps = {
  db: Db;
  audit: AuditLog;
  sealer: MessageSealer;
  bus: ClusterBus | undefined;
  logger: Logger;
  config: MessagingConfig;
  /** Unread e-mails go through the deployment's provider (SMTP or the outbox). */
  notifier: NotificationProvider;
  publicUrl: () => string;
};

export { conversationScope } from './scope.ts';

/**
 * Chat as the rest of the server sees it (services.messaging): a repository bound to one speaker
 * (`forActor`), which decides, writes and audits; the group-commit writer and the fan-out shared by
 * all of them. The socket layer takes a repository per connection and subscribes through it.
 */
export class Messaging {
  readonly writer: MessageWriter;
  readonly receipts: ReceiptWriter;
  readonly fanOut: ConversationFanOut;
  readonly limiter: SendRateLimiter;
  readonly #facts: ConversationFactsCache;
  /** Started by the node (MESSAGE_NOTIFY_WORKER); tests call runOnce(). */
  readonly unreadNotifier: UnreadNotifier;

  constructor(private readonly deps: MessagingDeps) {
    this.writer = new MessageWriter(deps.db, deps.audit);
    this.receipts = new ReceiptWriter(deps.db, deps.audit);
    this.fanOut = new ConversationFanOut(deps.bus, (err) =>
      deps.logger.warn({ err: { message: (err as Error)?.message } }, 'chat fan-out publish failed'),
    );
    this.#facts = new ConversationFactsCache(deps.db);
    this.limiter = new SendRateLimiter(deps.config.ratePerSecond, deps.config.rateBurst);
    this.unreadNotifier = new UnreadNotifier({
      db: deps.db,
      provider: deps.notifier,
      publicUrl: deps.publicUrl,
      logger: deps.logger,
      delayMs: deps.config.unreadNotifyMs,
      tickMs: deps.config.notifyTickMs,
    });
  }

  forActor(who: ChatActor): ChatRepository {
    return new ChatRepository(
      {
        ...this.deps,
        writer: this.writer,
        receipts: this.receipts,
        fanOut: this.fanOut,
        limiter: this.limiter,
        facts: this.#facts,
      },
      who,
    );
  }

  /**
   * After a committed change to who someone is (a clinic membership or guardianship added or
   * ended): their user sockets on every node ask again which conversations they may read, start
   * carrying the new ones and drop those they no longer may. Whoever changes those facts calls it.
   */
  membershipChanged(userIds: readonly string[]): void {
    this.fanOut.publishMembers(userIds);
  }

  /** The clinic's choice whether patients may open care threads; callers have passed the policy (clinic admin). */
  async setPatientsMayOpenThreads(clinicId: string, allowed: boolean): Promise<void> {
    await this.deps.db
      .insert(clinicMessagingSettings)
      .values({ clinicId, patientsMayOpenThreads: allowed })
      .onConflictDoUpdate({
        target: clinicMessagingSettings.clinicId,
        set: { patientsMayOpenThreads: allowed, updatedAt: new Date() },
      });
  }
}
