// Child process for reminder-outbox.test.ts: claims reminder jobs (mode 'claim') or claims and sends
// them (mode 'send'), reports on stdout, then hangs until the test kills it with SIGKILL, so the
// settle step never runs. Not a test file itself.
import { openDb } from '../../db/client.ts';
import { OutboxNotificationProvider } from '../notifications/outbox-provider.ts';
import type { NotificationProvider } from '../notifications/types.ts';
import { ReminderOutbox } from './reminder-outbox.ts';

const [databaseUrl, nowIso, leaseMs, mode] = process.argv.slice(2);
const handle = await openDb({ databaseUrl: databaseUrl!, maxConnections: 2 });
const real = new OutboxNotificationProvider(handle.db);
let sends = 0;
// 'send' mode: the provider accepts the message, then this process "dies" before deliver() gets
// its answer back, so the job is never settled (the send promise never resolves).
const provider: NotificationProvider = {
  kind: 'outbox',
  send: async (m) => {
    await real.send(m);
    sends++;
    return new Promise<never>(() => {});
  },
};
const outbox = new ReminderOutbox(handle.db, provider, {
  leaseMs: Number(leaseMs),
  batchSize: 50,
  now: () => new Date(nowIso!),
});
const claimed = await outbox.claim();
if (mode === 'send') {
  for (const job of claimed) void outbox.deliver(job);
  while (sends < claimed.length) await new Promise((r) => setTimeout(r, 10));
}
process.stdout.write(`${JSON.stringify({ claimed: claimed.map((c) => c.id), sends })}\n`);
setInterval(() => {}, 1 << 30);
