import type { types } from 'mediasoup';
import type { types as clientTypes } from 'mediasoup-client';
import { mediaCodecs } from '../../sfu/media-codecs.ts';
import type { ConsumeInfo, MediaControl } from './media-control.ts';

/** Bare mediasoup: one router with plain WebRtcTransports on 127.0.0.1, no app around it. */
export class BareRoom {
  readonly producers = new Map<string, types.Producer>();
  readonly consumers = new Set<types.Consumer>();
  private constructor(readonly router: types.Router) {}

  static async create(worker: types.Worker) {
    return new BareRoom(await worker.createRouter({ mediaCodecs }));
  }
  control(): MediaControl {
    return new BareControl(this);
  }
}

class BareControl implements MediaControl {
  readonly #transports = new Map<string, types.WebRtcTransport>();
  readonly #consumers = new Map<string, types.Consumer>();
  #caps: types.RtpCapabilities | undefined;
  constructor(private readonly room: BareRoom) {}

  async routerRtpCapabilities() {
    return this.room.router.rtpCapabilities as clientTypes.RtpCapabilities;
  }
  async join(rtpCapabilities: clientTypes.RtpCapabilities) {
    this.#caps = rtpCapabilities as types.RtpCapabilities;
    return [...this.room.producers.keys()];
  }
  async createTransport() {
    // Same transport settings as sfu/peer.ts, minus the WebRtcServer (bare = per-transport ports).
    const t = await this.room.router.createWebRtcTransport({
      listenIps: [{ ip: '127.0.0.1' }],
      enableUdp: true,
      enableTcp: true,
      preferUdp: true,
      initialAvailableOutgoingBitrate: 1_000_000,
    });
    this.#transports.set(t.id, t);
    return {
      id: t.id,
      iceParameters: t.iceParameters,
      iceCandidates: t.iceCandidates,
      dtlsParameters: t.dtlsParameters,
    } as never;
  }
  async connect(transportId: string, dtlsParameters: clientTypes.DtlsParameters) {
    await this.#transports
      .get(transportId)!
      .connect({ dtlsParameters: dtlsParameters as types.DtlsParameters });
  }
  async produce(transportId: string, kind: 'audio' | 'video', rtpParameters: clientTypes.RtpParameters) {
    const p = await this.#transports
      .get(transportId)!
      .produce({ kind, rtpParameters: rtpParameters as types.RtpParameters });
    this.room.producers.set(p.id, p);
    return p.id;
  }
  async consume(producerId: string): Promise<ConsumeInfo> {
    const transport = [...this.#transports.values()].at(-1)!;
    const c = await transport.consume({ producerId, rtpCapabilities: this.#caps!, paused: true });
    this.#consumers.set(c.id, c);
    this.room.consumers.add(c);
    c.observer.once('close', () => this.room.consumers.delete(c));
    return {
      consumerId: c.id,
      producerId,
      kind: c.kind,
      rtpParameters: c.rtpParameters as clientTypes.RtpParameters,
    };
  }
  async resume(consumerId: string) {
    await this.#consumers.get(consumerId)!.resume();
  }
  close() {
    for (const t of this.#transports.values()) t.close();
  }
}
