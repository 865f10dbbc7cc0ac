import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestNode } from '../test/helpers/node.ts';
import { fakeRtpParameters, mintFor, newRoomId, patientPerms } from '../test/helpers/tokens.ts';
import { connectClient, type TestClient } from '../test/helpers/ws-client.ts';

let t: Awaited<ReturnType<typeof startTestNode>>;
const clients: TestClient[] = [];
beforeAll(async () => {
  t = await startTestNode();
});
afterAll(async () => {
  clients.forEach((c) => c.close());
  await t.node.stop();
});

async function enter(room: string, sub: string, over = {}) {
  const c = await connectClient(t.wsUrl, await mintFor(t.node, room, sub, over));
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

it("resetTransports drops the peer's transports, producers and consumers, lists what to consume again, and media starts afresh", async () => {
  const room = newRoomId();
  const a = await enter(room, 'a');
  const b = await enter(room, 'b');
  const bMic = await produce(b, 'audio');
  const aCam = await produce(a, 'video');
  await a.request('createTransport', { direction: 'recv' });
  await a.request('consume', { producerId: bMic.producerId });
  await b.request('createTransport', { direction: 'recv' });
  await b.request('consume', { producerId: aCam.producerId });
  const peerA = t.node.hub.rooms.get(room)!.room.peers.get('a')!;

  expect(await a.request('resetTransports', {})).toEqual({
    producers: [{ peerId: 'b', producerId: bMic.producerId, kind: 'audio', source: 'mic', paused: false }],
  });
  expect([peerA.transports.size, peerA.producers.size, peerA.consumers.size]).toEqual([0, 0, 0]);
  // The other side learns its consumer of a's camera is gone.
  await b.waitFor('consumerClosed');
  // Same peer, same session: the webcam can be produced again, and b's mic consumed again.
  const again = await produce(a, 'video');
  expect(again.producerId).not.toBe(aCam.producerId);
  await a.request('createTransport', { direction: 'recv' });
  expect(await a.request('consume', { producerId: bMic.producerId })).toMatchObject({
    producerId: bMic.producerId,
  });
  expect([...t.node.hub.rooms.get(room)!.room.peers.keys()].sort()).toEqual(['a', 'b']);
});

it('resetTransports needs an admitted participant', async () => {
  const room = newRoomId();
  await enter(room, 'doc');
  const waiting = await enter(room, 'w', { perms: patientPerms });
  await expect(waiting.request('resetTransports', {})).rejects.toMatchObject({ code: 'not_admitted' });
});
