import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, type IncomingHttpHeaders } from 'node:http';
import WebSocket from 'ws';
import { startTestNode } from '../test/helpers/node.ts';
import { connectClient } from '../test/helpers/ws-client.ts';
import { mintFor, newRoomId } from '../test/helpers/tokens.ts';
import {
  closeCode,
  parseSignalingProtocols,
  SIGNALING_SUBPROTOCOL,
  signalingProtocols,
} from './protocol/index.ts';

type Answer = { status: number; headers: IncomingHttpHeaders; body?: { code: string } };

/** A hand-made upgrade request: the HTTP answer, or the 101's headers. */
function upgrade(url: string, protocols: string | undefined): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url.replace('ws:', 'http:'), {
      headers: {
        upgrade: 'websocket',
        connection: 'Upgrade',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'sec-websocket-version': '13',
        ...(protocols === undefined ? {} : { 'sec-websocket-protocol': protocols }),
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe.each(['uws', 'ws'] as const)(
  'join tokens travel in the subprotocol header, over %s',
  (socketServer) => {
    let t: Awaited<ReturnType<typeof startTestNode>>;
    beforeAll(async () => {
      t = await startTestNode({ SOCKET_SERVER: socketServer });
    });
    afterAll(async () => {
      await t.node.stop();
    });

    it('the 101 selects carecall.v1 and never echoes the token', async () => {
      const token = await mintFor(t.node, newRoomId(), 'proto');
      const res = await upgrade(t.wsUrl, signalingProtocols({ kind: 'join', token }).join(', '));
      expect(res.status).toBe(101);
      expect(res.headers['sec-websocket-protocol']).toBe(SIGNALING_SUBPROTOCOL);
      expect(JSON.stringify(res.headers)).not.toContain(token.split('.')[2]);
    });

    it('a client using the header works end to end, and a ws client checks the selection', async () => {
      const c = await connectClient(t.wsUrl, await mintFor(t.node, newRoomId(), 'e2e'));
      expect(await c.request('getRouterRtpCapabilities', {})).toHaveProperty('rtpCapabilities');
      c.close();
    });

    it('a token (even a valid one) or a resume key in the URL is refused: 400 credential_in_url', async () => {
      const token = await mintFor(t.node, newRoomId(), 'query');
      for (const query of [`?token=${encodeURIComponent(token)}`, '?resume=abc&lastSeq=1']) {
        const res = await upgrade(`${t.wsUrl}${query}`, undefined);
        expect(res.status).toBe(400);
        expect(res.body).toMatchObject({ code: 'credential_in_url' });
      }
      // Also when the header carries it too: the URL copy already leaked into logs, so say so.
      const both = await upgrade(
        `${t.wsUrl}?token=${encodeURIComponent(token)}`,
        signalingProtocols({ kind: 'join', token }).join(', '),
      );
      expect(both.body).toMatchObject({ code: 'credential_in_url' });
    });

    it('bad offers: none, no carecall.v1, two credentials, a mangled resume -> typed refusals', async () => {
      const token = await mintFor(t.node, newRoomId(), 'bad');
      const cases: [string | undefined, number, string][] = [
        [undefined, 401, 'token_missing'],
        ['chat, superchat', 401, 'token_missing'],
        [`carecall.token.${token}`, 400, 'subprotocol_required'],
        [`carecall.v1, carecall.token.${token}, carecall.token.${token}`, 400, 'credential_malformed'],
        ['carecall.v1, carecall.resume.key-without-seq', 400, 'credential_malformed'],
        ['carecall.v1, carecall.token.not.a.jwt', 401, 'token_invalid'],
      ];
      for (const [offered, status, code] of cases) {
        const res = await upgrade(t.wsUrl, offered);
        expect([offered, res.status, res.body?.code]).toEqual([offered, status, code]);
      }
    });

    it('resume travels the same way', async () => {
      const room = newRoomId();
      const c = await connectClient(t.wsUrl, await mintFor(t.node, room, 'resumer'));
      const { rtpCapabilities } = await c.request('getRouterRtpCapabilities', {});
      const joined = await c.request('join', { rtpCapabilities: rtpCapabilities as never });
      c.drop();
      await c.closed;
      const raw = new WebSocket(
        t.wsUrl,
        signalingProtocols({ kind: 'resume', resumeKey: joined.resumeKey, lastSeq: c.lastSeq }),
      );
      const first = await new Promise<string>((resolve, reject) => {
        raw.once('message', (m) => resolve(String(m)));
        raw.once('error', reject);
      });
      expect(raw.protocol).toBe(SIGNALING_SUBPROTOCOL);
      expect(JSON.parse(first)).toMatchObject({ type: 'resumed' });
      raw.close(closeCode('client_left'));
    });
  },
);

describe('parseSignalingProtocols', () => {
  it('reads one credential next to carecall.v1, in any order, with any spacing', () => {
    expect(parseSignalingProtocols('carecall.token.a.b.c ,carecall.v1')).toEqual({
      ok: true,
      credential: { kind: 'join', token: 'a.b.c' },
    });
    expect(parseSignalingProtocols('carecall.v1, carecall.resume.k_y-1.42')).toEqual({
      ok: true,
      credential: { kind: 'resume', resumeKey: 'k_y-1', lastSeq: 42 },
    });
    expect(parseSignalingProtocols(null)).toEqual({ ok: false, reason: 'missing' });
    expect(parseSignalingProtocols('carecall.v1, carecall.token.')).toEqual({
      ok: false,
      reason: 'malformed',
    });
    expect(parseSignalingProtocols('carecall.v1, carecall.resume.k.-1')).toEqual({
      ok: false,
      reason: 'malformed',
    });
    expect(parseSignalingProtocols('carecall.v1, carecall.resume.k.1, carecall.token.x')).toEqual({
      ok: false,
      reason: 'malformed',
    });
  });
});
