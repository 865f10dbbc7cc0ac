import { SignalingClient, type SocketFactory } from './signaling-client.ts';

export type CheckState = 'ok' | 'warn' | 'fail';
export type CheckResult = { name: string; state: CheckState; detail: string };

/** Median round trip of a few tiny HTTP requests to our server. */
export async function httpRoundTrip(base: string, samples = 5): Promise<CheckResult> {
  const times: number[] = [];
  try {
    for (let i = 0; i < samples; i++) {
      const started = performance.now();
      const res = await fetch(`${base}/healthz`, { cache: 'no-store' });
      if (!res.ok) throw new Error(`status ${res.status}`);
      times.push(performance.now() - started);
    }
  } catch (err) {
    return { name: 'server', state: 'fail', detail: `cannot reach the server (${(err as Error).message})` };
  }
  const median = times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
  const state: CheckState = median < 150 ? 'ok' : median < 400 ? 'warn' : 'fail';
  return { name: 'server', state, detail: `round trip ${Math.round(median)} ms` };
}

/** Opens the signaling connection with the user's own link and asks one question, without joining. */
export async function signalingReachable(
  wsUrl: string,
  token: string,
  createSocket: SocketFactory,
): Promise<CheckResult> {
  const started = performance.now();
  try {
    const client = await SignalingClient.connect(wsUrl, token, createSocket);
    await client.request('getRouterRtpCapabilities', {}, 5000);
    client.close();
    return {
      name: 'signaling',
      state: 'ok',
      detail: `connected in ${Math.round(performance.now() - started)} ms`,
    };
  } catch {
    return {
      name: 'signaling',
      state: 'fail',
      detail: 'the consultation link is expired or the connection is blocked',
    };
  }
}

export function deviceCheck(name: 'camera' | 'microphone', track: MediaStreamTrack | undefined): CheckResult {
  if (!track) return { name, state: 'fail', detail: `no ${name} found or permission denied` };
  if (track.readyState !== 'live' || track.muted)
    return { name, state: 'warn', detail: `${name} is not delivering` };
  return { name, state: 'ok', detail: track.label || name };
}
