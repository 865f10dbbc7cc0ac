import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { generateKeyPairSync } from 'node:crypto';
import { request } from 'node:http';
import { RequestError } from '../web-client/src/signaling-client.ts';
import { startTestNode } from '../test/helpers/node.ts';
import { connectClient, nextErrorFrame, type TestClient } from '../test/helpers/ws-client.ts';
import { fakeRtpParameters, mintFor, newRoomId } from '../test/helpers/tokens.ts';
import {
  MAX_FRAME_BYTES,
  JOIN_TOKEN_AUDIENCE,
  JOIN_TOKEN_ISSUER,
  signalingProtocols,
} from './protocol/index.ts';

async function joinWith(client: TestClient) {
  const { rtpCapabilities } = await client.request('getRouterRtpCapabilities', {});
  return client.request('join', { rtpCapabilities: rtpCapabilities as never });
}

async function produceFake(client: TestClient, kind: 'audio' | 'video') {
  const transport = await client.request('createTransport', { direction: 'send' });
  return client.request('produce', {
    transportId: transport.id,
    kind,
    rtpParameters: fakeRtpParameters(kind) as never,
    source: kind === 'audio' ? 'mic' : 'webcam',
  });
}

/**
 * Sends a WebSocket upgrade by hand and reports the HTTP answer (fetch refuses upgrade headers).
 * `token` goes in the Sec-WebSocket-Protocol header, as clients send it.
 */
function upgradeStatus(wsUrl: string, token?: string, query = '', protocols?: string) {
  const offered =
    protocols ?? (token === undefined ? undefined : signalingProtocols({ kind: 'join', token }).join(', '));
  return new Promise<{ status: number; type: string | undefined; body: { code: string } }>(
    (resolve, reject) => {
      const req = request(`${wsUrl.replace('ws:', 'http:')}${query}`, {
        headers: {
          upgrade: 'websocket',
          connection: 'Upgrade',
          'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
          'sec-websocket-version': '13',
          ...(offered === undefined ? {} : { 'sec-websocket-protocol': offered }),
        },
      });
      req.on('upgrade', () => reject(new Error('upgrade was accepted')));
      req.on('response', (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body: JSON.parse(text) }),
        );
      });
      req.on('error', reject);
      req.end();
    },
  );
}

describe.each(['uws', 'ws'] as const)('signaling over %s', (socketServer) => {
  let t: Awaited<ReturnType<typeof startTestNode>>;
  const clients: TestClient[] = [];
  const connect = async (token: string) => {
    const c = await connectClient(t.wsUrl, token);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    t = await startTestNode({ SOCKET_SERVER: socketServer });
    expect(t.node.server.kind).toBe(socketServer);
  });
  afterAll(async () => {
    clients.forEach((c) => c.close());
    await t.node.stop();
  });

  describe('refuses bad tokens before the upgrade', () => {
    it('missing token -> 401 problem+json', async () => {
      const r = await upgradeStatus(t.wsUrl);
      expect(r).toMatchObject({
        status: 401,
        type: 'application/problem+json',
        body: { code: 'token_missing' },
      });
    });

    it('garbage, tampered, expired, wrong audience, foreign key -> 401', async () => {
      const room = newRoomId();
      const good = await mintFor(t.node, room, 'u1');
      const [h, p, s] = good.split('.');
      const tamperedPayload = Buffer.from(
        JSON.stringify({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), role: 'doctor' }),
      ).toString('base64url');
      const expired = await t.node.issuer.mint({ sub: 'u1', room, role: 'patient', perms: [] }, -10);
      const key = t.node['issuer']['keys' as never] as { privateKey: import('node:crypto').KeyObject };
      const sign = (aud: string, k = key.privateKey) =>
        new SignJWT({ room, role: 'patient', perms: [] })
          .setProtectedHeader({ alg: 'EdDSA' })
          .setSubject('u1')
          .setIssuer(JOIN_TOKEN_ISSUER)
          .setAudience(aud)
          .setExpirationTime('1m')
          .sign(k);
      const foreign = generateKeyPairSync('ed25519').privateKey;
      const bad = [
        'abc',
        `${h}.${tamperedPayload}.${s}`,
        expired,
        await sign('someone-else'),
        await sign(JOIN_TOKEN_AUDIENCE, foreign),
      ];
      for (const token of bad) {
        const r = await upgradeStatus(t.wsUrl, token);
        expect(r.status).toBe(401);
        expect(r.body.code).toBe('token_invalid');
      }
      // The untampered token is accepted, so the refusals above are about the token alone.
      const ok = await connect(good);
      expect(await ok.request('getRouterRtpCapabilities', {})).toHaveProperty('rtpCapabilities');
    });
  });

  describe('bad frames get error frames and the connection stays usable', () => {
    let c: TestClient;
    beforeAll(async () => {
      c = await connect(await mintFor(t.node, newRoomId(), 'frames'));
    });

    it('malformed JSON -> bad_frame', async () => {
      c.sendRaw('{not json');
      expect(await nextErrorFrame(c, 1)).toMatchObject({ code: 'bad_frame' });
      expect(await c.request('getRouterRtpCapabilities', {})).toHaveProperty('rtpCapabilities');
    });

    it('valid JSON of the wrong shape -> bad_frame', async () => {
      c.sendRaw(JSON.stringify({ hello: 'world' }));
      expect(await nextErrorFrame(c, 2)).toMatchObject({ code: 'bad_frame' });
    });

    it('oversize frame -> frame_too_large', async () => {
      c.sendRaw(
        JSON.stringify({
          type: 'request',
          id: 1,
          method: 'join',
          data: { pad: 'x'.repeat(MAX_FRAME_BYTES) },
        }),
      );
      expect(await nextErrorFrame(c, 3)).toMatchObject({ code: 'frame_too_large' });
      expect(await c.request('getRouterRtpCapabilities', {})).toHaveProperty('rtpCapabilities');
    });

    it('unknown method and invalid data -> typed failed responses', async () => {
      await expect(c.request('nope' as never, {} as never)).rejects.toMatchObject({ code: 'unknown_method' });
      const err = await c
        .request('createTransport', { direction: 'sideways' } as never)
        .catch((e: RequestError) => e);
      expect(err).toBeInstanceOf(RequestError);
      expect((err as RequestError).body).toMatchObject({
        code: 'invalid_request',
        issues: [{ path: 'direction' }],
      });
    });

    it('requests before join -> not_joined', async () => {
      await expect(c.request('createTransport', { direction: 'send' })).rejects.toMatchObject({
        code: 'not_joined',
      });
      await expect(c.request('consume', { producerId: 'x' })).rejects.toMatchObject({ code: 'not_joined' });
    });

    it('mediasoup-level bad parameters -> media_error, not a crash', async () => {
      await joinWith(c);
      const tr = await c.request('createTransport', { direction: 'send' });
      const bad = {
        codecs: [{ mimeType: 'video/NOPE', payloadType: 101, clockRate: 90000 }],
        encodings: [{ ssrc: 5 }],
      };
      await expect(
        c.request('produce', {
          transportId: tr.id,
          kind: 'video',
          rtpParameters: bad as never,
          source: 'webcam',
        }),
      ).rejects.toMatchObject({ code: 'media_error' });
      await expect(
        c.request('connectTransport', {
          transportId: 'nope',
          dtlsParameters: { fingerprints: [{ algorithm: 'sha-256', value: 'AA' }] } as never,
        }),
      ).rejects.toMatchObject({ code: 'transport_not_found' });
      expect(await produceFake(c, 'audio')).toHaveProperty('producerId');
    });
  });

  it('two peers: join, see each other, consume, and leave notifications', async () => {
    const room = newRoomId();
    const a = await connect(await mintFor(t.node, room, 'alice', { role: 'doctor', name: 'A' }));
    const b = await connect(await mintFor(t.node, room, 'bob'));
    const ja = await joinWith(a);
    expect(ja.peers).toEqual([]);
    const { producerId } = await produceFake(a, 'video');
    const jb = await joinWith(b);
    expect(jb.peers).toEqual([{ peerId: 'alice', role: 'doctor', displayName: 'A' }]);
    expect(jb.producers).toEqual([
      { peerId: 'alice', producerId, kind: 'video', source: 'webcam', paused: false },
    ]);
    expect(await a.waitFor('peerJoined')).toEqual([
      { peerId: 'bob', role: 'patient', displayName: undefined },
    ]);
    await b.request('createTransport', { direction: 'recv' });
    const consumed = await b.request('consume', { producerId });
    expect(consumed).toMatchObject({ producerId, kind: 'video' });
    await b.request('resumeConsumer', { consumerId: consumed.consumerId });

    const audio = await produceFake(b, 'audio');
    expect(await a.waitFor('newProducer')).toEqual([
      { peerId: 'bob', producerId: audio.producerId, kind: 'audio', source: 'mic', paused: false },
    ]);

    await a.request('closeProducer', { producerId });
    expect(await b.waitFor('consumerClosed')).toEqual([{ consumerId: consumed.consumerId }]);
    await a.request('leave', {});
    expect(await b.waitFor('peerLeft')).toEqual([{ peerId: 'alice' }]);
  });

  it("authz: another room's producer is not found; own producer cannot be consumed; no publish perm -> forbidden", async () => {
    const roomA = newRoomId();
    const roomB = newRoomId();
    const a = await connect(await mintFor(t.node, roomA, 'a1'));
    const b = await connect(await mintFor(t.node, roomB, 'b1'));
    await joinWith(a);
    await joinWith(b);
    const { producerId } = await produceFake(a, 'audio');
    await b.request('createTransport', { direction: 'recv' });
    await expect(b.request('consume', { producerId })).rejects.toMatchObject({ code: 'producer_not_found' });
    await a.request('createTransport', { direction: 'recv' });
    await expect(a.request('consume', { producerId })).rejects.toMatchObject({ code: 'producer_not_found' });

    const viewer = await connect(await mintFor(t.node, roomA, 'viewer', { perms: ['subscribe', 'admit'] }));
    await joinWith(viewer);
    await expect(viewer.request('createTransport', { direction: 'send' })).rejects.toMatchObject({
      code: 'forbidden',
    });
    const listenOnly = await connect(await mintFor(t.node, roomA, 'muted', { perms: ['admit'] }));
    await joinWith(listenOnly);
    await expect(listenOnly.request('createTransport', { direction: 'recv' })).rejects.toMatchObject({
      code: 'forbidden',
    });
  });

  it('same identity joining again replaces the old connection (no duplicate peers)', async () => {
    const room = newRoomId();
    const first = await connect(await mintFor(t.node, room, 'dup'));
    const other = await connect(await mintFor(t.node, room, 'other'));
    await joinWith(first);
    await joinWith(other);
    const second = await connect(await mintFor(t.node, room, 'dup'));
    await joinWith(second);
    expect(await first.closed).toEqual({ code: 4001, reason: 'duplicate_identity' });
    expect([...t.node.hub.rooms.get(room)!.room.peers.keys()].sort()).toEqual(['dup', 'other']);
  });

  it('joins racing producers, in both orders, many times: every producer is announced exactly once', async () => {
    for (let i = 0; i < 15; i++) {
      const room = newRoomId();
      const a = await connect(await mintFor(t.node, room, 'pa'));
      const b = await connect(await mintFor(t.node, room, 'pb'));
      const first = i % 2 === 0 ? a : b;
      const second = first === a ? b : a;
      await joinWith(first);
      // Second joins while the first is producing: each side must learn of the other's producer once.
      const [p1, j2] = await Promise.all([produceFake(first, 'video'), joinWith(second)]);
      const p2 = await produceFake(second, 'audio');
      const seenBySecond = [
        ...j2.producers.map((p) => p.producerId),
        ...second.notifications
          .filter((n) => n.method === 'newProducer')
          .map((n) => (n.data as { producerId: string }).producerId),
      ];
      await first.waitFor('newProducer');
      expect(seenBySecond.filter((id) => id === p1.producerId)).toHaveLength(1);
      expect(
        first.notifications
          .filter((n) => n.method === 'newProducer')
          .map((n) => (n.data as { producerId: string }).producerId),
      ).toEqual([p2.producerId]);
      a.close();
      b.close();
    }
  });
});
