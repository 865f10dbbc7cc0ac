// The server side of the files benchmark, in its own process so that its RSS is the server's
// alone: the real app (createServices + createApp) on node:http or the uWS bridge (TIER), a fresh PostgreSQL database, one
// clinic with a room conversation. Prints {base, token, room} as one JSON line; stops when stdin closes.
import { openDb } from '../../db/client.ts';
import { userActor } from '../../server/messaging/test-support/chat-fixture.ts';
import { startFilesNode } from '../../server/files/test-support/files-harness.ts';
import { createTestDatabase } from '../../test/helpers/pg.ts';

const database = await createTestDatabase();
const handle = await openDb({ databaseUrl: database.url, maxConnections: 4 });
const node = await startFilesNode(handle, {}, process.env.TIER === 'uws' ? 'uws' : 'ws');
const s = node.seed;
const room = (
  await node.services.messaging
    .forActor(userActor(s.doctorId, 'doctor', [s.clinicId], 'admitted'))
    .roomConversation(s.appointmentId)
).id;
const token = await node.tokenFor(s.doctorId, 'doctor');
process.stdout.write(`${JSON.stringify({ base: node.base, token, room })}\n`);
process.stdin.resume();
process.stdin.on('end', async () => {
  await node.close();
  await handle.close();
  await database.drop();
  process.exit(0);
});
