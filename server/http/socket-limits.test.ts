import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import WebSocket from 'ws';
import { startTestNode } from '../../test/helpers/node.ts';
import { mintFor, newRoomId } from '../../test/helpers/tokens.ts';
import { MAX_SOCKET_PAYLOAD_BYTES, signalingProtocols } from '../../signaling/protocol/index.ts';

describe.each(['uws', 'ws'] as const)('socket tier over %s', (socketServer) => {
  let t: Awaited<ReturnType<typeof startTestNode>>;
  beforeAll(async () => {
    t = await startTestNode({ SOCKET_SERVER: socketServer });
  });
  afterAll(async () => {
    await t.node.stop();
  });

  const open = async () => {
    const ws = new WebSocket(
      t.wsUrl,
      signalingProtocols({ kind: 'join', token: await mintFor(t.node, newRoomId(), 'big') }),
    );
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    return ws;
  };

  it.each([MAX_SOCKET_PAYLOAD_BYTES + 1, 3 * MAX_SOCKET_PAYLOAD_BYTES])(
    'a %d-byte frame (over the transport cap) closes with 1009',
    async (size) => {
      const ws = await open();
      ws.on('error', () => {});
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
      ws.send('x'.repeat(size));
      expect(await closed).toBe(1009);
    },
  );

  it('a frame at the cap is read (and refused by the protocol with an error frame), the socket stays open', async () => {
    const ws = await open();
    const reply = new Promise<string>((resolve) => ws.once('message', (d) => resolve(String(d))));
    ws.send('x'.repeat(MAX_SOCKET_PAYLOAD_BYTES));
    expect(JSON.parse(await reply)).toMatchObject({ type: 'error', error: { code: 'frame_too_large' } });
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.close();
  });

  it('no response names the server software (HTTP answers and the 101 upgrade)', async () => {
    for (const path of ['/healthz', '/nope', '/app/']) {
      const res = await fetch(`${t.baseUrl}${path}`);
      expect([...res.headers.keys()].filter((h) => /uwebsockets|server|x-powered-by/i.test(h))).toEqual([]);
    }
    const upgradeHeaders = await new Promise<Record<string, unknown>>(async (resolve, reject) => {
      const token = await mintFor(t.node, newRoomId(), 'banner');
      const req = request(`${t.baseUrl}/ws`, {
        headers: {
          upgrade: 'websocket',
          connection: 'Upgrade',
          'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
          'sec-websocket-version': '13',
          'sec-websocket-protocol': signalingProtocols({ kind: 'join', token }).join(', '),
        },
      });
      req.on('upgrade', (res, socket) => {
        socket.destroy();
        resolve(res.headers);
      });
      req.on('response', () => reject(new Error('upgrade refused')));
      req.on('error', reject);
      req.end();
    });
    expect(Object.keys(upgradeHeaders).filter((h) => /uwebsockets|server|x-powered-by/i.test(h))).toEqual([]);
  });
});
