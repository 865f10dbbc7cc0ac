import type { NetworkQuality } from '../../../signaling/protocol/index.ts';
import type { RoomClient } from '../room-client.ts';
import type { BackgroundControl } from './background-control.ts';
import { collectInboundStats, selectedCandidateTypes, type InboundStats } from '../stats.ts';

/** Hooks for automated browser tests and diagnostics; ids and timings only, no PHI. */
export const probe = {
  joinStartedAt: 0,
  joinedAt: 0,
  admittedAt: 0,
  firstRemoteFrameAt: 0,
  status: 'connecting',
  error: '' as string,
  events: [] as string[],
  client: undefined as RoomClient | undefined,
  background: undefined as BackgroundControl | undefined,
  quality: [] as NetworkQuality[],
  stats: async (): Promise<InboundStats> => collectInboundStats(probe.client),
  candidateTypes: async (): Promise<string[]> => selectedCandidateTypes(probe.client),
};
if (typeof window !== 'undefined') (window as unknown as { carecall: typeof probe }).carecall = probe;
