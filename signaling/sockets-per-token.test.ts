import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestNode } from '../test/helpers/node.ts';
import { mintFor, newRoomId } from '../test/helpers/tokens.ts';
import { closeCode, signalingProtocols } from './protocol/index.ts';

type Outcome =
  | { kind: 'open'; ws: WebSocket }
  | { kind: 'refused'; status: number; code: string }
  | { kind: 'closed'; code: number; reason: string };

/** Opens a socket that never joins (as an attacker holding sockets would) and reports what happened. */
function hold(wsUrl: string, token: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const ws = new WebSocket(wsUrl, signalingProtocols({ kind: 'join', token }));
    ws.on('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () =>
        resolve({ kind: 'refused', status: res.statusCode ?? 0, code: JSON.parse(text).code }),
      );
    });
    // A socket the server accepts and then closes at once (4007) reports that, not "open".
    ws.on('open', () =>
      setTimeout(() => ws.readyState === WebSocket.OPEN && resolve({ kind: 'open', ws }), 150),
    );
    ws.on('close', (code, reason) => resolve({ kind: 'closed', code, reason: reason.toString() }));
    ws.on('error', () => {});
  });
}

const closeAll = (outcomes: Outcome[]) => outcomes.forEach((o) => o.kind === 'open' && o.ws.close());

describe.each(['uws', 'ws'] as const)('sockets per join token over %s', (socketServer) => {
  let t: Awaited<ReturnType<typeof startTestNode>>;
  beforeAll(async () => {
    t = await startTestNode({ SOCKET_SERVER: socketServer, JOIN_TOKEN_MAX_SOCKETS: '3' });
  });
  afterAll(() => t.node.stop());

  it('a fourth socket on one token is refused (429 too_many_connections) until one of the three closes', async () => {
    const token = await mintFor(t.node, newRoomId(), 'holder');
    const held: Outcome[] = [];
    for (let i = 0; i < 3; i++) held.push(await hold(t.wsUrl, token));
    expect(held.map((o) => o.kind)).toEqual(['open', 'open', 'open']);
    expect(await hold(t.wsUrl, token)).toEqual({
      kind: 'refused',
      status: 429,
      code: 'too_many_connections',
    });
    // Another identity in the same room is not affected.
    const other = await hold(t.wsUrl, await mintFor(t.node, newRoomId(), 'someone-else'));
    expect(other.kind).toBe('open');
    (held[0] as { ws: WebSocket }).ws.close();
    await new Promise((r) => setTimeout(r, 200));
    const again = await hold(t.wsUrl, token);
    expect(again.kind).toBe('open');
    closeAll([...held, other, again]);
  });

  it('twelve sockets opened at once on one token: three are held, the rest refused or closed with 4007', async () => {
    const token = await mintFor(t.node, newRoomId(), 'burst');
    const outcomes = await Promise.all(Array.from({ length: 12 }, () => hold(t.wsUrl, token)));
    expect(outcomes.filter((o) => o.kind === 'open')).toHaveLength(3);
    for (const o of outcomes) {
      if (o.kind === 'refused') expect([o.status, o.code]).toEqual([429, 'too_many_connections']);
      if (o.kind === 'closed')
        expect([o.code, o.reason]).toEqual([closeCode('too_many_connections'), 'too_many_connections']);
    }
    closeAll(outcomes);
  });
});
