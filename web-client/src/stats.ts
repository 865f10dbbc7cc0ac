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
        out.video.push({ consumerId, source: String(consumer.appData.source ?? ''), framesDecoded: Number(s.framesDecoded ?? 0), frameWidth: Number(s.frameWidth ?? 0) });
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
