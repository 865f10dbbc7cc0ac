import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestNode } from '../test/helpers/node.ts';
import { fakeRtpParameters, mintFor, newRoomId } from '../test/helpers/tokens.ts';
import { connectClient, type TestClient } from '../test/helpers/ws-client.ts';

// One peer per router: the second participant of a room is on the second worker.
let t: Awaited<ReturnType<typeof startTestNode>>;
const clients: TestClient[] = [];
beforeAll(async () => {
  t = await startTestNode({ SFU_WORKERS: '2', SFU_ROOM_PEERS_PER_WORKER: '1' });
});
afterAll(async () => {
  clients.forEach((c) => c.close());
  await t.node.stop();
});

async function enter(room: string, sub: string) {
  const c = await connectClient(t.wsUrl, await mintFor(t.node, room, sub));
  clients.push(c);
  const { rtpCapabilities } = await c.request('getRouterRtpCapabilities', {});
  await c.request('join', { rtpCapabilities: rtpCapabilities as never });
  return c;
}
const produce = async (c: TestClient, kind: 'audio' | 'video') => {
  const { id } = await c.request('createTransport', { direction: 'send' });
  return c.request('produce', {
    transportId: id,
    kind,
    rtpParameters: fakeRtpParameters(kind) as never,
    source: kind === 'audio' ? 'mic' : 'webcam',
  });
};

it("a worker under part of a room dies: only that part's members renegotiate, the others keep their media", async () => {
  const room = newRoomId();
  const a = await enter(room, 'a');
  const b = await enter(room, 'b');
  const hubRoom = t.node.hub.rooms.get(room)!;
  const home = hubRoom.room.workerIndex;
  const far = hubRoom.room.workerOf('b')!;
  expect(far, 'b is on the second worker').not.toBe(home);
  const aCam = await produce(a, 'video');
  const bMic = await produce(b, 'audio');
  await a.request('createTransport', { direction: 'recv' });
  await a.request('consume', { producerId: bMic.producerId });
  await b.request('createTransport', { direction: 'recv' });
  await b.request('consume', { producerId: aCam.producerId });
  const peerA = hubRoom.room.peers.get('a')!;

  process.kill(t.node.pool.workers[far]!.worker.pid, 'SIGKILL');
  expect(await b.waitFor('mediaReset')).toEqual([{ reason: 'worker_died' }]);
  // a's consumer of b's microphone went with b's worker; a itself keeps its peer and camera.
  await a.waitFor('consumerClosed');
  expect(hubRoom.room.peers.get('a')).toBe(peerA);
  expect([...peerA.producers.keys()]).toEqual([aCam.producerId]);
  expect(hubRoom.room.closed).toBe(false);
  expect(t.node.hub.rooms.get(room)).toBe(hubRoom);
  expect(hubRoom.room.workerOf('b'), 'b placed again on a live worker').not.toBe(undefined);
  expect(hubRoom.room.workerIndexes).not.toContain(far);

  // b negotiates anew: its new microphone reaches a, and it consumes a's camera again.
  const again = await produce(b, 'audio');
  const announced = (await a.waitFor('newProducer', 2)).at(-1) as { producerId: string };
  expect(announced.producerId).toBe(again.producerId);
  await b.request('createTransport', { direction: 'recv' });
  expect(await b.request('consume', { producerId: aCam.producerId })).toMatchObject({
    producerId: aCam.producerId,
  });
  await a.request('consume', { producerId: again.producerId });
  expect(a.notifications.filter((n) => n.method === 'mediaReset')).toEqual([]);
  expect([...hubRoom.room.peers.keys()].sort()).toEqual(['a', 'b']);
});
