import type { Logger } from 'pino';
import type { Config } from './config.ts';
import type { Services } from './services.ts';

type OnStop = (name: string, stop: () => Promise<void> | void) => void;

/**
 * The work a node does besides answering requests: reminders and dispatch expiry, webhook
 * deliveries, the live chat sweeper, unread chat e-mails. Each claims its rows in the database, so
 * every node runs it and each item is done once. Started after the database (they need it) and
 * before the socket server; `onStop` registers each to stop before the database closes.
 */
export function startBackgroundWork(config: Config, services: Services, logger: Logger, onStop: OnStop) {
  if (config.scheduling.workerEnabled) {
    const worker = services.scheduling.createWorker(logger);
    worker.start();
    onStop('scheduling worker', () => worker.stop());
    logger.info({ tickMs: config.scheduling.workerTickMs }, 'scheduling worker started');
  }
  if (config.webhooks.workerEnabled) {
    // Every node delivers: deliveries are claimed in the database, each attempt made once.
    const webhookWorker = services.webhooks.createWorker(logger);
    webhookWorker.start();
    onStop('webhook delivery', () => webhookWorker.stop());
  }
  if (config.livechat.workerEnabled) {
    // Unanswered live chats back to the queue, dead operators offline: every node sweeps, under clinic locks.
    const stopSweeper = services.livechat.startSweeper(config.livechat.sweepMs);
    onStop('live chat sweeper', stopSweeper);
  }
  if (config.messaging.notifyWorkerEnabled) {
    // Unread chat e-mails: claims in the database, so every node runs it and each member gets one.
    const notices = services.messaging.unreadNotifier;
    notices.start();
    onStop('unread chat notices', () => notices.stop());
  }
}
