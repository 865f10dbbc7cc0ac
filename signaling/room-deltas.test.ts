import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebSocketLike } from '../web-client/src/signaling-client.ts';
import { startTestNode } from '../test/helpers/node.ts';
import { mintFor, newRoomId } from '../test/helpers/tokens.ts';
import { connectClient, type TestClient } from '../test/helpers/ws-client.ts';
import {
  networkQualityDeltaSchema,
  participantsDeltaSchema,
  type NetworkQualityDelta,
  type Notifications,
  type ParticipantsDelta,
} from './protocol/index.ts';
import { peerQuality } from './network-quality.ts';
import { DeferredSnapshots } from './snapshot-notifications.ts';

type TestNode = Awaited<ReturnType<typeof startTestNode>>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const QUALITY_MS = 50;
const MEMBERS = 30;

let t: TestNode;
beforeAll(async () => {
  t = await startTestNode({}, { roomCapacity: MEMBERS + 5, qualityIntervalMs: QUALITY_MS });
});
afterAll(() => t.node.stop());

let lastJoin: { resumeKey: string };
async function enter(room: string, sub: string): Promise<TestClient> {
  const c = await connectClient(t.wsUrl, await mintFor(t.node, room, sub));
  const { rtpCapabilities } = await c.request('getRouterRtpCapabilities', {});
  lastJoin = await c.request('join', { rtpCapabilities: rtpCapabilities as never });
  return c;
}
const framesOf = <N extends 'participants' | 'networkQuality'>(c: TestClient, method: N, from = 0) =>
  c.notifications
    .slice(from)
    .filter((n) => n.method === method)
    .map((n) => n.data as Notifications[N]);

/** What the server would send a member joining now: every client's kept list must equal it. */
const serverLists = (room: string) => {
  const hub = t.node.hub.rooms.get(room)!;
  const quality = [...hub.members.values()].map((m) => {
    const scores = hub.room.peers.get(m.peerId)!.linkScores();
    return peerQuality(m.peerId, scores, m.clientStats);
  });
  return { participants: hub.participants(), quality };
};

async function until(what: string, check: () => boolean, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('room-wide notifications as changes', () => {
  it('a join, a link change and a leave each cost every member one small frame, not the room', async () => {
    const room = newRoomId();
    const members: TestClient[] = [];
    for (let i = 0; i < MEMBERS; i++) members.push(await enter(room, `m-${i}`));
    await sleep(3 * QUALITY_MS);
    const mark = members.map((c) => c.notifications.length);

    const late = await enter(room, 'late');
    await until('every member hears of the late joiner', () =>
      members.every((c, i) => framesOf(c, 'participants', mark[i]).length > 0),
    );
    await sleep(3 * QUALITY_MS);
    for (const [i, c] of members.entries()) {
      const frames = framesOf(c, 'participants', mark[i]);
      for (const f of frames) expect(participantsDeltaSchema.parse(f)).toEqual(f);
      expect(
        frames.flatMap((f) => f.participants.map((p) => p.peerId)),
        `member ${i} got the newcomer's row only`,
      ).toEqual(['late']);
      const quality = framesOf(c, 'networkQuality', mark[i]);
      for (const f of quality) expect(networkQualityDeltaSchema.parse(f)).toEqual(f);
      expect(
        quality.flatMap((f) => f.peers.map((p) => p.peerId)),
        'quality frames carry the newcomer only',
      ).toEqual(['late']);
    }

    const lateFull = framesOf(late, 'participants').filter((f) => f.full);
    expect(
      lateFull.map((f) => f.participants.length),
      'the newcomer gets the whole list once, in its stream',
    ).toEqual([MEMBERS + 1]);
    expect(framesOf(late, 'networkQuality').filter((f) => f.full).length, 'and the whole quality list').toBe(
      1,
    );

    // Nothing changes: several quality intervals pass without a frame.
    const quiet = members.map((c) => c.notifications.length);
    await sleep(5 * QUALITY_MS);
    expect(
      members.map((c, i) => c.notifications.length - quiet[i]!),
      'no frame while nothing changes',
    ).toEqual(members.map(() => 0));

    // One member's link changes: one row per interval, whatever the room's size.
    const before = members.map((c) => c.notifications.length);
    await members[3]!.request('reportStats', { rttMs: 700, packetLossPct: 12 });
    await until('the change reaches everyone', () =>
      members.every((c, i) => framesOf(c, 'networkQuality', before[i]).length > 0),
    );
    for (const [i, c] of members.entries()) {
      const rows = framesOf(c, 'networkQuality', before[i]).flatMap((f) => f.peers);
      expect(
        rows.map((r) => [r.peerId, r.quality]),
        `member ${i}: the one changed row`,
      ).toEqual([['m-3', 'bad']]);
    }

    const beforeLeave = members.map((c) => c.notifications.length);
    late.close();
    await until('the leave reaches everyone', () =>
      members.every(
        (c, i) =>
          framesOf(c, 'participants', beforeLeave[i]).some((f) => f.gone.includes('late')) &&
          framesOf(c, 'networkQuality', beforeLeave[i]).some((f) => f.gone.includes('late')),
      ),
    );
    for (const [i, c] of members.entries())
      expect(
        framesOf(c, 'participants', beforeLeave[i]).every((f) => f.participants.length === 0),
        'a leave sends no rows',
      ).toBe(true);

    // Every client's kept lists are the server's, row for row.
    const server = serverLists(room);
    for (const c of members) {
      expect(c.roster.participants).toEqual(server.participants);
      expect(c.roster.quality).toEqual(server.quality);
    }
    members.forEach((c) => c.close());
  });

  it('a client that resumes gets the missed changes replayed and its lists stay exact', async () => {
    const room = newRoomId();
    const a = await enter(room, 'a');
    const resumeKey = lastJoin.resumeKey;
    const b = await enter(room, 'b');
    a.drop();
    await a.closed;
    // While a is away: someone joins, b's link changes, someone leaves.
    const c = await enter(room, 'c');
    await b.request('reportStats', { rttMs: 400, packetLossPct: 5 });
    await sleep(3 * QUALITY_MS);
    const d = await enter(room, 'd');
    await sleep(2 * QUALITY_MS);
    d.close();
    await sleep(3 * QUALITY_MS);
    const outcome = await a.resume(
      t.wsUrl,
      resumeKey,
      (url, protocols) => new WebSocket(url, protocols) as unknown as WebSocketLike,
    );
    expect(outcome).toBe('resumed');
    await sleep(3 * QUALITY_MS);
    const server = serverLists(room);
    expect(a.roster.participants.map((p) => p.peerId)).toEqual(['a', 'b', 'c']);
    expect(a.roster.participants).toEqual(server.participants);
    expect(a.roster.quality).toEqual(server.quality);
    [a, b, c].forEach((x) => x.close());
  });
});

describe('a slow client: unsent changes merge instead of replacing each other', () => {
  const put = (
    d: DeferredSnapshots,
    data: NetworkQualityDelta | ParticipantsDelta,
    method: 'networkQuality' | 'participants',
  ) => d.put(method, { method, data, dataJson: JSON.stringify(data) });
  const q = (peerId: string, rttMs: number) => ({
    peerId,
    uplink: null,
    downlink: null,
    rttMs,
    packetLossPct: 0,
    quality: 'excellent' as const,
  });

  it('keeps every member changed in either frame, the newer row winning, and who left', () => {
    const d = new DeferredSnapshots();
    expect(put(d, { full: false, peers: [q('a', 1), q('b', 1)], gone: ['x'] }, 'networkQuality')).toBe(false);
    expect(put(d, { full: false, peers: [q('b', 2), q('x', 3)], gone: ['a'] }, 'networkQuality')).toBe(true);
    const [merged] = d.take();
    expect(merged!.dataJson, 'the pre-serialised text of one frame no longer applies').toBeUndefined();
    expect(merged!.data).toEqual({ full: false, peers: [q('b', 2), q('x', 3)], gone: ['a'] });
  });

  it('a full list absorbs later changes and stays full; a newer full list replaces everything', () => {
    const d = new DeferredSnapshots();
    put(d, { full: true, peers: [q('a', 1), q('b', 1)], gone: [] }, 'networkQuality');
    put(d, { full: false, peers: [q('c', 1)], gone: ['a'] }, 'networkQuality');
    expect(d.take()[0]!.data).toEqual({ full: true, peers: [q('b', 1), q('c', 1)], gone: [] });
    put(d, { full: false, peers: [q('c', 1)], gone: ['a'] }, 'networkQuality');
    put(d, { full: true, peers: [q('z', 9)], gone: [] }, 'networkQuality');
    expect(d.take()[0]!.data).toEqual({ full: true, peers: [q('z', 9)], gone: [] });
  });
});
