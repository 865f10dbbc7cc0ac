import type { RoomClient } from './room-client.ts';

export type InboundStats = {
  video: { consumerId: string; source: string; framesDecoded: number; frameWidth: number }[];
  audio: { consumerId: string; totalAudioEnergy: number; totalSamplesReceived: number }[];
};

/** Per-consumer inbound RTP counters from the browser's own stats (what it really decoded and heard). */
export async function collectInboundStats(client: RoomClient | undefined): Promise<InboundStats> {
  const out: InboundStats = { video: [], audio: [] };
  if (!client) return out;
  for (const [consumerId, consumer] of client.consumers) {
    const report = await consumer.getStats();
    report.forEach((s: Record<string, unknown>) => {
      if (s.type !== 'inbound-rtp') return;
      if (s.kind === 'video') {
        out.video.push({
          consumerId,
          source: String(consumer.appData.source ?? ''),
          framesDecoded: Number(s.framesDecoded ?? 0),
          frameWidth: Number(s.frameWidth ?? 0),
        });
      } else if (s.kind === 'audio') {
        out.audio.push({
          consumerId,
          totalAudioEnergy: Number(s.totalAudioEnergy ?? 0),
          totalSamplesReceived: Number(s.totalSamplesReceived ?? 0),
        });
      }
    });
  }
  return out;
}

/** The local candidate type ('host', 'srflx', 'relay') of each transport's selected ICE pair. */
export async function selectedCandidateTypes(client: RoomClient | undefined): Promise<string[]> {
  const types: string[] = [];
  for (const transport of [client?.sendTransport, client?.recvTransport]) {
    if (!transport || transport.closed) continue;
    const report = await transport.getStats();
    const byId = new Map<string, Record<string, unknown>>();
    report.forEach((s: Record<string, unknown>) => byId.set(String(s.id), s));
    for (const s of byId.values()) {
      if (s.type !== 'transport' || !s.selectedCandidatePairId) continue;
      const pair = byId.get(String(s.selectedCandidatePairId));
      const local = pair && byId.get(String(pair.localCandidateId));
      if (local) types.push(String(local.candidateType));
    }
  }
  return types;
}
