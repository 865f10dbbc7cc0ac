import type { LinkScores } from '../sfu/index.ts';
import type { ClientStats, NetworkQuality, QualityLevel } from './protocol/index.ts';

const LEVELS: QualityLevel[] = ['bad', 'poor', 'good', 'excellent'];

function fromScore(score: number | null): QualityLevel {
  if (score === null) return 'excellent';
  return score <= 3 ? 'bad' : score <= 6 ? 'poor' : score <= 8 ? 'good' : 'excellent';
}

function fromClient(stats: ClientStats | undefined): QualityLevel {
  if (!stats) return 'excellent';
  const { rttMs, packetLossPct } = stats;
  if (packetLossPct > 10 || rttMs > 600) return 'bad';
  if (packetLossPct > 3 || rttMs > 300) return 'poor';
  if (packetLossPct > 1 || rttMs > 150) return 'good';
  return 'excellent';
}

/**
 * A participant's link quality from both ends: mediasoup's 0-10 scores of what the server receives
 * from them (uplink) and sends to them (downlink), and what their own browser reports.
 */
export function peerQuality(
  peerId: string,
  { uplink, downlink }: LinkScores,
  client: ClientStats | undefined,
): NetworkQuality {
  const worst = Math.min(
    ...[fromScore(uplink), fromScore(downlink), fromClient(client)].map((l) => LEVELS.indexOf(l)),
  );
  return {
    peerId,
    uplink,
    downlink,
    rttMs: client?.rttMs ?? null,
    packetLossPct: client?.packetLossPct ?? null,
    quality: LEVELS[worst]!,
  };
}
