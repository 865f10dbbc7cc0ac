import type { Peer } from '../sfu/peer.ts';
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
export function peerQuality(peer: Peer, client: ClientStats | undefined): NetworkQuality {
  // Simulcast senders idle their upper layers on purpose: judge the best-received encoding.
  const uplinks = [...peer.producers.values()].filter((p) => !p.paused).map((p) => Math.max(...p.score.map((s) => s.score), 0));
  const downlinks = [...peer.consumers.values()].filter((c) => !c.paused && !c.producerPaused).map((c) => c.score.score);
  const uplink = uplinks.length ? Math.min(...uplinks) : null;
  const downlink = downlinks.length ? Math.min(...downlinks) : null;
  const worst = Math.min(...[fromScore(uplink), fromScore(downlink), fromClient(client)].map((l) => LEVELS.indexOf(l)));
  return {
    peerId: peer.id,
    uplink,
    downlink,
    rttMs: client?.rttMs ?? null,
    packetLossPct: client?.packetLossPct ?? null,
    quality: LEVELS[worst]!,
  };
}
