import type { types } from 'mediasoup-client';

export type TransportInfo = {
  id: string;
  iceParameters: types.IceParameters;
  iceCandidates: types.IceCandidate[];
  dtlsParameters: types.DtlsParameters;
};
export type ConsumeInfo = {
  consumerId: string;
  producerId: string;
  kind: 'audio' | 'video';
  rtpParameters: types.RtpParameters;
};

/**
 * The control plane a bot needs. Two implementations: our real signaling (app) and direct calls
 * into a plain mediasoup router (bare). The bots and their media are identical in both, so the
 * comparison isolates what the app adds.
 */
export interface MediaControl {
  routerRtpCapabilities(): Promise<types.RtpCapabilities>;
  /** Enters the room; returns the producers already there. */
  join(rtpCapabilities: types.RtpCapabilities): Promise<string[]>;
  createTransport(direction: 'send' | 'recv'): Promise<TransportInfo>;
  connect(transportId: string, dtlsParameters: types.DtlsParameters): Promise<void>;
  produce(transportId: string, kind: 'audio' | 'video', rtpParameters: types.RtpParameters): Promise<string>;
  consume(producerId: string): Promise<ConsumeInfo>;
  resume(consumerId: string): Promise<void>;
  /** What the room page sends every 3 s: its link's round trip and loss (app only). */
  reportStats?(rttMs: number, packetLossPct: number): Promise<void>;
  /** Close code of the control connection if the server ended it (app only; bare has none). */
  readonly closedWith?: number | undefined;
  close(): void;
}
