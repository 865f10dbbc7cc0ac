import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode } from '../test/helpers/node.ts';
import { fakeRtpParameters, mintFor, newRoomId, patientPerms } from '../test/helpers/tokens.ts';
import { connectClient, type TestClient } from '../test/helpers/ws-client.ts';
import { closeCode, MAX_ROOM_PARTICIPANTS, signalingProtocols, type JoinClaims } from './protocol/index.ts';

let t: Awaited<ReturnType<typeof startTestNode>>;
const clients: TestClient[] = [];
beforeAll(async () => {
  t = await startTestNode({ SFU_WORKERS: '2' }, { qualityIntervalMs: 100 });
});
afterAll(async () => {
  clients.forEach((c) => c.close());
  await t.node.stop();
});

async function enter(room: string, sub: string, over: Partial<JoinClaims> = {}) {
  const c = await connectClient(t.wsUrl, await mintFor(t.node, room, sub, over));
  clients.push(c);
  const { rtpCapabilities } = await c.request('getRouterRtpCapabilities', {});
  const joined = await c.request('join', { rtpCapabilities: rtpCapabilities as never });
  return { c, joined };
}
const produce = async (
  c: TestClient,
  kind: 'audio' | 'video',
  source: 'mic' | 'webcam' | 'screen' = kind === 'audio' ? 'mic' : 'webcam',
) => {
  const tr = await c.request('createTransport', { direction: 'send' });
  return c.request('produce', {
    transportId: tr.id,
    kind,
    rtpParameters: fakeRtpParameters(kind) as never,
    source,
  });
};

describe('waiting room', () => {
  it('a patient waits with no media; the doctor sees them, admits them; they get the room state', async () => {
    const room = newRoomId();
    const doctor = await enter(room, 'doc', {
      role: 'doctor',
      perms: ['publish', 'subscribe', 'admit', 'moderate'],
    });
    const { producerId } = await produce(doctor.c, 'video');
    const patient = await enter(room, 'pat', { perms: patientPerms, name: 'P' });
    expect(patient.joined).toMatchObject({ status: 'waiting', peers: [], producers: [], waiting: [] });
    const [waiting] = (await doctor.c.waitFor('waitingRoom')) as { waiting: { peerId: string }[] }[];
    expect(waiting!.waiting.map((w) => w.peerId)).toEqual(['pat']);
    // Nothing media-related works before admission, and the SFU has no peer for the patient.
    await expect(patient.c.request('createTransport', { direction: 'recv' })).rejects.toMatchObject({
      code: 'not_admitted',
    });
    await expect(patient.c.request('consume', { producerId })).rejects.toMatchObject({
      code: 'not_admitted',
    });
    expect(t.node.hub.rooms.get(room)!.room.peers.has('pat')).toBe(false);
    // A patient cannot admit anyone, themselves included.
    await expect(patient.c.request('admit', { peerId: 'pat' })).rejects.toMatchObject({ code: 'not_joined' });

    await doctor.c.request('admit', { peerId: 'pat' });
    const [state] = (await patient.c.waitFor('admitted')) as { producers: { producerId: string }[] }[];
    expect(state!.producers.map((p) => p.producerId)).toEqual([producerId]);
    await patient.c.request('createTransport', { direction: 'recv' });
    expect(await patient.c.request('consume', { producerId })).toMatchObject({ producerId });
    expect(await doctor.c.waitFor('peerJoined')).toEqual([
      { peerId: 'pat', role: 'patient', displayName: 'P' },
    ]);
    await expect(doctor.c.request('admit', { peerId: 'pat' })).rejects.toMatchObject({
      code: 'peer_not_found',
    });
  });

  it('deny closes the knocking connection (4003); admit all lets everyone else in', async () => {
    const room = newRoomId();
    const doctor = await enter(room, 'doc', { role: 'doctor' });
    const a = await enter(room, 'a', { perms: patientPerms });
    const b = await enter(room, 'b', { perms: patientPerms });
    const c = await enter(room, 'c', { perms: patientPerms });
    await doctor.c.request('deny', { peerId: 'a' });
    expect(await a.c.waitFor('denied')).toEqual([{ reason: 'denied' }]);
    expect(await a.c.closed).toEqual({ code: 4003, reason: 'denied' });
    expect(await doctor.c.request('admitAll', {})).toEqual({ admitted: 2 });
    await b.c.waitFor('admitted');
    await c.c.waitFor('admitted');
    expect([...t.node.hub.rooms.get(room)!.members.keys()].sort()).toEqual(['b', 'c', 'doc']);
  });

  it('a patient who arrives before the doctor waits, and the doctor sees them on joining', async () => {
    const room = newRoomId();
    await enter(room, 'early', { perms: patientPerms });
    const doctor = await enter(room, 'doc', { role: 'doctor' });
    expect(doctor.joined.waiting.map((w) => w.peerId)).toEqual(['early']);
  });
});

describe('moderation and media controls', () => {
  it('pause/resume propagate; a moderator mutes a participant; others cannot', async () => {
    const room = newRoomId();
    const doctor = await enter(room, 'doc', {
      role: 'doctor',
      perms: ['publish', 'subscribe', 'admit', 'moderate'],
    });
    const patient = await enter(room, 'pat');
    const mic = await produce(patient.c, 'audio');
    await patient.c.request('pauseProducer', { producerId: mic.producerId });
    expect(await doctor.c.waitFor('producerPaused')).toEqual([
      { peerId: 'pat', producerId: mic.producerId, by: 'pat' },
    ]);
    await patient.c.request('resumeProducer', { producerId: mic.producerId });
    await doctor.c.waitFor('producerResumed');

    await expect(
      patient.c.request('muteParticipant', { peerId: 'doc', source: 'mic' }),
    ).rejects.toMatchObject({ code: 'forbidden' });
    expect(await doctor.c.request('muteParticipant', { peerId: 'pat', source: 'mic' })).toEqual({ muted: 1 });
    expect(await patient.c.waitFor('mutedBy')).toEqual([
      { producerId: mic.producerId, by: 'doc', source: 'mic', selfUnmute: true },
    ]);
    expect(t.node.hub.rooms.get(room)!.room.findProducer(mic.producerId)!.paused).toBe(true);
    await expect(
      doctor.c.request('muteParticipant', { peerId: 'ghost', source: 'mic' }),
    ).rejects.toMatchObject({ code: 'peer_not_found' });
    await expect(doctor.c.request('pauseProducer', { producerId: mic.producerId })).rejects.toMatchObject({
      code: 'producer_not_found',
    });
  });

  it('restartIce gives new ICE credentials for own transports only', async () => {
    const room = newRoomId();
    const a = await enter(room, 'a');
    const b = await enter(room, 'b');
    const tr = await a.c.request('createTransport', { direction: 'recv' });
    const { iceParameters } = await a.c.request('restartIce', { transportId: tr.id });
    expect((iceParameters as { usernameFragment: string }).usernameFragment).not.toBe(
      (tr.iceParameters as { usernameFragment: string }).usernameFragment,
    );
    await expect(b.c.request('restartIce', { transportId: tr.id })).rejects.toMatchObject({
      code: 'transport_not_found',
    });
  });

  it(`holds at most ${MAX_ROOM_PARTICIPANTS} participants`, async () => {
    const room = newRoomId();
    for (let i = 0; i < MAX_ROOM_PARTICIPANTS; i++) await enter(room, `p${i}`);
    const extra = await connectClient(t.wsUrl, await mintFor(t.node, room, 'extra'));
    clients.push(extra);
    const { rtpCapabilities } = await extra.request('getRouterRtpCapabilities', {});
    await expect(extra.request('join', { rtpCapabilities: rtpCapabilities as never })).rejects.toMatchObject({
      code: 'room_full',
    });
  });

  it('takes its capacity from the join tokens (the consult type): fewer or more than the default', async () => {
    const joinWith = async (room: string, sub: string, cap: number) => {
      const c = await connectClient(t.wsUrl, await mintFor(t.node, room, sub, { cap }));
      clients.push(c);
      const { rtpCapabilities } = await c.request('getRouterRtpCapabilities', {});
      return c.request('join', { rtpCapabilities: rtpCapabilities as never });
    };
    const small = newRoomId();
    for (let i = 0; i < 3; i++) await joinWith(small, `s${i}`, 3);
    await expect(joinWith(small, 'extra', 3)).rejects.toMatchObject({ code: 'room_full' });
    const group = newRoomId();
    const size = MAX_ROOM_PARTICIPANTS + 4;
    for (let i = 0; i < size; i++) await joinWith(group, `g${i}`, size);
    expect(t.node.hub.rooms.get(group)!.members.size, 'more than the default fit').toBe(size);
    await expect(joinWith(group, 'extra', size)).rejects.toMatchObject({ code: 'room_full' });
    await expect(
      t.node.issuer.mint({ sub: 'x', room: group, role: 'guest', perms: [], cap: 201 }),
      'no token says more than the limit',
    ).rejects.toThrow();
  });
});

describe('network quality', () => {
  it('client reports are validated, need admission, and reach the room combined with server scores', async () => {
    const room = newRoomId();
    const doctor = await enter(room, 'doc', { role: 'doctor' });
    const waiting = await enter(room, 'w', { perms: patientPerms });
    await expect(waiting.c.request('reportStats', { rttMs: 20, packetLossPct: 0 })).rejects.toMatchObject({
      code: 'not_admitted',
    });
    await expect(doctor.c.request('reportStats', { rttMs: -1, packetLossPct: 120 })).rejects.toMatchObject({
      code: 'invalid_request',
    });
    const patient = await enter(room, 'pat');
    await patient.c.request('reportStats', { rttMs: 80, packetLossPct: 20 });
    await doctor.c.request('reportStats', { rttMs: 20, packetLossPct: 0 });
    const find = () =>
      (
        doctor.c.notifications.filter((n) => n.method === 'networkQuality').map((n) => n.data) as {
          peers: { peerId: string; quality: string; packetLossPct: number | null }[];
        }[]
      )
        .flatMap((d) => d.peers)
        .filter((p) => p.peerId === 'pat' && p.packetLossPct === 20);
    for (let i = 0; i < 50 && find().length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(find()[0]).toMatchObject({ peerId: 'pat', quality: 'bad', rttMs: 80, packetLossPct: 20 });
  });
});

describe('resumption', () => {
  it('a dropped socket resumes the same session: missed notifications replayed in order, re-sent requests answered once', async () => {
    const room = newRoomId();
    const a = await enter(room, 'a');
    const b = await enter(room, 'b');
    const seenBefore = a.c.notifications.length;
    const resumeKey = a.joined.resumeKey;
    a.c.drop();
    await a.c.closed;
    // While a is away: b produces twice, so a misses two notifications.
    const p1 = await produce(b.c, 'audio');
    const p2 = await produce(b.c, 'video');
    const raw = new WebSocket(
      t.wsUrl,
      signalingProtocols({ kind: 'resume', resumeKey, lastSeq: a.c.lastSeq }),
    );
    const frames: { type: string; method?: string; seq?: number; data?: { producerId: string } }[] = [];
    raw.on('message', (m) => frames.push(JSON.parse(String(m))));
    await new Promise((r) => raw.once('open', r));
    const announced = () => frames.filter((f) => f.method === 'newProducer');
    for (let i = 0; i < 100 && announced().length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(frames[0]).toMatchObject({ type: 'resumed' });
    // Participant-list snapshots are replayed between them; the producers come in order.
    expect(announced().map((f) => [f.method, f.data?.producerId])).toEqual([
      ['newProducer', p1.producerId],
      ['newProducer', p2.producerId],
    ]);
    const replayed = frames.slice(1).map((f) => f.seq!);
    expect(replayed).toEqual(replayed.map((_, i) => replayed[0]! + i));
    // The same peer, no rejoin: the SFU still has exactly one "a".
    expect([...t.node.hub.rooms.get(room)!.room.peers.keys()].sort()).toEqual(['a', 'b']);
    // A request re-sent with an id already answered is answered from cache, not executed again.
    const send = (id: number) =>
      raw.send(
        JSON.stringify({ type: 'request', id, method: 'createTransport', data: { direction: 'recv' } }),
      );
    const responseCount = async (n: number) => {
      for (let i = 0; i < 100 && frames.filter((f) => f.type === 'response').length < n; i++)
        await new Promise((r) => setTimeout(r, 10));
    };
    send(9001);
    send(9001); // re-sent while running: still one answer
    await responseCount(1);
    await new Promise((r) => setTimeout(r, 50));
    expect(frames.filter((f) => f.type === 'response')).toHaveLength(1);
    send(9001); // re-sent after the answer (as after a reconnect): the cached answer
    await responseCount(2);
    const responses = frames.filter((f) => f.type === 'response') as unknown as { data: { id: string } }[];
    expect(responses).toHaveLength(2);
    expect(responses[0]!.data.id).toBe(responses[1]!.data.id);
    expect(t.node.hub.rooms.get(room)!.room.peers.get('a')!.transports.size).toBe(1);
    expect(seenBefore).toBeGreaterThan(0);
    raw.close(closeCode('client_left'));
  });

  it('an unknown resume key is told session_expired (4005)', async () => {
    const raw = new WebSocket(
      t.wsUrl,
      signalingProtocols({ kind: 'resume', resumeKey: 'not-a-session', lastSeq: 3 }),
    );
    const closed = await new Promise<number>((r) => raw.once('close', (code) => r(code)));
    expect(closed).toBe(4005);
  });

  it('after the grace period the participant is gone and others are told', async () => {
    const grace = await startTestNode({}, { resumeGraceMs: 200 });
    try {
      const room = newRoomId();
      const a = await connectClient(grace.wsUrl, await mintFor(grace.node, room, 'a'));
      const b = await connectClient(grace.wsUrl, await mintFor(grace.node, room, 'b'));
      for (const c of [a, b]) {
        const { rtpCapabilities } = await c.request('getRouterRtpCapabilities', {});
        await c.request('join', { rtpCapabilities: rtpCapabilities as never });
      }
      a.drop();
      expect(await b.waitFor('peerLeft')).toEqual([{ peerId: 'a' }]);
      b.close();
    } finally {
      await grace.node.stop();
    }
  });
});

it('a media worker killed with SIGKILL: the room moves to a live worker and everyone renegotiates', async () => {
  const room = newRoomId();
  const a = await enter(room, 'a');
  const b = await enter(room, 'b');
  await produce(a.c, 'audio');
  const hubRoom = t.node.hub.rooms.get(room)!;
  const deadWorker = hubRoom.room.workerIndex;
  process.kill(t.node.pool.workers[deadWorker]!.worker.pid, 'SIGKILL');
  expect(await a.c.waitFor('mediaReset')).toEqual([{ reason: 'worker_died' }]);
  await b.c.waitFor('mediaReset');
  expect(hubRoom.room.workerIndex).not.toBe(deadWorker);
  expect([...hubRoom.room.peers.keys()].sort()).toEqual(['a', 'b']);
  // Renegotiation works on the new worker.
  const again = await produce(a.c, 'audio');
  const [announced] = (await b.c.waitFor('newProducer', 2)).slice(-1) as { producerId: string }[];
  expect(announced!.producerId).toBe(again.producerId);
  expect(t.node.hub.rooms.get(room)).toBe(hubRoom);
});
