import type { types } from 'mediasoup-client';
import { mediaPacketsReceived, packetsReceived, selectedPair } from './path-stats.ts';
import type { PathTimeline } from './path-timeline.ts';

export type PathWatchOptions = {
  transports: () => (types.Transport | undefined)[];
  /** Whether the server should be sending something on this transport now (media or its feedback). */
  expectsInbound: (transport: types.Transport) => boolean;
  /** The path has been silent for stallMs (see the class comment): it is gone. */
  onPathLost: (silentMs: number) => void;
  intervalMs?: number;
  stallMs?: number;
  timeline?: PathTimeline | undefined;
};

/** When a transport's counter last made progress, and whether it was expected to then. */
type Seen = { count: number; at: number; expected: boolean };

export const PATH_WATCH_INTERVAL_MS = 200;
export const PATH_STALL_MS = 600;
const COOLDOWN_MS = 2500;
const FEEDBACK_PACKETS = 3;
const MAX_COOLDOWN_MS = 30_000;

/**
 * Notices a lost network path from the client's own counters long before the browser calls the
 * connection disconnected (about 5 s of unanswered checks, then our grace period), from getStats:
 * - while this participant sends: packets from the SFU on the sending transport. While the SFU
 *   receives our media it answers with congestion-control feedback many times a second; when our
 *   packets stop reaching it, or its packets stop reaching us, only its periodic receiver reports
 *   (about one a second) or nothing at all come back: fewer than FEEDBACK_PACKETS in stallMs.
 *   This covers both directions and does not depend on anyone else sending.
 * - while it only receives: media packets on the receiving transport, summed over every consumer
 *   whose producer is not paused.
 * Standing still for stallMs declares the path lost. A remote that stops sending without pausing
 * looks the same to a receive-only participant; restarting ICE on a healthy path costs a round trip,
 * and after each declaration the watch waits a cooldown, doubled while the silence goes on, so that
 * case cannot cause a restart storm.
 */
export class PathWatch {
  enabled = true;
  readonly #seen = new Map<string, Seen>();
  /** Per transport: the selected pair last seen, and whether it had gone silent (for the timeline). */
  readonly #pairs = new Map<string, string>();
  readonly #stalled = new Set<string>();
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
    this.#pairs.clear();
    this.#stalled.clear();
  }

  /** How long the path has looked silent, by the same rule as a declaration (0 if nothing is expected). */
  silentMs(now = Date.now()): number {
    const silence: Partial<Record<'send' | 'recv', number>> = {};
    for (const transport of this.o.transports()) {
      if (!transport || transport.closed || !this.o.expectsInbound(transport)) continue;
      const seen = this.#seen.get(transport.id);
      if (seen) silence[transport.direction] = now - seen.at;
    }
    return silence.send ?? silence.recv ?? 0;
  }

  /**
   * The longest silence of any transport that should be receiving. After an ICE restart one
   * transport can move to a working pair while the other stays on the dead one (each has its own
   * ICE agent): the rule of a declaration, which lets our feedback speak for the whole path, would
   * then call the path fine while nobody's media arrives.
   */
  longestSilentMs(now = Date.now()): number {
    let longest = 0;
    for (const transport of this.o.transports()) {
      if (!transport || transport.closed) continue;
      const seen = this.#seen.get(transport.id);
      if (seen?.expected) longest = Math.max(longest, now - seen.at);
    }
    return longest;
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
      for (const id of this.#seen.keys()) if (!current.has(id)) this.#forget(id); // closed transports
      const silence: Partial<Record<'send' | 'recv', number>> = {};
      for (const transport of this.o.transports()) {
        if (!transport || transport.closed) continue;
        const report = await transport.getStats();
        const recv = transport.direction === 'recv';
        const count = recv ? mediaPacketsReceived(report) : packetsReceived(report);
        const expected = this.o.expectsInbound(transport);
        this.#notePair(transport, report);
        const seen = this.#seen.get(transport.id);
        // Progress: any media packet on a receiving transport, a few feedback packets on a sending one.
        // Starting to expect traffic (a first consumer, a resumed producer) starts the clock afresh.
        if (!seen || !seen.expected || count - seen.count >= (recv ? 1 : FEEDBACK_PACKETS)) {
          if (seen && this.#stalled.delete(transport.id))
            this.o.timeline?.note(`flowing:${transport.direction}`);
          this.#seen.set(transport.id, { count, at: now, expected });
        } else seen.expected = expected;
        const silent = now - this.#seen.get(transport.id)!.at;
        if (expected) silence[transport.direction] = silent;
        if (expected && silent >= this.#stall && !this.#stalled.has(transport.id)) {
          this.#stalled.add(transport.id);
          this.o.timeline?.note(`silent:${transport.direction}`, this.#seen.get(transport.id)!.at);
        }
      }
      // Our own feedback speaks for our path whenever we send; someone else's media only when we do not.
      const silentMs = silence.send ?? silence.recv;
      if (silentMs === undefined) return;
      if (silentMs < this.#stall) {
        this.#cooldown = COOLDOWN_MS; // traffic flows again: back to a short cooldown
        return;
      }
      if (now < this.#quietUntil) return;
      this.#quietUntil = now + this.#cooldown;
      this.#cooldown = Math.min(this.#cooldown * 2, MAX_COOLDOWN_MS);
      this.pathChanged(now);
      this.o.timeline?.note(`pathLost:${silence.send === undefined ? 'recv' : 'send'}:${silentMs}ms`);
      this.o.onPathLost(silentMs);
    } catch {
      // A transport closed between the check and getStats: the next tick sees the new set.
    } finally {
      this.#busy = false;
    }
  }

  #notePair(transport: types.Transport, report: RTCStatsReport) {
    if (!this.o.timeline) return;
    const pair = selectedPair(report);
    const key = pair ? `${pair.protocol} ${pair.local}->${pair.remote}` : 'none';
    if (this.#pairs.get(transport.id) === key) return;
    this.#pairs.set(transport.id, key);
    this.o.timeline.note(`pair:${transport.direction}:${key}`);
  }

  #forget(transportId: string) {
    this.#seen.delete(transportId);
    this.#pairs.delete(transportId);
    this.#stalled.delete(transportId);
  }
}
