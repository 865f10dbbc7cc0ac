import type { types } from 'mediasoup-client';
import { describe, expect, it } from 'vitest';
import type { SignalingClient } from '../signaling-client.ts';
import { PathRecovery } from './path-recovery.ts';

/**
 * A transport as getStats shows it. `flowing` makes its counter grow: feedback from the SFU on a
 * sending transport, media on a receiving one. An ICE restart does whatever `onRestart` says.
 */
function fakeTransport(direction: 'send' | 'recv') {
  const state = { packets: 0, flowing: false, onRestart: () => undefined as void };
  const timer = setInterval(() => state.flowing && (state.packets += 5), 20);
  const transport = {
    id: `${direction}-1`,
    direction,
    closed: false,
    restartIce: async () => state.onRestart(),
    getStats: async () => {
      const report = new Map<string, Record<string, unknown>>();
      if (direction === 'send')
        report.set('T', { id: 'T', type: 'transport', packetsReceived: state.packets });
      else report.set('I', { id: 'I', type: 'inbound-rtp', kind: 'video', packetsReceived: state.packets });
      return report as unknown as RTCStatsReport;
    },
  };
  return { state, transport: transport as unknown as types.Transport, stop: () => clearInterval(timer) };
}

const signaling = {
  request: async () => ({ iceParameters: { usernameFragment: 'u', password: 'p', iceLite: true } }),
} as unknown as SignalingClient;

/** Path recovery over two fake transports, its watch running; `rebuilds` records when it made new ones. */
function startRecovery(send: types.Transport, recv: types.Transport) {
  const rebuilds: number[] = [];
  const recovery = new PathRecovery({
    transports: () => [send, recv],
    signaling: () => signaling,
    inCall: () => true,
    expectsInbound: () => true,
    rebuildTransports: async () => void rebuilds.push(Date.now()),
    onIceRestart: () => undefined,
    onError: (err) => {
      throw err;
    },
  });
  recovery.watch.start();
  return { recovery, rebuilds };
}

describe('path recovery', () => {
  it('makes new transports when an ICE restart revived only the sending one', async () => {
    const send = fakeTransport('send');
    const recv = fakeTransport('recv');
    send.state.flowing = recv.state.flowing = true;
    // Each transport has its own ICE agent: the restart moves the sending one to a working pair,
    // the receiving one stays on the dead pair.
    send.state.onRestart = () => void (send.state.flowing = true);
    const { recovery, rebuilds } = startRecovery(send.transport, recv.transport);
    await new Promise((r) => setTimeout(r, 500));
    const lostAt = Date.now();
    send.state.flowing = recv.state.flowing = false; // the path goes
    for (let i = 0; i < 100 && rebuilds.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    recovery.stop();
    send.stop();
    recv.stop();
    const events = recovery.timeline.entries.map((e) => e.event);
    expect(events).toContain('iceRestart:applied:send');
    expect(events.some((e) => e.startsWith('rebuild:notNeeded'))).toBe(false);
    expect(rebuilds).toHaveLength(1);
    // Declared after 0.6 s of silence, rebuilt 0.5 s after the restart.
    expect(rebuilds[0]! - lostAt).toBeLessThan(3000);
  });

  it('keeps the transports when the ICE restart revived both', async () => {
    const send = fakeTransport('send');
    const recv = fakeTransport('recv');
    send.state.flowing = recv.state.flowing = true;
    send.state.onRestart = () => void (send.state.flowing = true);
    recv.state.onRestart = () => void (recv.state.flowing = true);
    const { recovery, rebuilds } = startRecovery(send.transport, recv.transport);
    await new Promise((r) => setTimeout(r, 500));
    send.state.flowing = recv.state.flowing = false;
    const events = () => recovery.timeline.entries.map((e) => e.event);
    for (let i = 0; i < 100 && !events().some((e) => e.startsWith('rebuild:')); i++)
      await new Promise((r) => setTimeout(r, 50));
    recovery.stop();
    send.stop();
    recv.stop();
    expect(events().some((e) => e.startsWith('rebuild:notNeeded'))).toBe(true);
    expect(rebuilds).toEqual([]);
  });
});
