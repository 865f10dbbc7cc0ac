import { randomBytes } from 'node:crypto';
import type { JoinClaims } from '../../signaling/protocol/index.ts';
import type { CareCallNode } from '../../server/node.ts';

export const newRoomId = () => randomBytes(12).toString('base64url');

/** Defaults to a host (may admit), who enters directly; pass perms without 'admit' to knock. */
export function mintFor(node: CareCallNode, room: string, sub: string, over: Partial<JoinClaims> = {}) {
  return node.issuer.mint({ sub, room, role: 'patient', perms: ['publish', 'subscribe', 'admit'], ...over });
}

export const patientPerms: JoinClaims['perms'] = ['publish', 'subscribe'];

/** Valid RTP parameters for a producer, without a real media sender behind them. */
export function fakeRtpParameters(kind: 'audio' | 'video', ssrc = 1000 + Math.floor(Math.random() * 1e6)) {
  const codec =
    kind === 'audio'
      ? {
          mimeType: 'audio/opus',
          payloadType: 100,
          clockRate: 48000,
          channels: 2,
          parameters: {},
          rtcpFeedback: [],
        }
      : { mimeType: 'video/VP8', payloadType: 101, clockRate: 90000, parameters: {}, rtcpFeedback: [] };
  return { codecs: [codec], encodings: [{ ssrc }], headerExtensions: [], rtcp: { cname: `c${ssrc}` } };
}
