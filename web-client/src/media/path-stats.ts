/** What the path watch reads from a transport's getStats report. */

type Stat = Record<string, unknown>;

/** RTP media packets received on all of a receiving transport's streams. */
export function mediaPacketsReceived(report: RTCStatsReport): number {
  let packets = 0;
  report.forEach((s: Stat) => {
    if (s.type === 'inbound-rtp' && typeof s.packetsReceived === 'number') packets += s.packetsReceived;
  });
  return packets;
}

/** Packets that arrived on the transport (RTCP, STUN answers; a sending transport gets no media). */
export function packetsReceived(report: RTCStatsReport): number {
  let transportPackets: number | undefined;
  let pairPackets = 0;
  report.forEach((s: Stat) => {
    if (s.type === 'transport' && typeof s.packetsReceived === 'number')
      transportPackets = (transportPackets ?? 0) + s.packetsReceived;
    if (s.type === 'candidate-pair' && typeof s.packetsReceived === 'number')
      pairPackets += s.packetsReceived;
  });
  return transportPackets ?? pairPackets;
}

/** The candidate pair a transport sends on now. */
export type SelectedPair = {
  /** Changes whenever the browser moves to another pair (an ICE restart makes new pairs). */
  id: string;
  protocol: string;
  /** From where to where, address:port (the SFU's and this browser's own; nothing about the person). */
  local: string;
  remote: string;
};

export function selectedPair(report: RTCStatsReport): SelectedPair | undefined {
  const byId = new Map<string, Stat>();
  report.forEach((s: Stat) => byId.set(String(s.id), s));
  for (const s of byId.values()) {
    if (s.type !== 'transport' || !s.selectedCandidatePairId) continue;
    const pair = byId.get(String(s.selectedCandidatePairId));
    const local = pair && byId.get(String(pair.localCandidateId));
    const remote = pair && byId.get(String(pair.remoteCandidateId));
    if (!pair || !local || !remote) return undefined;
    return {
      id: String(pair.id),
      protocol: String(local.protocol),
      local: `${String(local.address ?? local.ip)}:${String(local.port)}`,
      remote: `${String(remote.address ?? remote.ip)}:${String(remote.port)}`,
    };
  }
  return undefined;
}
