import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode } from '../test/helpers/node.ts';
import { fakeRtpParameters, mintFor, newRoomId } from '../test/helpers/tokens.ts';
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

async function enter(room: string, sub: string) {
  const c = await connectClient(t.wsUrl, await mintFor(t.node, room, sub));
  clients.push(c);
  const { rtpCapabilities } = await c.request('getRouterRtpCapabilities', {});
  await c.request('join', { rtpCapabilities: rtpCapabilities as never });
  const { id: transportId } = await c.request('createTransport', { direction: 'send' });
  return { c, transportId };
}
const produceOn = (
  c: TestClient,
  transportId: string,
  kind: 'audio' | 'video',
  source: 'mic' | 'webcam' | 'screen',
) => c.request('produce', { transportId, kind, rtpParameters: fakeRtpParameters(kind) as never, source });
const producersOf = (room: string, peerId: string) =>
  [...t.node.hub.rooms.get(room)!.room.peers.get(peerId)!.producers.values()]
    .map((p) => p.appData.source as string)
    .sort();

describe('one producer per source and peer', () => {
  it('a second webcam is refused with source_already_published; other sources and other peers are unaffected', async () => {
    const room = newRoomId();
    const a = await enter(room, 'a');
    const b = await enter(room, 'b');
    await produceOn(a.c, a.transportId, 'video', 'webcam');
    await expect(produceOn(a.c, a.transportId, 'video', 'webcam')).rejects.toMatchObject({
      code: 'source_already_published',
    });
    // Also through a second send transport: the rule is per peer, not per transport.
    const { id: second } = await a.c.request('createTransport', { direction: 'send' });
    await expect(produceOn(a.c, second, 'video', 'webcam')).rejects.toMatchObject({
      code: 'source_already_published',
    });
    await produceOn(a.c, a.transportId, 'video', 'screen');
    await produceOn(a.c, a.transportId, 'audio', 'mic');
    await produceOn(b.c, b.transportId, 'video', 'webcam');
    expect(producersOf(room, 'a')).toEqual(['mic', 'screen', 'webcam']);
    expect(producersOf(room, 'b')).toEqual(['webcam']);
    // The session stays usable after the refusal.
    expect(await a.c.request('reportStats', { rttMs: 10, packetLossPct: 0 })).toEqual({});
  });

  it('two produce requests for the same source sent together: exactly one producer', async () => {
    const room = newRoomId();
    const a = await enter(room, 'a');
    const results = await Promise.allSettled([
      produceOn(a.c, a.transportId, 'video', 'webcam'),
      produceOn(a.c, a.transportId, 'video', 'webcam'),
      produceOn(a.c, a.transportId, 'video', 'webcam'),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results.filter((r) => r.status === 'rejected')) {
      expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'source_already_published' });
    }
    expect(producersOf(room, 'a')).toEqual(['webcam']);
  });

  it('closing the webcam producer first, then producing again, works', async () => {
    const room = newRoomId();
    const a = await enter(room, 'a');
    const first = await produceOn(a.c, a.transportId, 'video', 'webcam');
    await a.c.request('closeProducer', { producerId: first.producerId });
    const again = await produceOn(a.c, a.transportId, 'video', 'webcam');
    expect(again.producerId).not.toBe(first.producerId);
    expect(producersOf(room, 'a')).toEqual(['webcam']);
  });
});
