import type { types } from 'mediasoup-client';

export type PathWatchOptions = {
  transports: () => (types.Transport | undefined)[];
  /** Whether the server should be sending something on this transport now (media or its feedback). */
  expectsInbound: (transport: types.Transport) => boolean;
  /** A transport that should be receiving has received nothing for stallMs: the path is gone. */
  onPathLost: (silentMs: number) => void;
  intervalMs?: number;
  stallMs?: number;
};

/** When a transport's counter last made progress, and whether it was expected to then. */
type Seen = { count: number; at: number; expected: boolean };

export const PATH_WATCH_INTERVAL_MS = 200;
export const PATH_STALL_MS = 800;
const COOLDOWN_MS = 2500;
const FEEDBACK_PACKETS = 3;
const MAX_COOLDOWN_MS = 30_000;

/**
 * Notices a lost network path from the client's own counters long before the browser calls the
 * connection disconnected (about 5 s of unanswered checks, then our grace period), from getStats:
 * - the receiving transport: media RTP packets, summed over every consumer whose producer is not
 *   paused (one remote going quiet while another still arrives is that remote's problem);
 * - the sending transport: packets from the SFU. While it receives our media it answers with
 *   congestion-control feedback many times a second; when our packets no longer reach it, only
 *   its periodic receiver reports (about one a second) still come back, so fewer than
 *   FEEDBACK_PACKETS in stallMs means our media is not arriving.
 * Either standing still for stallMs declares the path lost: a path broken in one direction only
 * shows on one of the two. A remote that stops sending without pausing looks the same; restarting
 * ICE on a healthy path costs a round trip, and after each declaration the watch waits a cooldown,
 * doubled while the silence goes on, so that case cannot cause a restart storm.
 */
export class PathWatch {
  enabled = true;
  readonly #seen = new Map<string, Seen>();
  readonly #interval: number;
  readonly #stall: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #busy = false;
  #quietUntil = 0;
  #cooldown = COOLDOWN_MS;

  constructor(private readonly o: PathWatchOptions) {
    this.#interval = o.intervalMs ?? PATH_WATCH_INTERVAL_MS;
    this.#stall = o.stallMs ?? PATH_STALL_MS;
  }

  start() {
    this.#timer ??= setInterval(() => void this.#tick(), this.#interval);
  }

  stop() {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#seen.clear();
  }

  /** How long the quietest transport that should be receiving has been silent (0 if none). */
  silentMs(now = Date.now()): number {
    let silent = 0;
    for (const transport of this.o.transports()) {
      if (!transport || transport.closed || !this.o.expectsInbound(transport)) continue;
      const seen = this.#seen.get(transport.id);
      if (seen) silent = Math.max(silent, now - seen.at);
    }
    return silent;
  }

  /** A new path is being set up (ICE restart): give it time before judging it. */
  pathChanged(now = Date.now()) {
    for (const seen of this.#seen.values()) seen.at = now;
  }

  async #tick() {
    if (!this.enabled || this.#busy) return;
    this.#busy = true;
    try {
      const now = Date.now();
      const current = new Set(this.o.transports().map((t) => t?.id));
      for (const id of this.#seen.keys()) if (!current.has(id)) this.#seen.delete(id); // closed transports
      let watched = 0;
      let silentMs = 0;
      for (const transport of this.o.transports()) {
        if (!transport || transport.closed) continue;
        const report = await transport.getStats();
        const recv = transport.direction === 'recv';
        const count = recv ? mediaPacketsReceived(report) : packetsReceived(report);
        const expected = this.o.expectsInbound(transport);
        const seen = this.#seen.get(transport.id);
        // Progress: any media packet on a receiving transport, a few feedback packets on a sending one.
        // Starting to expect traffic (a first consumer, a resumed producer) starts the clock afresh.
        if (!seen || !seen.expected || count - seen.count >= (recv ? 1 : FEEDBACK_PACKETS)) {
          this.#seen.set(transport.id, { count, at: now, expected });
        } else seen.expected = expected;
        if (!expected) continue;
        watched++;
        silentMs = Math.max(silentMs, now - this.#seen.get(transport.id)!.at);
      }
      if (watched === 0 || silentMs < this.#stall) {
        if (watched > 0) this.#cooldown = COOLDOWN_MS; // traffic flows again: back to a short cooldown
        return;
      }
      if (now < this.#quietUntil) return;
      this.#quietUntil = now + this.#cooldown;
      this.#cooldown = Math.min(this.#cooldown * 2, MAX_COOLDOWN_MS);
      this.pathChanged(now);
      this.o.onPathLost(silentMs);
    } catch {
      // A transport closed between the check and getStats: the next tick sees the new set.
    } finally {
      this.#busy = false;
    }
  }
}

/** RTP media packets received on all of a receiving transport's streams. */
function mediaPacketsReceived(report: RTCStatsReport): number {
  let packets = 0;
  report.forEach((s: Record<string, unknown>) => {
    if (s.type === 'inbound-rtp' && typeof s.packetsReceived === 'number') packets += s.packetsReceived;
  });
  return packets;
}

/** Packets that arrived on the transport (RTCP, STUN answers; a sending transport gets no media). */
function packetsReceived(report: RTCStatsReport): number {
  let transportPackets: number | undefined;
  let pairPackets = 0;
  report.forEach((s: Record<string, unknown>) => {
    if (s.type === 'transport' && typeof s.packetsReceived === 'number') transportPackets = (transportPackets ?? 0) + s.packetsReceived;
    if (s.type === 'candidate-pair' && typeof s.packetsReceived === 'number') pairPackets += s.packetsReceived;
  });
  return transportPackets ?? pairPackets;
}
