import type { types as clientTypes } from 'mediasoup-client';
import type { types } from 'mediasoup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Publisher, Subscriber } from '../loadtests/sfu/bot.ts';
import type { ConsumeInfo, MediaControl, TransportInfo } from '../loadtests/sfu/media-control.ts';
import { removeBotPolyfill } from '../loadtests/sfu/werift-env.ts';
import type { Peer } from './peer.ts';
import type { Room } from './room.ts';
import { WorkerPool } from './worker-pool.ts';

/** A bot's control plane straight into an SFU Peer (no signaling): the SFU alone is under test. */
class PeerControl implements MediaControl {
  constructor(
    private readonly room: Room,
    readonly peer: Peer,
    private readonly pool: WorkerPool,
  ) {}
  async routerRtpCapabilities() {
    return this.pool.routerRtpCapabilities as clientTypes.RtpCapabilities;
  }
  async join(rtpCapabilities: clientTypes.RtpCapabilities) {
    this.peer.setRtpCapabilities(rtpCapabilities);
    return this.room.producersExcept(this.peer.id).map((p) => p.producerId);
  }
  async createTransport(direction: 'send' | 'recv') {
    return (await this.peer.createTransport(direction)) as unknown as TransportInfo;
  }
  async connect(transportId: string, dtlsParameters: clientTypes.DtlsParameters) {
    await this.peer.connectTransport(transportId, dtlsParameters);
  }
  async produce(transportId: string, kind: 'audio' | 'video', rtpParameters: clientTypes.RtpParameters) {
    return (await this.peer.produce(transportId, kind, rtpParameters, kind === 'audio' ? 'mic' : 'webcam'))
      .producerId;
  }
  async consume(producerId: string) {
    return (await this.peer.consume(producerId)) as unknown as ConsumeInfo;
  }
  async resume(consumerId: string) {
    await this.peer.resumeConsumer(consumerId);
  }
  close() {
    this.peer.close();
  }
}

const until = async (what: string, check: () => boolean | Promise<boolean>, ms = 10_000) => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

/** Consumers of each producer on a router (pipe consumers to other routers included). */
async function consumersOnRouter(router: types.Router): Promise<Map<string, number>> {
  const { mapProducerIdConsumerIds } = await router.dump();
  return new Map(
    Object.entries(mapProducerIdConsumerIds as Record<string, string[]>).map(([id, ids]) => [id, ids.length]),
  );
}

describe('a room spread over three workers', () => {
  let pool: WorkerPool;
  beforeAll(async () => {
    pool = await WorkerPool.create({
      numWorkers: 3,
      listenIp: '127.0.0.1',
      basePort: 0,
      logLevel: 'error',
      roomPeersPerWorker: 3,
    });
  });
  afterAll(async () => {
    await pool.close();
    removeBotPolyfill();
  });

  it('viewers on every worker receive the publisher, through one pipe per (producer, router)', async () => {
    const room = await pool.createRoom('spread-room');
    const control = (id: string) => new PeerControl(room, room.addPeer(id), pool);
    const publisher = await Publisher.start(control('publisher'));
    const viewers: Subscriber[] = [];
    try {
      // 1 publisher + 8 viewers at 3 per router: routers on all three workers (3 + 3 + 3).
      for (let i = 0; i < 8; i++) viewers.push(await Subscriber.start(control(`viewer-${i}`)));
      expect(new Set(room.workerIndexes).size, 'one router on each of the three workers').toBe(3);
      expect([...room.peersPerWorker().values()], 'peers spread evenly').toEqual([3, 3, 3]);
      const byWorker = new Map<number, Subscriber[]>();
      for (const v of viewers) {
        const w = room.workerOf((v.control as PeerControl).peer.id)!;
        byWorker.set(w, [...(byWorker.get(w) ?? []), v]);
      }
      expect(byWorker.size, 'viewers on each of the three workers').toBe(3);

      const before = viewers.map((v) => v.received);
      await new Promise((r) => setTimeout(r, 1000));
      const gained = viewers.map((v, i) => v.received - before[i]!);
      // ~50 audio + ~60 video packets a second: every viewer, on every worker, keeps receiving both.
      for (const [i, g] of gained.entries())
        expect(g, `viewer ${i} received media in 1 s`).toBeGreaterThan(60);
      for (const v of viewers)
        expect(
          v.counters.every((c) => c.received > 0),
          'each viewer receives audio and video',
        ).toBe(true);

      const home = room.router;
      const producerIds = room.producersExcept('nobody').map((p) => p.producerId);
      const onHome = await consumersOnRouter(home);
      // Two viewers share the publisher's worker; the other two routers get one pipe each.
      for (const id of producerIds)
        expect(onHome.get(id), 'home consumers: 2 local viewers + 1 pipe per other router').toBe(4);
    } finally {
      viewers.forEach((v) => v.close());
      publisher.close();
      room.close('ended');
    }
  });

  it('pause, resume and close of a producer reach viewers on other workers; empty routers close', async () => {
    const room = await pool.createRoom('spread-events');
    const control = (id: string) => new PeerControl(room, room.addPeer(id), pool);
    const pubControl = control('publisher');
    const publisher = await Publisher.start(pubControl);
    const viewers: Subscriber[] = [];
    try {
      for (let i = 0; i < 5; i++) viewers.push(await Subscriber.start(control(`viewer-${i}`)));
      const far = viewers.filter(
        (v) => room.workerOf((v.control as PeerControl).peer.id) !== room.workerIndex,
      );
      expect(far.length, 'some viewers are on other workers').toBeGreaterThan(0);
      const video = [...pubControl.peer.producers.values()].find((p) => p.kind === 'video')!;
      const farConsumers = () =>
        far.flatMap((v) =>
          [...(v.control as PeerControl).peer.consumers.values()].filter((c) => c.producerId === video.id),
        );
      expect(farConsumers().length, 'each far viewer consumes the video').toBe(far.length);

      await pubControl.peer.setProducerPaused(video.id, true);
      await until('far consumers see the pause', () => farConsumers().every((c) => c.producerPaused));
      await pubControl.peer.setProducerPaused(video.id, false);
      await until('far consumers see the resume', () => farConsumers().every((c) => !c.producerPaused));

      const closed: string[] = [];
      for (const v of far) (v.control as PeerControl).peer.on('consumerClosed', (id) => closed.push(id));
      const ids = farConsumers().map((c) => c.id);
      pubControl.peer.closeProducer(video.id);
      await until('far consumers close with the producer', () => ids.every((id) => closed.includes(id)));

      const farWorkers = new Set(room.workerIndexes.filter((w) => w !== room.workerIndex));
      for (const v of far) v.close();
      await until('routers of other workers close with their last peer', () =>
        room.workerIndexes.every((w) => !farWorkers.has(w)),
      );
      expect(room.workerIndexes, 'the room is back on its first worker').toEqual([room.workerIndex]);
    } finally {
      viewers.forEach((v) => v.close());
      publisher.close();
      room.close('ended');
    }
  });

  it("the death of a worker under a piped router moves only that router's peers; the rest keep receiving", async () => {
    const room = await pool.createRoom('spread-death');
    const control = (id: string) => new PeerControl(room, room.addPeer(id), pool);
    const publisher = await Publisher.start(control('publisher'));
    const viewers: Subscriber[] = [];
    const again: Subscriber[] = [];
    try {
      for (let i = 0; i < 4; i++) viewers.push(await Subscriber.start(control(`viewer-${i}`)));
      const other = room.workerIndexes.find((w) => w !== room.workerIndex)!;
      const onOther = viewers.filter((v) => room.workerOf((v.control as PeerControl).peer.id) === other);
      const atHome = viewers.filter((v) => !onOther.includes(v));
      expect(onOther.length, 'two viewers on the second worker').toBe(2);
      const moved = new Promise<string[]>((resolve) => room.once('peersMoved', resolve));
      const closed: string[] = [];
      room.on('peerClosed', (p) => closed.push(p.id));
      const replaced = new Promise<void>((resolve) => pool.once('workerReplaced', () => resolve()));
      process.kill(pool.workers[other]!.worker.pid, 'SIGKILL');
      const movedIds = await moved;
      expect(movedIds.sort()).toEqual(onOther.map((v) => (v.control as PeerControl).peer.id).sort());
      expect(room.closed, 'the room lives on').toBe(false);
      expect(closed, 'nobody left the room').toEqual([]);
      expect(room.workerIndexes).not.toContain(other);

      // The viewers on the first worker never stopped; the moved ones receive again on new peers.
      const before = atHome.map((v) => v.received);
      for (const id of movedIds)
        again.push(await Subscriber.start(new PeerControl(room, room.peers.get(id)!, pool)));
      await new Promise((r) => setTimeout(r, 1000));
      for (const [i, v] of atHome.entries())
        expect(v.received - before[i]!, 'a viewer at home kept receiving').toBeGreaterThan(60);
      for (const v of again)
        expect(
          v.counters.every((c) => c.received > 0),
          'a moved viewer receives again',
        ).toBe(true);
      await replaced;
    } finally {
      [...viewers, ...again].forEach((v) => v.close());
      publisher.close();
      room.close('ended');
    }
  });

  it('the death of the home worker moves only its peers; the next router becomes the home and observes speakers', async () => {
    const room = await pool.createRoom('spread-home-death');
    const control = (id: string) => new PeerControl(room, room.addPeer(id), pool);
    // Three peers without media fill the home router; the call itself is on the other two.
    for (let i = 0; i < 3; i++) room.addPeer(`idle-${i}`);
    const pubControl = control('publisher');
    const publisher = await Publisher.start(pubControl);
    const viewers: Subscriber[] = [];
    try {
      for (let i = 0; i < 5; i++) viewers.push(await Subscriber.start(control(`viewer-${i}`)));
      const home = room.workerIndex;
      expect(room.workerOf('publisher'), 'the publisher is not at home').not.toBe(home);
      const moved = new Promise<string[]>((resolve) => room.once('peersMoved', resolve));
      const closed: string[] = [];
      room.on('peerClosed', (p) => closed.push(p.id));
      const replaced = new Promise<void>((resolve) => pool.once('workerReplaced', () => resolve()));
      process.kill(pool.workers[home]!.worker.pid, 'SIGKILL');
      expect((await moved).sort()).toEqual(['idle-0', 'idle-1', 'idle-2']);
      expect(room.closed, 'the room lives on').toBe(false);
      expect(closed, 'nobody left the room').toEqual([]);
      await until('a new home', () => room.workerIndex !== home);
      expect(room.workerIndexes).not.toContain(home);

      // Every viewer kept receiving the publisher, and the new home observes its microphone.
      const before = viewers.map((v) => v.received);
      await new Promise((r) => setTimeout(r, 1000));
      for (const [i, v] of viewers.entries())
        expect(v.received - before[i]!, `viewer ${i} kept receiving`).toBeGreaterThan(60);
      const mic = [...pubControl.peer.producers.values()].find((p) => p.kind === 'audio')!;
      await until('the new home observes the microphone', async () => {
        const { mapProducerIdObserverIds } = (await room.router.dump()) as unknown as {
          mapProducerIdObserverIds: Record<string, string[]>;
        };
        return Object.values(mapProducerIdObserverIds).some((ids) => ids.length > 0);
      });
      expect(mic.closed).toBe(false);
      await replaced;
    } finally {
      viewers.forEach((v) => v.close());
      publisher.close();
      room.close('ended');
    }
  });
});
