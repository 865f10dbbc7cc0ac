import type { types } from 'mediasoup-client';
import type { SignalingClient } from '../signaling-client.ts';
import { PATH_WATCH_INTERVAL_MS, PathWatch } from './path-watch.ts';
import { PathTimeline } from './path-timeline.ts';

/**
 * After an ICE restart for a lost path, how long media may stay silent before the transports are
 * made anew. Chromium keeps sending on the old pair while it still hears from it (a path broken one
 * way only) until 5 s of unanswered checks; a new transport has no old pair to cling to.
 */
const REBUILD_AFTER_RESTART_MS = 500;

/** What path recovery needs from the room client (passed down, so this never imports it). */
export type PathRecoveryHost = {
  transports: () => (types.Transport | undefined)[];
  signaling: () => SignalingClient;
  /** In the call with media (admitted, not reconnecting the socket). */
  inCall: () => boolean;
  expectsInbound: (transport: types.Transport) => boolean;
  /** New transports on the server and here, everything produced and consumed again. */
  rebuildTransports: () => Promise<void>;
  onIceRestart: () => void;
  onError: (err: Error) => void;
};

/** ICE restarts (asked for, or on a lost path) and, when a restart is not enough, new transports. */
export class PathRecovery {
  readonly watch: PathWatch;
  readonly timeline = new PathTimeline();
  #iceRestarting = false;
  #rebuildTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly host: PathRecoveryHost) {
    this.watch = new PathWatch({
      transports: host.transports,
      expectsInbound: host.expectsInbound,
      onPathLost: () => this.recover(),
      timeline: this.timeline,
    });
  }

  /** New ICE credentials for both transports; media follows the new path once ICE reconnects. */
  async restartIce() {
    this.watch.pathChanged();
    // Both at once: each waits for a server round trip, and media is frozen until both are done.
    await Promise.all(
      this.host.transports().map(async (transport) => {
        if (!transport || transport.closed) return;
        this.timeline.note(`iceRestart:asked:${transport.direction}`);
        const { iceParameters } = await this.host
          .signaling()
          .request('restartIce', { transportId: transport.id });
        if (transport.closed) return;
        await transport.restartIce({ iceParameters: iceParameters as types.IceParameters });
        this.timeline.note(`iceRestart:applied:${transport.direction}`);
      }),
    );
  }

  restartIceOnce() {
    if (this.#iceRestarting || !this.host.inCall()) return;
    this.#iceRestarting = true;
    this.host.onIceRestart();
    this.restartIce()
      .catch((err: Error) => this.host.onError(err))
      .finally(() => (this.#iceRestarting = false));
  }

  /** The path is lost: restart ICE now, and make new transports if media stays silent. */
  recover() {
    this.restartIceOnce();
    clearTimeout(this.#rebuildTimer);
    this.#rebuildTimer = setTimeout(() => {
      if (!this.host.inCall() || !this.watch.enabled) return;
      const silentMs = this.watch.longestSilentMs();
      if (silentMs >= REBUILD_AFTER_RESTART_MS - PATH_WATCH_INTERVAL_MS) void this.host.rebuildTransports();
      else this.timeline.note(`rebuild:notNeeded:${silentMs}ms`);
    }, REBUILD_AFTER_RESTART_MS);
  }

  stop() {
    clearTimeout(this.#rebuildTimer);
    this.watch.stop();
  }
}
