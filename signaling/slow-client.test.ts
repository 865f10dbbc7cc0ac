import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RoomRoster } from '../web-client/src/room-roster.ts';
import { SignalingClient, type WebSocketLike } from '../web-client/src/signaling-client.ts';
import type { NetworkQualityDelta } from './protocol/index.ts';
import { startTestNode } from '../test/helpers/node.ts';
import { connectClient, type TestClient } from '../test/helpers/ws-client.ts';
import { mintFor, newRoomId } from '../test/helpers/tokens.ts';

type TestNode = Awaited<ReturnType<typeof startTestNode>>;
type Frame = {
  type: string;
  seq?: number;
  method?: string;
  data?: { peerId?: string };
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function join(client: SignalingClient) {
  const { rtpCapabilities } = await client.request('getRouterRtpCapabilities', {});
  return client.request('join', { rtpCapabilities: rtpCapabilities as never });
}

/** A client whose socket can stop reading, as a congested or starved client does; records raw frames. */
async function slowClient(wsUrl: string, token: string) {
  let socket: WebSocket | undefined;
  const client = await SignalingClient.connect(wsUrl, token, (url, protocols) => {
    socket = new WebSocket(url, protocols);
    return socket as unknown as WebSocketLike;
  });
  const frames: Frame[] = [];
  socket!.on('message', (d: Buffer) => frames.push(JSON.parse(d.toString()) as Frame));
  let closedWith: number | undefined;
  client.on('close', (code) => (closedWith = code));
  // The TCP stream under the WebSocket: pausing it leaves what the server sends in the kernel and the server's queue.
  const tcp = (socket as unknown as { _socket: { pause(): void; resume(): void } })._socket;
  return {
    client,
    frames,
    closedWith: () => closedWith,
    pause: () => tcp.pause(),
    resume: () => tcp.resume(),
  };
}

// Long peer ids made each full network-quality list large (one entry per participant), as a big room does.
const longId = (i: number) => `member-${'x'.repeat(100)}-${i}`;
const MEMBERS = 150;
const REPORTS = 400;

describe.each(['uws', 'ws'] as const)('a client that stops reading, over %s', (socketServer) => {
  let t: TestNode;
  beforeAll(async () => {
    t = await startTestNode(
      { SOCKET_SERVER: socketServer },
      { roomCapacity: MEMBERS + 10, qualityIntervalMs: 20, resumeGraceMs: 120_000 },
    );
  });
  afterAll(() => t.node.stop());

  it('keeps its connection: room-wide frames carry only changes, events all arrive in order, and its list ends up exact', async () => {
    const room = newRoomId();
    // Participants whose connections dropped stay in the room for the resume grace: rows in every list, no socket to read.
    for (let i = 0; i < MEMBERS; i += 25) {
      await Promise.all(
        Array.from({ length: Math.min(25, MEMBERS - i) }, async (_, k) => {
          const c = await connectClient(t.wsUrl, await mintFor(t.node, room, longId(i + k)));
          await join(c);
          c.drop();
        }),
      );
    }
    const slow = await slowClient(t.wsUrl, await mintFor(t.node, room, 'slow-host', { role: 'doctor' }));
    await join(slow.client);
    const driver: TestClient = await connectClient(t.wsUrl, await mintFor(t.node, room, 'driver'));
    await join(driver);
    slow.pause();

    // Every report changes the driver's row only: each quality frame is one row, not the whole room's 150.
    const qualityFrames: { peers: unknown[] }[] = [];
    driver.on('notification', (method, data) => {
      // Its own whole list on admission came before; these are the change frames.
      if (method === 'networkQuality' && !(data as { full: boolean }).full)
        qualityFrames.push(data as { peers: unknown[] });
    });
    for (let i = 1; i <= REPORTS; i++) {
      await driver.request('reportStats', { rttMs: i, packetLossPct: 0 });
      if (i === REPORTS / 2) {
        const late = await connectClient(t.wsUrl, await mintFor(t.node, room, 'late-joiner'));
        await join(late);
      }
      await sleep(20);
    }
    await driver.request('reportStats', { rttMs: 9999, packetLossPct: 0 });
    await sleep(200);
    expect(qualityFrames.length, 'quality frames reached the driver').toBeGreaterThan(REPORTS / 4);
    expect(
      Math.max(...qualityFrames.map((f) => f.peers.length)),
      'a frame lists the rows that changed (the driver, the late joiner), never the room',
    ).toBeLessThanOrEqual(3);
    expect(slow.closedWith()).toBeUndefined();

    slow.resume();
    // The slow client applies every frame it got, in order, as the client core does.
    let roster = new RoomRoster();
    const latest = () => {
      roster = new RoomRoster();
      for (const f of slow.frames)
        if (f.method === 'networkQuality') roster.applyQuality(f.data as NetworkQualityDelta);
      return roster.quality.find((p) => p.peerId === 'driver')?.rttMs;
    };
    const deadline = Date.now() + 10_000;
    while (latest() !== 9999 && Date.now() < deadline) await sleep(50);
    expect(latest()).toBe(9999);
    expect(slow.closedWith()).toBeUndefined();
    const server = t.node.hub.rooms.get(room)!;
    expect(
      roster.quality.map((q) => q.peerId).sort(),
      'its quality list has exactly the members the room has',
    ).toEqual([...server.members.keys()].filter((id) => server.room.peers.has(id)).sort());

    const notifications = slow.frames.filter((f) => f.type === 'notification');
    // Nothing skipped: sequence numbers are consecutive (merged frames never took one).
    expect(notifications.map((f) => f.seq)).toEqual(notifications.map((_, i) => notifications[0]!.seq! + i));
    expect(notifications.some((f) => f.method === 'peerJoined' && f.data?.peerId === 'late-joiner')).toBe(
      true,
    );
    const metrics = await (await fetch(`${t.baseUrl}/metrics`)).text();
    expect(metrics).toContain(`carecall_signaling_slow_client_closes_total{node="${t.node.nodeId}"} 0`);
    slow.client.close();
    driver.close();
  }, 120_000);

  it('a client that asks without reading is cut at the backlog limit, with a log line and a metric; the room goes on', async () => {
    const room = newRoomId();
    const reader = await connectClient(t.wsUrl, await mintFor(t.node, room, 'reader'));
    await join(reader);
    const greedy = await slowClient(t.wsUrl, await mintFor(t.node, room, 'greedy'));
    await join(greedy.client);
    greedy.pause();
    // Each answer carries the router's capabilities (kilobytes); answers are never coalesced.
    for (let id = 10_000; id < 14_000; id++)
      greedy.client.sendRaw(
        JSON.stringify({ type: 'request', id, method: 'getRouterRtpCapabilities', data: {} }),
      );
    const closes = async () =>
      Number(
        /carecall_signaling_slow_client_closes_total\{node="node-[0-9a-f]+"\} (\d+)/.exec(
          await (await fetch(`${t.baseUrl}/metrics`)).text(),
        )?.[1],
      );
    const deadline = Date.now() + 30_000;
    while ((await closes()) < 1 && Date.now() < deadline) await sleep(200);
    expect(await closes()).toBe(1);
    const lines = t.logs.lines.filter((l) => l.includes('send backlog limit'));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 40, peerId: 'greedy', roomId: room });
    // Everyone else is served as before.
    await expect(reader.request('reportStats', { rttMs: 10, packetLossPct: 0 })).resolves.toEqual({});
    reader.close();
  }, 60_000);
});
