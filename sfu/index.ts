/**
 * The SFU's public surface: what signaling and the node may use. Everything here speaks in opaque
 * ids and plain data; mediasoup's own types stay inside sfu/ (tests of sfu/ may reach further in).
 */
export { SfuError, type SfuErrorCode } from './errors.ts';
export type {
  ClientMediaParameters,
  ConsumerLayers,
  ConsumerSummary,
  Direction,
  LinkScores,
  MediaKind,
  MediaSource,
  Peer,
  ProducerSummary,
  TransportInfo,
} from './peer.ts';
export type { Room, RoomCloseReason } from './room.ts';
export type {
  TransportEvent,
  TransportEventKind,
  TransportOwner,
  TransportWatchOptions,
} from './transport-watch.ts';
export { defaultUdpBufferBytes, udpSocketStats, type UdpSocketStats } from './udp-socket-stats.ts';
export { WorkerPool, type WorkerPoolOptions } from './worker-pool.ts';
