import WebSocket from 'ws';
import type { types } from 'mediasoup-client';
import { SignalingClient, type WebSocketLike } from '../../web-client/src/signaling-client.ts';
import type { ConsumeInfo, MediaControl, TransportInfo } from './media-control.ts';

/**
 * The part of a signaling client a bot uses. An older tree's client has exactly this shape (a single
 * `onClose` callback); this tree's client has multi-listener events and is adapted to it below.
 */
type BotSignaling = {
  request: SignalingClient['request'];
  close(): void;
  onClose?: (code: number, reason: string) => void;
};
/** How to open that client: by default this tree's; the before/after comparison passes another tree's. */
export type ConnectSignaling = (url: string, token: string) => Promise<BotSignaling>;

const connectThisTree: ConnectSignaling = async (url, token) => {
  const client = await SignalingClient.connect(
    url,
    token,
    (u, protocols) => new WebSocket(u, protocols) as unknown as WebSocketLike,
  );
  const bot: BotSignaling = { request: client.request.bind(client), close: () => client.close() };
  client.on('close', (code, reason) => bot.onClose?.(code, reason));
  return bot;
};

/** A bot's control plane through CareCall's real WebSocket signaling, with a real join token. */
export class AppControl implements MediaControl {
  closedWith: number | undefined;
  #leaving = false;
  private constructor(private readonly signaling: BotSignaling) {
    signaling.onClose = (code) => {
      if (!this.#leaving) this.closedWith = code;
    };
  }

  static async connect(
    wsUrl: string,
    token: string,
    connectSignaling: ConnectSignaling = connectThisTree,
  ): Promise<AppControl> {
    return new AppControl(await connectSignaling(wsUrl, token));
  }

  async routerRtpCapabilities() {
    return (await this.signaling.request('getRouterRtpCapabilities', {}))
      .rtpCapabilities as types.RtpCapabilities;
  }
  async join(rtpCapabilities: types.RtpCapabilities) {
    const joined = await this.signaling.request('join', { rtpCapabilities: rtpCapabilities as never });
    return joined.producers.map((p) => p.producerId);
  }
  async createTransport(direction: 'send' | 'recv') {
    return (await this.signaling.request('createTransport', { direction })) as TransportInfo;
  }
  async connect(transportId: string, dtlsParameters: types.DtlsParameters) {
    await this.signaling.request('connectTransport', {
      transportId,
      dtlsParameters: dtlsParameters as never,
    });
  }
  async produce(transportId: string, kind: 'audio' | 'video', rtpParameters: types.RtpParameters) {
    const source = kind === 'audio' ? 'mic' : 'webcam';
    return (
      await this.signaling.request('produce', {
        transportId,
        kind,
        rtpParameters: rtpParameters as never,
        source,
      })
    ).producerId;
  }
  async consume(producerId: string) {
    return (await this.signaling.request('consume', { producerId })) as ConsumeInfo;
  }
  async resume(consumerId: string) {
    await this.signaling.request('resumeConsumer', { consumerId });
  }
  async reportStats(rttMs: number, packetLossPct: number) {
    await this.signaling.request('reportStats', { rttMs, packetLossPct });
  }
  close() {
    this.#leaving = true;
    this.signaling.close();
  }
}
