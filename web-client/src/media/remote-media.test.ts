import type { types } from 'mediasoup-client';
import { describe, expect, it } from 'vitest';
import type { ProducerInfo } from '../../../signaling/protocol/index.ts';
import type { SignalingClient } from '../signaling-client.ts';
import { RemoteMedia } from './remote-media.ts';

type FakeConsumer = { id: string; producerId: string; closed: boolean; close(): void; track: unknown };

/** A receive transport that records what it consumed. */
function fakeTransport(name: string) {
  const consumed: FakeConsumer[] = [];
  const transport = {
    id: name,
    closed: false,
    consume: async (o: { id: string; producerId: string }) => {
      if (transport.closed) throw new Error(`${name} is closed`);
      const consumer: FakeConsumer = {
        id: o.id,
        producerId: o.producerId,
        closed: false,
        close: () => void (consumer.closed = true),
        track: {},
      };
      consumed.push(consumer);
      return consumer;
    },
  };
  return { transport, consumed };
}

/** Signaling whose first `consume` answer waits until released (a slow server, a lost path). */
function slowFirstConsume() {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let consumes = 0;
  const signaling = {
    request: async (method: string, data: { producerId?: string }) => {
      if (method !== 'consume') return {};
      if (consumes++ === 0) await held;
      return { consumerId: `c${consumes}`, producerId: data.producerId, kind: 'video', rtpParameters: {} };
    },
  };
  return { signaling: signaling as unknown as SignalingClient, release };
}

const camera: ProducerInfo = {
  peerId: 'p1',
  producerId: 'cam',
  kind: 'video',
  source: 'webcam',
  paused: false,
};

describe('remote media across new transports', () => {
  it('a consume still waiting for the server on the old transport does not hold up the new one', async () => {
    const { signaling, release } = slowFirstConsume();
    const first = fakeTransport('first');
    const second = fakeTransport('second');
    let recv: ReturnType<typeof fakeTransport>['transport'] | undefined = first.transport;
    const tracks: string[] = [];
    const remote = new RemoteMedia({
      signaling: () => signaling,
      recvTransport: () => recv as unknown as types.Transport,
      peer: () => undefined,
      onTrack: (t) => tracks.push(t.consumerId),
      onTrackEnded: () => undefined,
      onError: () => undefined,
    });
    const stale = remote.add([camera]); // waits on the server's answer
    await new Promise((r) => setTimeout(r, 10));
    // The path is lost: the media is dropped and made anew on a second transport.
    remote.clear();
    first.transport.closed = true;
    recv = second.transport;
    // The old answer has not come (it may never): the new transport consumes regardless.
    await remote.add([camera]);
    expect(second.consumed.map((c) => c.producerId)).toEqual(['cam']);
    release();
    await stale;
    await remote.drain();
    expect(second.consumed.map((c) => c.producerId)).toEqual(['cam']);
    expect(first.consumed).toEqual([]);
    expect([...remote.consumers.keys()]).toEqual([second.consumed[0]!.id]);
    expect(tracks).toEqual([second.consumed[0]!.id]);
  });

  it('a consumer made just before the transport went away is closed, not kept', async () => {
    const { signaling, release } = slowFirstConsume();
    const first = fakeTransport('first');
    const second = fakeTransport('second');
    let recv: ReturnType<typeof fakeTransport>['transport'] | undefined = first.transport;
    const remote = new RemoteMedia({
      signaling: () => signaling,
      recvTransport: () => recv as unknown as types.Transport,
      peer: () => undefined,
      onTrack: () => undefined,
      onTrackEnded: () => undefined,
      onError: () => undefined,
    });
    // The old transport stays open (closed later by the caller), so consume itself succeeds.
    const stale = remote.add([camera]);
    await new Promise((r) => setTimeout(r, 10));
    remote.clear();
    recv = second.transport;
    release();
    await stale;
    await remote.add([camera]);
    expect(first.consumed.every((c) => c.closed)).toBe(true);
    expect(second.consumed.map((c) => c.producerId)).toEqual(['cam']);
    expect([...remote.consumers.values()].map((c) => c.producerId)).toEqual(['cam']);
  });
});
