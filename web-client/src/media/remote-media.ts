import type { types } from 'mediasoup-client';
import type { PeerInfo, ProducerInfo } from '../../../signaling/protocol/index.ts';
import type { RemoteTrack } from '../room-client-types.ts';
import type { SignalingClient } from '../signaling-client.ts';

/** What consuming needs from the room client (passed down, so this never imports it). */
export type RemoteMediaHost = {
  signaling: () => SignalingClient;
  recvTransport: () => types.Transport | undefined;
  peer: (peerId: string) => PeerInfo | undefined;
  onTrack: (remote: RemoteTrack) => void;
  onTrackEnded: (consumerId: string) => void;
  onError: (err: Error) => void;
};

/**
 * Everyone else's media: producers announced (by notification or in a room state) are queued and
 * consumed in batches once there is a receive transport, each exactly once.
 */
export class RemoteMedia {
  readonly consumers = new Map<string, types.Consumer>();
  /** Remote producers currently paused: their consumers receive nothing, and that is expected. */
  readonly #paused = new Set<string>();
  #pending: ProducerInfo[] = [];
  #draining = false;
  /**
   * Bumped whenever the receive transport goes away. Work begun for an earlier transport (a drain
   * waiting on the server, a consume half-way) must neither block nor pollute the next one: a
   * consumer made on the closed transport would count its producer as consumed for good.
   */
  #generation = 0;

  constructor(private readonly host: RemoteMediaHost) {}

  /** Queues producers to consume; consumes them now if a receive transport exists. */
  add(producers: ProducerInfo[]) {
    this.#pending.push(...producers);
    return this.drain();
  }

  setPaused(producerId: string, paused: boolean) {
    if (paused) this.#paused.add(producerId);
    else this.#paused.delete(producerId);
  }

  /** Whether some consumer's producer is sending now (its silence would mean a broken path). */
  expectsMedia() {
    return [...this.consumers.values()].some((c) => !c.closed && !this.#paused.has(c.producerId));
  }

  /** The server closed a consumer (its producer went away). */
  closed(consumerId: string) {
    this.consumers.get(consumerId)?.close();
    this.consumers.delete(consumerId);
    this.host.onTrackEnded(consumerId);
  }

  /** The receive transport is gone: every remote track ends, nothing queued is kept. */
  clear() {
    for (const consumerId of this.consumers.keys()) this.host.onTrackEnded(consumerId);
    this.consumers.clear();
    this.#pending = [];
    this.#generation++;
    this.#draining = false;
  }

  /** Consumes everything announced so far, all at once, video first (it is what people wait for). */
  async drain() {
    if (this.#draining) return;
    this.#draining = true;
    const generation = this.#generation;
    try {
      while (generation === this.#generation && this.host.recvTransport() && this.#pending.length > 0) {
        // A producer can be announced and listed in a state snapshot too: consume it once.
        const consumed = new Set([...this.consumers.values()].map((c) => c.producerId));
        const unique = this.#pending
          .splice(0)
          .filter((p) => !consumed.has(p.producerId) && (consumed.add(p.producerId), true));
        const batch = unique.sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'video' ? -1 : 1));
        await Promise.all(
          batch.map((info) => this.#consume(info).catch((err: Error) => this.host.onError(err))),
        );
      }
    } finally {
      if (generation === this.#generation) this.#draining = false;
    }
  }

  async #consume(info: ProducerInfo) {
    const transport = this.host.recvTransport();
    if (!transport || transport.closed) return;
    const generation = this.#generation;
    const signaling = this.host.signaling();
    const res = await signaling.request('consume', { producerId: info.producerId });
    if (generation !== this.#generation || transport.closed) return;
    const consumer = await transport.consume({
      id: res.consumerId,
      producerId: res.producerId,
      kind: res.kind,
      rtpParameters: res.rtpParameters as types.RtpParameters,
      appData: { peerId: info.peerId, source: info.source },
    });
    if (generation !== this.#generation) return consumer.close();
    this.consumers.set(consumer.id, consumer);
    this.setPaused(info.producerId, info.paused);
    await signaling.request('resumeConsumer', { consumerId: consumer.id });
    if (generation !== this.#generation) return consumer.close();
    this.host.onTrack({
      peer: this.host.peer(info.peerId),
      peerId: info.peerId,
      consumerId: consumer.id,
      producerId: info.producerId,
      kind: res.kind,
      source: info.source,
      paused: info.paused,
      track: consumer.track,
    });
  }
}
