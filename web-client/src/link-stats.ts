import type { types } from 'mediasoup-client';
import type { ClientStats } from '../../signaling/protocol/index.ts';

type Totals = { lost: number; received: number };

/**
 * Round-trip time from the active ICE candidate pair, and packet loss over the interval since the
 * previous call (cumulative counters would hide a fresh problem behind a long good call).
 */
export class LinkStats {
  #previous: Totals = { lost: 0, received: 0 };

  async measure(transports: (types.Transport | undefined)[]): Promise<ClientStats | undefined> {
    let rtt: number | undefined;
    const totals: Totals = { lost: 0, received: 0 };
    for (const transport of transports) {
      if (!transport || transport.closed) continue;
      const report = await transport.getStats();
      report.forEach((s: Record<string, unknown>) => {
        if (s.type === 'candidate-pair' && s.nominated && typeof s.currentRoundTripTime === 'number') {
          rtt = Math.max(rtt ?? 0, s.currentRoundTripTime * 1000);
        }
        if (s.type === 'inbound-rtp') {
          totals.lost += Number(s.packetsLost ?? 0);
          totals.received += Number(s.packetsReceived ?? 0);
        }
      });
    }
    if (rtt === undefined) return undefined;
    const lost = Math.max(0, totals.lost - this.#previous.lost);
    const received = Math.max(0, totals.received - this.#previous.received);
    this.#previous = totals;
    const packetLossPct = lost + received > 0 ? (100 * lost) / (lost + received) : 0;
    return { rttMs: Math.round(rtt), packetLossPct: Math.round(packetLossPct * 100) / 100 };
  }
}
