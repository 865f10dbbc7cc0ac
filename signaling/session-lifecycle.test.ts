import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../server/config.ts';
import { startTestNode } from '../test/helpers/node.ts';
import { mintFor, newRoomId } from '../test/helpers/tokens.ts';
import { connectClient } from '../test/helpers/ws-client.ts';
import { closeCode } from './protocol/index.ts';

type TestNode = Awaited<ReturnType<typeof startTestNode>>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('join deadline', () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await startTestNode({ JOIN_DEADLINE_SECONDS: '1' });
  });
  afterAll(() => t.node.stop());

  it('closes sockets that never join with join_timeout (4010) once the deadline passes, and forgets their sessions', async () => {
    const token = await mintFor(t.node, newRoomId(), 'idle');
    // As many idle sockets as one token may hold (JOIN_TOKEN_MAX_SOCKETS, 3).
    const idle = await Promise.all([1, 2, 3].map(() => connectClient(t.wsUrl, token)));
    const opened = Date.now();
    const closed = await Promise.race([
      Promise.all(idle.map((c) => c.closed)),
      sleep(5000).then(() => 'still open'),
    ]);
    expect(closed, 'close code and reason of each').toEqual(
      idle.map(() => ({ code: closeCode('join_timeout'), reason: 'join_timeout' })),
    );
    expect(Date.now() - opened, 'not closed before the deadline').toBeGreaterThanOrEqual(900);
    // Had their sessions stayed, the token would be at its limit and this upgrade refused (429).
    const again = await connectClient(t.wsUrl, token);
    expect(
      await again.request('getRouterRtpCapabilities', {}),
      'a fresh socket on the same token is served',
    ).toHaveProperty('rtpCapabilities');
    again.close();
  });

  it('also closes a socket that only asked for the router capabilities', async () => {
    const asker = await connectClient(t.wsUrl, await mintFor(t.node, newRoomId(), 'asker'));
    await asker.request('getRouterRtpCapabilities', {});
    expect(await asker.closed, 'close after the deadline').toEqual({
      code: closeCode('join_timeout'),
      reason: 'join_timeout',
    });
  });

  it('leaves joined sockets alone, in the room and in the waiting room', async () => {
    const room = newRoomId();
    const host = await connectClient(
      t.wsUrl,
      await mintFor(t.node, room, 'host', { role: 'doctor', perms: ['publish', 'subscribe', 'admit'] }),
    );
    const guest = await connectClient(
      t.wsUrl,
      await mintFor(t.node, room, 'guest', { role: 'guest', perms: ['subscribe'] }),
    );
    const { rtpCapabilities } = await host.request('getRouterRtpCapabilities', {});
    expect(
      (await host.request('join', { rtpCapabilities: rtpCapabilities as never })).status,
      'the host is in',
    ).toBe('admitted');
    expect(
      (await guest.request('join', { rtpCapabilities: rtpCapabilities as never })).status,
      'the guest waits',
    ).toBe('waiting');
    const outcome = await Promise.race([host.closed, guest.closed, sleep(2500).then(() => 'both open')]);
    expect(outcome, 'neither socket is closed past the deadline').toBe('both open');
    host.close();
    guest.close();
  });

  it('lets the token join again on a new socket after a timeout (the client may rejoin)', async () => {
    const room = newRoomId();
    const token = await mintFor(t.node, room, 'slow', {
      role: 'doctor',
      perms: ['publish', 'subscribe', 'admit'],
    });
    const first = await connectClient(t.wsUrl, token);
    expect((await first.closed).reason, 'the first socket timed out').toBe('join_timeout');
    const second = await connectClient(t.wsUrl, token);
    const { rtpCapabilities } = await second.request('getRouterRtpCapabilities', {});
    expect(
      (await second.request('join', { rtpCapabilities: rtpCapabilities as never })).status,
      'the second socket joins',
    ).toBe('admitted');
    second.close();
  });

  it('refuses a deadline that is not a whole number of seconds from 1 to 600', () => {
    for (const bad of ['0', '601', 'soon', '1.5']) {
      expect(() => loadConfig({ JOIN_DEADLINE_SECONDS: bad }), `JOIN_DEADLINE_SECONDS=${bad}`).toThrow(
        /JOIN_DEADLINE_SECONDS/,
      );
    }
    expect(loadConfig({}).joinToken.joinDeadlineMs, 'the default').toBe(30_000);
  });
});

describe('router capabilities before joining', () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await startTestNode();
  });
  afterAll(() => t.node.stop());

  it('are answered without creating the room (placement leased it here), and equal the room router’s once it exists', async () => {
    const room = newRoomId();
    const client = await connectClient(
      t.wsUrl,
      await mintFor(t.node, room, 'early', { role: 'doctor', perms: ['publish', 'subscribe', 'admit'] }),
    );
    const { rtpCapabilities } = await client.request('getRouterRtpCapabilities', {});
    expect(t.node.hub.rooms.has(room), 'no room was created by asking').toBe(false);
    expect(t.node.hub.rooms.size, 'no room at all on this node').toBe(0);
    // Placed at the first socket: a second participant reaching another node lands here too.
    expect(await t.node.bus.roomOwner(room), 'the room is leased to this node, not created').toBe(
      t.node.nodeId,
    );
    expect(
      (rtpCapabilities as { codecs: unknown[] }).codecs.length,
      'the capabilities list codecs',
    ).toBeGreaterThan(0);
    await client.request('join', { rtpCapabilities: rtpCapabilities as never });
    expect(
      t.node.hub.rooms.get(room)?.room.rtpCapabilities,
      'the same capabilities as the room router',
    ).toEqual(rtpCapabilities);
    client.close();
  });
});
