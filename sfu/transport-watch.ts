import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';

export type TransportEventKind =
  /** The client's last ICE path went away (a TCP connection closed; UDP paths never time out in mediasoup 3.12). */
  | 'ice_disconnected'
  | 'dtls_failed'
  | 'dtls_closed'
  /** Nothing (no STUN consent check, RTCP or media) arrived for the stall period: the client has most likely given up on us. */
  | 'receive_stalled'
  | 'receive_recovered';

/** Who a transport belongs to: opaque ids only (no names, no PHI). */
export type TransportOwner = {
  roomId: string;
  peerId: string;
  direction: 'send' | 'recv';
  workerIndex: number;
};

export type TransportEvent = TransportOwner & {
  kind: TransportEventKind;
  transportId: string;
  silentMs?: number;
};

export type TransportWatchOptions = {
  /** How often connected transports' receive counters are read (one worker request per transport). */
  checkIntervalMs?: number;
  /** No received byte for this long counts as a stall. */
  stallMs?: number;
};

type Watched = {
  transport: types.WebRtcTransport;
  owner: TransportOwner;
  bytes: number;
  changedAt: number;
  stalled: boolean;
};

/**
 * Connection telemetry for WebRTC transports. mediasoup is ICE-lite and, in 3.12, never expires a
 * UDP path: when a client's consent checks stop getting through (its socket or ours overflowing)
 * the client closes its side and the server notices nothing. Watching what arrives per transport
 * makes that visible: a stall event when a connected transport receives nothing for `stallMs`.
 */
export class TransportWatch extends EventEmitter<{ event: [TransportEvent] }> {
  readonly #watched = new Map<string, Watched>();
  readonly #timer: NodeJS.Timeout;
  readonly #stallMs: number;
  #checking = false;

  constructor(opts: TransportWatchOptions = {}) {
    super();
    this.#stallMs = opts.stallMs ?? 15_000;
    this.#timer = setInterval(() => void this.check(), opts.checkIntervalMs ?? 5000);
    this.#timer.unref();
  }

  /** Transports currently receiving nothing. */
  get stalledCount() {
    let n = 0;
    for (const w of this.#watched.values()) if (w.stalled) n++;
    return n;
  }

  watch(transport: types.WebRtcTransport, owner: TransportOwner) {
    const entry: Watched = { transport, owner, bytes: 0, changedAt: Date.now(), stalled: false };
    this.#watched.set(transport.id, entry);
    const emit = (kind: TransportEventKind) =>
      this.emit('event', { ...owner, kind, transportId: transport.id });
    transport.on('icestatechange', (state) => state === 'disconnected' && emit('ice_disconnected'));
    transport.on('dtlsstatechange', (state) => {
      if (state === 'failed') emit('dtls_failed');
      else if (state === 'closed') emit('dtls_closed');
      // Counting starts once the client is connected; a handshake in progress is not a stall.
      else if (state === 'connected') entry.changedAt = Date.now();
    });
    transport.observer.once('close', () => this.#watched.delete(transport.id));
  }

  /** One pass over the connected transports (the timer calls it; tests may too). */
  async check() {
    if (this.#checking) return;
    this.#checking = true;
    try {
      const connected = [...this.#watched.values()].filter(
        (w) => !w.transport.closed && w.transport.dtlsState === 'connected',
      );
      await Promise.all(connected.map((w) => this.#sample(w)));
    } finally {
      this.#checking = false;
    }
  }

  close() {
    clearInterval(this.#timer);
    this.#watched.clear();
    this.removeAllListeners();
  }

  async #sample(w: Watched) {
    const stats = await w.transport.getStats().catch(() => undefined);
    const bytes = stats?.[0]?.bytesReceived;
    if (bytes === undefined || w.transport.closed) return;
    const now = Date.now();
    const emit = (kind: TransportEventKind, silentMs?: number) =>
      this.emit('event', {
        ...w.owner,
        kind,
        transportId: w.transport.id,
        ...(silentMs === undefined ? {} : { silentMs }),
      });
    if (bytes !== w.bytes) {
      w.bytes = bytes;
      w.changedAt = now;
      if (w.stalled) {
        w.stalled = false;
        emit('receive_recovered');
      }
      return;
    }
    if (!w.stalled && now - w.changedAt >= this.#stallMs) {
      w.stalled = true;
      emit('receive_stalled', now - w.changedAt);
    }
  }
}
