import type { types } from 'mediasoup-client';
import { describe, expect, it } from 'vitest';
import { recoveryFor } from './path-recovery.ts';
import { PathWatch, type PathLoss } from './path-watch.ts';

/** A sending transport as getStats shows it: packets received and the selected candidate pair. */
function fakeSendTransport() {
  const state = { packets: 0, keyframeRequests: 0, pair: 'udp' as 'udp' | 'tcp' | 'none' };
  const transport = {
    id: 'send-1',
    direction: 'send',
    closed: false,
    getStats: async () => {
      const report = new Map<string, Record<string, unknown>>();
      report.set('T', {
        id: 'T',
        type: 'transport',
        packetsReceived: state.packets,
        ...(state.pair === 'none' ? {} : { selectedCandidatePairId: `P-${state.pair}` }),
      });
      report.set('O', { id: 'O', type: 'outbound-rtp', kind: 'video', pliCount: state.keyframeRequests });
      if (state.pair !== 'none') {
        report.set(`P-${state.pair}`, {
          id: `P-${state.pair}`,
          type: 'candidate-pair',
          localCandidateId: 'L',
          remoteCandidateId: 'R',
        });
        report.set('L', {
          id: 'L',
          type: 'local-candidate',
          protocol: state.pair,
          address: '10.0.0.2',
          port: 50000,
        });
        report.set('R', {
          id: 'R',
          type: 'remote-candidate',
          protocol: state.pair,
          address: '10.0.0.1',
          port: 40000,
        });
      }
      return report as unknown as RTCStatsReport;
    },
  };
  return { state, transport: transport as unknown as types.Transport };
}

type FakeState = ReturnType<typeof fakeSendTransport>['state'];

/** Runs a watch (20 ms readings, 100 ms stall) on one sending transport: feedback, then `change` every 10 ms. */
async function lossAfter(change: (state: FakeState) => void) {
  const { state, transport } = fakeSendTransport();
  const losses: PathLoss[] = [];
  const watch = new PathWatch({
    transports: () => [transport],
    expectsInbound: () => true,
    onPathLost: (loss) => losses.push(loss),
    intervalMs: 20,
    stallMs: 100,
  });
  const feedback = setInterval(() => (state.packets += 2), 10);
  watch.start();
  await new Promise((r) => setTimeout(r, 200));
  expect(losses).toEqual([]); // feedback flowing: no loss
  clearInterval(feedback);
  const after = setInterval(() => change(state), 10);
  for (let i = 0; i < 50 && losses.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  clearInterval(after);
  watch.stop();
  return losses;
}

describe('path watch: which recovery a lost path gets', () => {
  it('feedback stops while the browser keeps its pair: lost on the same pair -> new transports', async () => {
    const losses = await lossAfter(() => undefined);
    expect(losses).toHaveLength(1);
    expect(losses[0]!.samePair).toBe(true);
    expect(losses[0]!.silentMs).toBeGreaterThanOrEqual(100);
    expect(recoveryFor(losses[0]!)).toBe('rebuild');
  });

  it('feedback stops and the browser has left its pair: an ICE restart is worth trying first', async () => {
    const losses = await lossAfter((state) => (state.pair = 'none'));
    expect(losses).toHaveLength(1);
    expect(losses[0]!.samePair).toBe(false);
    expect(recoveryFor(losses[0]!)).toBe('restartIce');
  });

  it('keyframe requests arriving over a one-way path (someone consumes us) are not feedback', async () => {
    // Three requests at a time, one per simulcast layer, each in its own packet.
    const losses = await lossAfter((state) => {
      state.keyframeRequests += 3;
      state.packets += 3;
    });
    expect(losses).toHaveLength(1);
    expect(losses[0]!.samePair).toBe(true);
  });
});
